/**
 * routes[]: each route's references and patterns checked, then built with its
 * defaults: match, rewrite, limits, retirement, decline, shadow, guard, flag and ramp.
 */
import { METHODS } from 'node:http'
import type { Document, LineCounter, Node as YamlNode } from 'yaml'
import { DEFAULTS } from './defaults.js'
import { parseHostPattern, parsePathPattern } from './patterns.js'
import { unknownBackend } from './backends.js'
import { rampConfig, withGateSet } from './ramp-plan.js'
import { httpUrl, type Section } from './section.js'
import type { Path } from './problems.js'
import type { RawConfig, RawGuard, RawRoute } from './raw.js'
import type { BackendConfig, ClientLimits, GuardConfig, RetireConfig, RouteConfig } from './types.js'

/** Headers never compared by shadow traffic: their values would be kept in /parity samples. */
const CREDENTIAL_HEADERS = new Set(['set-cookie', 'cookie', 'authorization', 'proxy-authorization'])

// Only what Node's HTTP parser accepts can ever arrive to be matched.
const KNOWN_METHODS = new Set(METHODS)

/** What every route is read against. */
export interface RouteContext {
  readonly raw: RawConfig
  readonly backends: ReadonlyMap<string, BackendConfig>
  readonly client: ClientLimits
  readonly doc: Document
  readonly lines: LineCounter
}

export function normalizeRoutes (ctx: RouteContext, s: Section): readonly RouteConfig[] {
  const names = new Map<string, number>()
  return Object.freeze(ctx.raw.routes.map((r, index) => {
    const first = names.get(r.name)
    if (first !== undefined) s.problems.add(['routes', index, 'name'], `duplicate route name "${r.name}" (first used by routes[${first}])`)
    else names.set(r.name, index)
    checkRoute(r, ['routes', index], ctx, s)
    return routeConfig(r, index, ctx, s)
  }))
}

function checkRoute (r: RawRoute, at: Path, ctx: RouteContext, s: Section): void {
  const known = (name: string, path: Path): void => {
    if (!ctx.backends.has(name)) s.problems.add(path, unknownBackend(name, ctx.backends))
  }
  known(r.backend, [...at, 'backend'])
  if (r.shadow !== undefined) known(r.shadow.backend, [...at, 'shadow', 'backend'])
  checkMatch(r, at, s)
  r.shadow?.methods?.forEach((m, i) => {
    if (!KNOWN_METHODS.has(m.toUpperCase())) s.problems.add([...at, 'shadow', 'methods', i], `unknown HTTP method "${m}"`)
  })
  r.shadow?.compare?.headers?.forEach((h, i) => {
    if (CREDENTIAL_HEADERS.has(h.toLowerCase())) s.problems.add([...at, 'shadow', 'compare', 'headers', i], `"${h}" carries credentials and cannot be compared`)
  })
  if (r.decline !== undefined && r.flag === undefined) s.problems.add([...at, 'decline'], 'needs a flag: only a new backend declines, to the route\'s baseline')
  if (r.flag === undefined) return
  if (ctx.raw.flags === undefined) s.problems.add([...at, 'flag'], 'names a flag but no flags: source is configured')
  if (r.flag.backend === undefined && r.flag.variants === undefined) s.problems.add([...at, 'flag'], 'needs backend (used when the flag is on) or variants (variant name → backend)')
  if (r.flag.backend !== undefined) known(r.flag.backend, [...at, 'flag', 'backend'])
  for (const [variant, b] of Object.entries(r.flag.variants ?? {})) known(b, [...at, 'flag', 'variants', variant])
}

function checkMatch (r: RawRoute, at: Path, s: Section): void {
  const pathError = parsePathPattern(r.match.path).error
  if (pathError !== undefined) s.problems.add([...at, 'match', 'path'], pathError)
  const hostError = r.match.host === undefined ? undefined : parseHostPattern(r.match.host).error
  if (hostError !== undefined) s.problems.add([...at, 'match', 'host'], hostError)
  r.match.methods?.forEach((m, i) => {
    if (!KNOWN_METHODS.has(m.toUpperCase())) s.problems.add([...at, 'match', 'methods', i], `unknown HTTP method "${m}"`)
  })
  if (r.rewrite?.stripPrefix !== undefined && !pathCoveredBy(r.match.path, r.rewrite.stripPrefix)) {
    s.problems.add([...at, 'rewrite', 'stripPrefix'], `"${r.rewrite.stripPrefix}" is not a prefix of every path matched by "${r.match.path}"`)
  }
}

function routeConfig (r: RawRoute, index: number, ctx: RouteContext, s: Section): RouteConfig {
  const at = ['routes', index]
  const keyNode = ctx.doc.getIn(['routes', index], true) as YamlNode | undefined
  return Object.freeze({
    name: r.name,
    index,
    line: ctx.lines.linePos(keyNode?.range?.[0] ?? 0).line,
    match: matchConfig(r.match),
    backend: r.backend,
    ...(r.rewrite === undefined ? {} : { rewrite: Object.freeze({ ...r.rewrite }) }),
    maxBodySize: s.sz([...at, 'maxBodySize'], r.maxBodySize, ctx.client.maxBodySize),
    websocket: r.websocket ?? DEFAULTS.route.websocket,
    failover: r.failover ?? DEFAULTS.route.failover,
    ...(r.retire === undefined ? {} : { retire: retireConfig(r.retire, [...at, 'retire'], s) }),
    ...(r.decline === undefined ? {} : { decline: Object.freeze({ status: new Set(r.decline.status ?? [404]), header: (r.decline.header ?? 'x-strangler-decline').toLowerCase(), maxBodySize: s.sz([...at, 'decline', 'maxBodySize'], r.decline.maxBodySize, 1_048_576) }) }),
    shadow: r.shadow === undefined ? undefined : shadowConfig(r.shadow, [...at, 'shadow'], s),
    guard: r.flag === undefined || r.guard === false || ctx.raw.guard === false ? undefined : guardConfig(ctx.raw.guard, r.guard, s),
    flag: r.flag === undefined
      ? undefined
      : Object.freeze({ name: r.flag.name, backend: r.flag.backend, variants: r.flag.variants === undefined ? undefined : Object.freeze({ ...r.flag.variants }) }),
    ramp: r.ramp === undefined ? undefined : rampConfig(withGateSet(r.ramp, ctx.raw.gateSets, [...at, 'ramp'], s), r.flag?.backend !== undefined, [...at, 'ramp'], s)
  })
}

function matchConfig (m: RawRoute['match']): RouteConfig['match'] {
  const methods = m.methods?.map((x) => x.toUpperCase())
  const headers = m.headers === undefined
    ? undefined
    : Object.freeze(Object.fromEntries(Object.entries(m.headers).map(([k, v]) => [k.toLowerCase(), v])))
  return Object.freeze({
    path: m.path,
    ...(methods === undefined ? {} : { methods: Object.freeze(methods) }),
    ...(m.host === undefined ? {} : { host: m.host.toLowerCase() }),
    ...(headers === undefined ? {} : { headers })
  })
}

function shadowConfig (sh: NonNullable<RawRoute['shadow']>, at: Path, s: Section): NonNullable<RouteConfig['shadow']> {
  const d = DEFAULTS.shadow
  return Object.freeze({
    backend: sh.backend,
    sampleRate: sh.sampleRate ?? d.sampleRate,
    methods: Object.freeze((sh.methods ?? d.methods).map((m) => m.toUpperCase())),
    maxBodySize: s.sz([...at, 'maxBodySize'], sh.maxBodySize, d.maxBodySize),
    maxConcurrent: sh.maxConcurrent ?? d.maxConcurrent,
    timeout: s.dur(sh.timeout, d.timeout),
    learnNoise: sh.learnNoise ?? d.learnNoise,
    recordValues: sh.recordValues ?? d.recordValues,
    compare: Object.freeze({
      headers: Object.freeze((sh.compare?.headers ?? d.compareHeaders).map((h) => h.toLowerCase())),
      ignore: new Set(sh.compare?.ignore ?? []),
      unordered: new Set(sh.compare?.unorderedArrays ?? []),
      text: sh.compare?.text ?? d.text,
      errorBodies: sh.compare?.errorBodies ?? false
    })
  })
}

/** Defaults, then the top-level guard:, then the route's own guard:. */
function guardConfig (top: RawGuard | undefined, route: RawGuard | undefined, s: Section): GuardConfig {
  const d = DEFAULTS.guard
  const g = { ...top, ...route }
  return Object.freeze({
    window: s.dur(g.window, d.window),
    minRequests: g.minRequests ?? d.minRequests,
    maxErrorRatioIncrease: g.maxErrorRatioIncrease ?? d.maxErrorRatioIncrease,
    maxLatencyRatio: g.maxLatencyRatio ?? d.maxLatencyRatio,
    minLatencyIncrease: s.dur(g.minLatencyIncrease, d.minLatencyIncrease),
    cooldown: s.dur(g.cooldown, d.cooldown),
    probeFraction: g.probeFraction ?? d.probeFraction,
    probeRequests: g.probeRequests ?? d.probeRequests,
    minClients: g.minClients ?? d.minClients,
    maxClientShare: g.maxClientShare ?? d.maxClientShare,
    disableFlag: g.disableFlag ?? d.disableFlag
  })
}

/** True when every path the pattern can match starts with `prefix` on a segment boundary. */
function pathCoveredBy (pattern: string, prefix: string): boolean {
  const literal = pattern.replace(/\/?\*$/, '').split('/:')[0] as string
  const p = prefix.replace(/\/$/, '')
  return literal === p || literal.startsWith(p + '/')
}

/** routes[].retire: dates as ISO 8601, the sunset not before the deprecation, the link an http(s) URL. */
function retireConfig (r: NonNullable<RawRoute['retire']>, at: Path, s: Section): RetireConfig {
  const date = (key: 'deprecation' | 'sunset'): number | undefined => {
    const text = r[key]
    if (text === undefined) return undefined
    const ms = /^\d{4}-\d\d-\d\d(T.*)?$/.test(text) ? Date.parse(text) : NaN
    if (Number.isNaN(ms)) s.problems.add([...at, key], `"${text}" is not a date such as 2027-03-31 or 2027-03-31T00:00:00Z`)
    return Number.isNaN(ms) ? undefined : ms
  }
  const deprecation = date('deprecation')
  const sunset = date('sunset')
  if (deprecation !== undefined && sunset !== undefined && sunset < deprecation) s.problems.add([...at, 'sunset'], 'is before the deprecation')
  if (r.link !== undefined) httpUrl(r.link, [...at, 'link'], s.problems)
  return Object.freeze({ deprecation, sunset, link: r.link })
}
