/**
 * Declared routes × routes.yaml × traffic, one row per method and path template:
 * what is left on legacy, what the new service has that nobody routes to, what
 * routes.yaml sends to a backend that does not declare it, what is migrating,
 * migrated, ready to retire, and what nobody has called for a long time.
 * Pure: every input is passed in, so /coverage, the CLI, the status page and
 * `validate` agree.
 */
import type { Config, RouteConfig } from '../config/config.js'
import { legacyBackends, newBackends } from '../config/roles.js'
import { endpointKey, samplePath, type Endpoint } from './endpoint.js'
import type { Declaration } from './declared.js'
import type { EndpointTraffic } from './traffic.js'

export type CoverageState = 'legacy-only' | 'ported-not-routed' | 'routed-not-implemented' | 'migrating' | 'migrated' | 'ready' | 'unused' | 'no-route'

/** The order rows and counts are shown in: what needs a person first. */
export const COVERAGE_STATES: readonly CoverageState[] = ['routed-not-implemented', 'no-route', 'ported-not-routed', 'legacy-only', 'unused', 'migrating', 'migrated', 'ready']

/** A route's state as the status page says it (status/report.ts's routeState, plus readiness). */
export type RouteMigrationState = 'legacy' | 'migrating' | 'migrated' | 'ready'

export interface CoverageRow {
  readonly method: string
  readonly template: string
  readonly state: CoverageState
  /** "legacy only", "ported, not routed", "unused for 41 days"… */
  readonly stateText: string
  readonly declaredBy: readonly string[]
  readonly route: string | null
  /** Backends the route sends this endpoint to now. */
  readonly servedBy: readonly string[]
  /** For routed-not-implemented: the backends that get it and do not declare it. */
  readonly missingOn: readonly string[]
  readonly requests: number
  readonly lastSeen: string | null
}

export interface CoverageReport {
  readonly generatedAt: string
  /** Since when traffic has been counted. */
  readonly since: string
  readonly unusedAfterDays: number
  readonly sources: ReadonlyArray<Pick<Declaration, 'backend' | 'kind' | 'location' | 'error' | 'loadedAt'> & { readonly endpoints: number }>
  readonly counts: Readonly<Record<CoverageState, number>>
  readonly endpoints: number
  /** Share of declared endpoints migrated or ready to retire; null when none are declared. */
  readonly migratedShare: number | null
  readonly rows: readonly CoverageRow[]
}

export interface CoverageInputs {
  readonly config: Config
  readonly declarations: readonly Declaration[]
  /** The route routes.yaml picks for a method and path (no host or header conditions). */
  readonly routeFor: (method: string, path: string) => RouteConfig | undefined
  readonly stateOf: (route: RouteConfig) => RouteMigrationState
  readonly traffic: (key: string) => EndpointTraffic
  readonly since: number
  readonly now: number
}

const DAY_MS = 86_400_000

const TEXT: Record<CoverageState, string> = {
  'legacy-only': 'legacy only',
  'ported-not-routed': 'ported, not routed',
  'routed-not-implemented': 'routed, not implemented',
  'no-route': 'no route',
  migrating: 'migrating',
  migrated: 'migrated',
  ready: 'ready to retire',
  unused: 'unused'
}

/** Which backends the route sends requests to in its current state. */
export function servingBackends (route: RouteConfig, state: RouteMigrationState): readonly string[] {
  if (state === 'legacy') return [route.backend]
  if (state === 'migrating') return [route.backend, ...newBackends(route)]
  return route.flag === undefined ? [route.backend] : newBackends(route)
}

interface Declared { readonly endpoint: Endpoint, readonly by: string[] }

function declaredEndpoints (declarations: readonly Declaration[]): Map<string, Declared> {
  const all = new Map<string, Declared>()
  for (const d of declarations) {
    for (const e of d.endpoints) {
      const key = endpointKey(e.method, e.template)
      const seen = all.get(key)
      if (seen === undefined) all.set(key, { endpoint: e, by: [d.backend] })
      else if (!seen.by.includes(d.backend)) seen.by.push(d.backend)
    }
  }
  return all
}

export function reconcile (i: CoverageInputs): CoverageReport {
  const legacy = legacyBackends(i.config)
  const known = new Set(i.declarations.filter((d) => d.error === null).map((d) => d.backend))
  const unusedAfter = i.config.coverage?.unusedAfter ?? 30 * DAY_MS
  const rows: CoverageRow[] = []
  for (const [key, { endpoint, by }] of declaredEndpoints(i.declarations)) {
    const route = i.routeFor(endpoint.method, samplePath(endpoint.template))
    const traffic = i.traffic(key)
    const routeState = route === undefined ? undefined : i.stateOf(route)
    const servedBy = route === undefined || routeState === undefined ? [] : servingBackends(route, routeState)
    const missingOn = servedBy.filter((b) => known.has(b) && !by.includes(b))
    let state: CoverageState
    if (route === undefined || routeState === undefined) state = 'no-route'
    else if (missingOn.length > 0) state = 'routed-not-implemented'
    else if (routeState !== 'legacy') state = routeState
    else state = by.some((b) => !legacy.has(b)) ? 'ported-not-routed' : 'legacy-only'
    const quietSince = traffic.last ?? i.since
    const unused = (state === 'legacy-only' || state === 'ported-not-routed') && i.now - quietSince >= unusedAfter
    if (unused) state = 'unused'
    rows.push({
      method: endpoint.method,
      template: endpoint.template,
      state,
      stateText: unused ? `unused for ${Math.floor((i.now - quietSince) / DAY_MS)} days` : state === 'routed-not-implemented' ? `routed, not implemented by ${missingOn.join(', ')}` : TEXT[state],
      declaredBy: by,
      route: route?.name ?? null,
      servedBy,
      missingOn,
      requests: traffic.requests,
      lastSeen: traffic.last === undefined ? null : new Date(traffic.last).toISOString()
    })
  }
  rows.sort((a, b) => COVERAGE_STATES.indexOf(a.state) - COVERAGE_STATES.indexOf(b.state) || a.template.localeCompare(b.template) || a.method.localeCompare(b.method))
  const counts = Object.fromEntries(COVERAGE_STATES.map((s) => [s, rows.filter((r) => r.state === s).length])) as Record<CoverageState, number>
  return {
    generatedAt: new Date(i.now).toISOString(),
    since: new Date(i.since).toISOString(),
    unusedAfterDays: unusedAfter / DAY_MS,
    sources: i.declarations.map((d) => ({ backend: d.backend, kind: d.kind, location: d.location, error: d.error, loadedAt: d.loadedAt, endpoints: d.endpoints.length })),
    counts,
    endpoints: rows.length,
    migratedShare: rows.length === 0 ? null : (counts.migrated + counts.ready) / rows.length,
    rows
  }
}

/** What the status page shows of coverage. */
export type CoverageSummary = Pick<CoverageReport, 'counts' | 'endpoints' | 'migratedShare' | 'since'> & {
  readonly sourceErrors: ReadonlyArray<{ readonly backend: string, readonly error: string }>
}

export function summarize (r: CoverageReport): CoverageSummary {
  return {
    counts: r.counts,
    endpoints: r.endpoints,
    migratedShare: r.migratedShare,
    since: r.since,
    sourceErrors: r.sources.flatMap((s) => s.error === null ? [] : [{ backend: s.backend, error: s.error }])
  }
}
