/**
 * Route table: compiled from Config, immutable, matched per request.
 *
 * "Most specific wins", decided by comparing, in order:
 *   1. host: exact host > "*.domain" (longer domain first) > no host condition
 *   2. path, position by position: literal segment > ":param" > end of an exact path > "*"
 *   3. number of header conditions (more wins)
 *   4. a method list > no method condition
 *   5. order in the file (earlier wins)
 * The table is sorted once by that order; the first route that matches is the most specific.
 * Routes are indexed by their first path segment, so matching cost follows the routes
 * under one prefix, not the size of the table.
 * Never does I/O.
 */
import type { Config, RouteConfig } from './config.js'
import {
  parsePathPattern, parseHostPattern, matchPath, matchHost, segmentRank, Seg,
  type PathPattern, type HostPattern
} from './patterns.js'

export interface Route {
  readonly config: RouteConfig
  readonly name: string
  readonly backend: string
  readonly path: PathPattern
  readonly host?: HostPattern
  readonly methods?: ReadonlySet<string>
  readonly headers?: ReadonlyArray<readonly [string, string | true]>
}

export interface MatchInput {
  readonly method: string
  /** Host header, any case, port allowed. */
  readonly host: string | undefined
  /** From routingSegments(). */
  readonly segs: readonly string[]
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
}

export interface RouteTable {
  readonly version: string
  /** Routes in match order (most specific first). */
  readonly routes: readonly Route[]
  match (input: MatchInput): Route | undefined
}

function compileRoute (config: RouteConfig): Route {
  const path = parsePathPattern(config.match.path).pattern
  if (path === undefined) throw new Error(`route ${config.name}: invalid path survived validation`)
  const host = config.match.host === undefined ? undefined : parseHostPattern(config.match.host).pattern
  return Object.freeze({
    config,
    name: config.name,
    backend: config.backend,
    path,
    ...(host === undefined ? {} : { host }),
    ...(config.match.methods === undefined ? {} : { methods: new Set(config.match.methods) }),
    ...(config.match.headers === undefined ? {} : { headers: Object.entries(config.match.headers) })
  })
}

function hostRank (r: Route): number {
  if (r.host === undefined) return 0
  return r.host.wildcard ? 1 + r.host.value.length / 1e4 : 2
}

/** Negative when a is more specific than b. A total order, so sorting is deterministic. */
export function compareSpecificity (a: Route, b: Route): number {
  const h = hostRank(b) - hostRank(a)
  if (h !== 0) return h
  const n = Math.max(a.path.segments.length, b.path.segments.length) + 1
  for (let i = 0; i < n; i++) {
    const ra = segmentRank(a.path, i)
    const rb = segmentRank(b.path, i)
    if (ra !== rb) return rb - ra
    if (ra === Seg.Literal) {
      // Two different literals never match the same request; order them stably.
      const la = a.path.segments[i] as string
      const lb = b.path.segments[i] as string
      if (la !== lb) return la < lb ? -1 : 1
    }
  }
  const hd = (b.headers?.length ?? 0) - (a.headers?.length ?? 0)
  if (hd !== 0) return hd
  const m = (b.methods === undefined ? 0 : 1) - (a.methods === undefined ? 0 : 1)
  if (m !== 0) return m
  return a.config.index - b.config.index
}

export function hostWithoutPort (host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']')
    return host.slice(0, end + 1).toLowerCase()
  }
  const colon = host.indexOf(':')
  return (colon === -1 ? host : host.slice(0, colon)).toLowerCase()
}

function routeMatches (r: Route, input: MatchInput, host: string): boolean {
  if (r.methods !== undefined && !r.methods.has(input.method)) return false
  if (r.host !== undefined && !matchHost(r.host, host)) return false
  if (!matchPath(r.path, input.segs)) return false
  if (r.headers !== undefined) {
    for (const [name, want] of r.headers) {
      const got = input.headers[name]
      if (got === undefined) return false
      if (want !== true && (Array.isArray(got) ? !got.includes(want) : got !== want)) return false
    }
  }
  return true
}

export function buildRouteTable (config: Config): RouteTable {
  const routes = Object.freeze(config.routes.map(compileRoute).sort(compareSpecificity))
  // Index by the first path segment: a route whose pattern starts with a literal can
  // only match requests with that first segment. Each list keeps the global order, so
  // its first match is still the most specific route.
  const generic = routes.filter((r) => typeof r.path.segments[0] !== 'string')
  const byFirst = new Map<string, Route[]>()
  for (const r of routes) {
    const first = r.path.segments[0]
    if (typeof first === 'string' && !byFirst.has(first)) {
      byFirst.set(first, routes.filter((x) => x.path.segments[0] === first || typeof x.path.segments[0] !== 'string'))
    }
  }
  return Object.freeze({
    version: config.version,
    routes,
    match (input: MatchInput): Route | undefined {
      const host = input.host === undefined ? '' : hostWithoutPort(input.host)
      const candidates = byFirst.get(input.segs[0] as string) ?? generic
      for (let i = 0; i < candidates.length; i++) {
        const r = candidates[i] as Route
        if (routeMatches(r, input, host)) return r
      }
      return undefined
    }
  })
}
