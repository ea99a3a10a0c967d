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
 * Routes are indexed by their leading path segments, so matching cost follows the
 * routes that share a request's prefix, not the size of the table.
 * Never does I/O.
 */
import type { Config, RouteConfig } from '../config/config.js'
import {
  parsePathPattern, parseHostPattern, matchPath, matchHost, segmentRank, Seg,
  type PathPattern, type HostPattern
} from '../config/patterns.js'

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

/**
 * A prefix index over the sorted routes: at depth d, routes whose d-th segment is a
 * literal are split by it; routes with a parameter, wildcard or end there go with every
 * branch. Each list keeps the global order, so its first match is still the most
 * specific route. Small lists are scanned directly.
 */
interface IndexNode {
  readonly list: readonly Route[]
  readonly byLiteral: ReadonlyMap<string, IndexNode> | undefined
  readonly other: IndexNode | undefined
}

const LEAF_SIZE = 16
const MAX_DEPTH = 4

function buildIndex (list: readonly Route[], depth: number): IndexNode {
  if (list.length <= LEAF_SIZE || depth >= MAX_DEPTH) return { list, byLiteral: undefined, other: undefined }
  const isLiteral = (r: Route): boolean => typeof r.path.segments[depth] === 'string'
  const generic = list.filter((r) => !isLiteral(r))
  const literals = new Set(list.filter(isLiteral).map((r) => r.path.segments[depth] as string))
  if (literals.size <= 1 && generic.length === 0) return { list, byLiteral: undefined, other: undefined }
  const byLiteral = new Map<string, IndexNode>()
  for (const lit of literals) byLiteral.set(lit, buildIndex(list.filter((r) => r.path.segments[depth] === lit || !isLiteral(r)), depth + 1))
  return { list, byLiteral, other: buildIndex(generic, depth + 1) }
}

export function buildRouteTable (config: Config): RouteTable {
  const routes = Object.freeze(config.routes.map(compileRoute).sort(compareSpecificity))
  const index = buildIndex(routes, 0)
  return Object.freeze({
    version: config.version,
    routes,
    match (input: MatchInput): Route | undefined {
      const host = input.host === undefined ? '' : hostWithoutPort(input.host)
      let node = index
      for (let d = 0; node.byLiteral !== undefined; d++) {
        const seg = input.segs[d]
        node = (seg === undefined ? undefined : node.byLiteral.get(seg)) ?? (node.other as IndexNode)
      }
      return firstMatch(node.list, input, host)
    }
  })
}

/** The first route of a list (in specificity order) that matches; `host` without port, lower case. */
export function firstMatch (list: readonly Route[], input: MatchInput, host: string): Route | undefined {
  for (let i = 0; i < list.length; i++) {
    const r = list[i] as Route
    if (routeMatches(r, input, host)) return r
  }
  return undefined
}
