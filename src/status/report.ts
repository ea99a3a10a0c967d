/**
 * The migration's status as one report: per route its state (legacy, migrating at N %,
 * migrated, ready to retire), live split, rollout, ramp step, guard, parity, both
 * backends' recent figures side by side, latest timeline events and retirement
 * readiness; at the top the share of all traffic on new backends and routes migrated.
 * Pure: every input is passed in, so /status, /status.json and the CLI agree.
 */
import type { Config, RouteConfig } from '../config/config.js'
import type { FeatureInterface } from '../flags/unleash-internals.js'
import { rolloutOf } from '../flags/rollout.js'
import { legacyBackends, newBackends } from '../config/roles.js'
import type { RampView } from '../ramp/view.js'
import type { SideImpact, TimelineEvent } from '../timeline/event.js'
import { readiness, type Readiness, type RouteEvidence } from './readiness.js'
import type { InventoryEntry } from './inventory.js'
import type { CoverageSummary } from '../coverage/reconcile.js'

export type RouteState = 'legacy' | 'migrating' | 'migrated' | 'ready'

export interface BackendFigures extends SideImpact {
  readonly backend: string
  readonly role: 'legacy' | 'new'
}

export interface RouteStatus {
  readonly name: string
  readonly path: string
  readonly host: string | null
  readonly baseline: string
  readonly newBackends: readonly string[]
  readonly flag: string | null
  readonly state: RouteState
  /** "legacy", "migrating at 30 %", "migrated", "ready to retire" */
  readonly stateText: string
  readonly rollout: number | null
  /** Share of the route's requests on new backends over the last 5 minutes. */
  readonly liveSplit: number | null
  readonly ramp: { readonly percent: number, readonly next: number | null, readonly state: string, readonly reason: string } | null
  readonly guard: string | null
  readonly parity: number | null
  readonly backends: readonly BackendFigures[]
  readonly events: ReadonlyArray<Pick<TimelineEvent, 'time' | 'kind' | 'summary'>>
  readonly readiness: Readiness | null
  /** routes[].retire: when legacy's side is deprecated and sunset (ISO), and where to read about it. */
  readonly retire: { readonly deprecation: string | null, readonly sunset: string | null, readonly link: string | null } | null
}

export interface StatusReport {
  readonly generatedAt: string
  readonly configVersion: string
  /** The window of the backends' figures (ms). */
  readonly windowMs: number
  readonly overall: {
    readonly newShare: number | null
    readonly requests: number
    readonly routes: number
    readonly migrated: number
    readonly ready: number
  }
  readonly routes: readonly RouteStatus[]
  readonly inventory: { readonly entries: readonly InventoryEntry[], readonly other: number, readonly notFound: number, readonly failed: number }
  /** Declared endpoints reconciled with routes.yaml and traffic; null without coverage: in routes.yaml. */
  readonly coverage: CoverageSummary | null
}

export interface StatusInputs {
  readonly config: Config
  readonly now: number
  readonly definition: (flag: string) => FeatureInterface | undefined
  readonly liveSplit: ReadonlyMap<string, number>
  readonly guard: (route: string) => string | undefined
  readonly parity: ReadonlyMap<string, number>
  readonly ramp: (route: string) => RampView | undefined
  readonly recent: { readonly windowMs: number, readonly routes: Readonly<Record<string, Readonly<Record<string, SideImpact>>>> }
  readonly events: (route: string) => readonly TimelineEvent[]
  readonly evidence: (route: string) => RouteEvidence | undefined
  readonly inventory: { readonly entries: readonly InventoryEntry[], readonly other: number, readonly notFound: number, readonly failed: number }
}

/** Where the route stands, from the route table and the flag as the proxy evaluates it. */
export function routeState (r: RouteConfig, legacy: ReadonlySet<string>, definition: StatusInputs['definition']): { state: Exclude<RouteState, 'ready'>, rollout: number | null } {
  if (r.flag === undefined) return { state: legacy.has(r.backend) ? 'legacy' : 'migrated', rollout: null }
  const def = definition(r.flag.name)
  if (def === undefined || !def.enabled) return { state: 'legacy', rollout: def === undefined ? null : 0 }
  const rollout = rolloutOf(def) ?? null
  if (rollout === 100) return { state: 'migrated', rollout }
  if (rollout === 0) return { state: 'legacy', rollout }
  return { state: 'migrating', rollout }
}

export function buildStatus (i: StatusInputs): StatusReport {
  const legacy = legacyBackends(i.config)
  let requests = 0
  let onNew = 0
  const routes = i.config.routes.map((r): RouteStatus => {
    const { state: base, rollout } = routeState(r, legacy, i.definition)
    const recent = i.recent.routes[r.name] ?? {}
    const backends: BackendFigures[] = Object.entries(recent).map(([backend, f]) => ({ backend, role: legacy.has(backend) ? 'legacy' : 'new', ...f }))
    for (const b of backends) {
      requests += b.requests
      if (b.role === 'new') onNew += b.requests
    }
    const fresh = backends.find((b) => b.role === 'new' && b.requests > 0)
    const ready = base === 'migrated'
      ? readiness(i.config.retirement, true, r.shadow !== undefined, i.evidence(r.name), fresh === undefined ? undefined : { requests: fresh.requests, errorRatio: fresh.errorRatio, p99: fresh.p99 }, i.now)
      : null
    const state: RouteState = ready?.ready === true ? 'ready' : base
    const ramp = i.ramp(r.name)
    return {
      name: r.name,
      path: r.match.path,
      host: r.match.host ?? null,
      baseline: r.backend,
      newBackends: newBackends(r),
      flag: r.flag?.name ?? null,
      state,
      stateText: state === 'migrating' ? (rollout === null ? 'migrating' : `migrating at ${rollout} %`) : state === 'ready' ? 'ready to retire' : state,
      rollout,
      liveSplit: i.liveSplit.get(r.name) ?? null,
      ramp: ramp === undefined ? null : { percent: ramp.percent, next: ramp.nextPercent ?? null, state: ramp.state, reason: ramp.reason },
      guard: i.guard(r.name) ?? null,
      parity: i.parity.get(r.name) ?? null,
      backends: backends.sort((a, b) => (a.role === b.role ? a.backend.localeCompare(b.backend) : a.role === 'legacy' ? -1 : 1)),
      events: i.events(r.name).slice(-3).reverse().map((e) => ({ time: e.time, kind: e.kind, summary: e.summary })),
      readiness: ready,
      retire: r.retire === undefined ? null : { deprecation: iso(r.retire.deprecation), sunset: iso(r.retire.sunset), link: r.retire.link ?? null }
    }
  })
  return {
    generatedAt: new Date(i.now).toISOString(),
    configVersion: i.config.version,
    windowMs: i.recent.windowMs,
    overall: {
      newShare: requests === 0 ? null : onNew / requests,
      requests,
      routes: routes.length,
      migrated: routes.filter((r) => r.state === 'migrated' || r.state === 'ready').length,
      ready: routes.filter((r) => r.state === 'ready').length
    },
    routes,
    inventory: i.inventory,
    coverage: null
  }
}

function iso (ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString()
}
