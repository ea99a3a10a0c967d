/**
 * routes.yaml → a validated, defaulted, frozen Config.
 * Every problem in a file is reported at once, each as file:line:column and field.
 * This module reads files but never starts anything; watching lives in reload.ts.
 */
import { readFileSync } from 'node:fs'
import { dirname, resolve as resolvePath } from 'node:path'
import { createHash } from 'node:crypto'
import { isIP } from 'node:net'
import { Ajv, type ErrorObject } from 'ajv'
import { LineCounter, parseDocument, isMap, isSeq, isScalar, isPair, type Document, type Node as YamlNode } from 'yaml'
import proxyAddr from 'proxy-addr'
import { ConfigError, Errors, ProxyError, type ConfigProblem } from '../errors.js'
import { configSchema } from './schema.js'
import { parseDuration, parseSize } from './units.js'
import { parsePathPattern, parseHostPattern } from '../routing/patterns.js'

export interface Timeouts {
  readonly connect: number
  readonly headers: number
  readonly bodyIdle: number
}

export interface BackendConfig {
  readonly name: string
  /** scheme://host:port, what the pool connects to. */
  readonly origin: string
  /** Path prefix from the backend URL, '' when the URL has none. */
  readonly basePath: string
  /** host[:port] as a Host header would carry it. */
  readonly host: string
  readonly timeouts: Timeouts
  readonly pool: { readonly connections: number, readonly keepAliveTimeout: number }
  readonly preserveHost: boolean
  /** Marks the app being replaced: the migration ledger counts every other backend as new. */
  readonly legacy: boolean
}

export interface RouteMatch {
  readonly path: string
  readonly methods?: readonly string[]
  readonly host?: string
  readonly headers?: Readonly<Record<string, string | true>>
}

export type ValueSource = { readonly header: string } | { readonly cookie: string } | { readonly jwt: string }

export interface JwtConfig {
  readonly header: string
  readonly cookie: string | undefined
  /** Name of the environment variable holding the HMAC secret. */
  readonly secretEnv: string | undefined
  readonly publicKeyFile: string | undefined
  readonly algorithms: readonly string[]
  readonly issuer: string | undefined
  readonly audience: string | undefined
  /** Tokens without an expiry are refused (default): they would identify a cohort forever. */
  readonly requireExp: boolean
}

export interface CohortConfig {
  readonly userId: readonly ValueSource[]
  readonly sessionId: readonly ValueSource[]
  readonly properties: Readonly<Record<string, readonly ValueSource[]>>
  readonly jwt: JwtConfig | undefined
  /** The proxy-issued cookie that makes anonymous visitors sticky; undefined when disabled. */
  readonly sessionCookie: { readonly name: string, readonly maxAge: number, readonly secure: boolean, readonly sameSite: 'lax' | 'strict' | 'none' } | undefined
}

export interface UnleashConfig {
  readonly url: string
  readonly appName: string
  readonly environment: string
  readonly projectName: string | undefined
  readonly refreshInterval: number
  readonly timeout: number
  readonly backupDir: string | undefined
}

export interface FlagsConfig {
  /** Absolute path: the flag source itself, or Unleash's bootstrap when unleash is set. */
  readonly file: string | undefined
  readonly unleash: UnleashConfig | undefined
}

/** Shadow traffic and comparison rules for one route (see shadow.ts). */
export interface ShadowConfig {
  /** Compared with the primary; when the primary is this backend, the route's baseline is the shadow. */
  readonly backend: string
  readonly sampleRate: number
  readonly methods: readonly string[]
  readonly maxBodySize: number
  readonly maxConcurrent: number
  readonly timeout: number
  readonly learnNoise: boolean
  /** Keep mismatching values in /parity samples as they are (default: type, size, short hash). */
  readonly recordValues: boolean
  readonly compare: {
    readonly headers: readonly string[]
    readonly ignore: ReadonlySet<string>
    readonly unordered: ReadonlySet<string>
    readonly text: 'exact' | 'whitespace'
  }
}

/** The rollback guard's settings for one flagged route (see guard.ts). */
export interface GuardConfig {
  readonly window: number
  readonly minRequests: number
  readonly maxErrorRatioIncrease: number
  readonly maxLatencyRatio: number
  /** Milliseconds a p99 must also grow by, so 1 ms → 3 ms is not a regression. */
  readonly minLatencyIncrease: number
  readonly cooldown: number
  readonly probeFraction: number
  readonly probeRequests: number
  /** A trip needs failures from at least this many client addresses in the window. */
  readonly minClients: number
  /** One client address's errors count for at most this share of the window's requests. */
  readonly maxClientShare: number
  /** Also switch the flag off in Unleash when a trip holds (needs UNLEASH_ADMIN_TOKEN and flags.unleash). */
  readonly disableFlag: boolean
}

export interface RouteFlag {
  readonly name: string
  readonly backend: string | undefined
  readonly variants: Readonly<Record<string, string>> | undefined
}

export interface RouteConfig {
  readonly name: string
  /** Position in the file, the last tie-breaker between equally specific routes. */
  readonly index: number
  readonly line: number
  readonly match: RouteMatch
  readonly backend: string
  readonly rewrite?: { readonly stripPrefix?: string, readonly addPrefix?: string }
  readonly maxBodySize: number
  readonly websocket: boolean
  readonly flag: RouteFlag | undefined
  /** Serve from the baseline when the flag-selected backend cannot be connected to (idempotent, bodyless requests). */
  readonly failover: boolean
  /** Undefined for routes without a flag, or with guard: false. */
  readonly guard: GuardConfig | undefined
  readonly shadow: ShadowConfig | undefined
}

export interface ClientLimits {
  readonly headersTimeout: number
  readonly requestTimeout: number
  readonly keepAliveTimeout: number
  readonly maxHeaderSize: number
  readonly maxUrlLength: number
  readonly maxBodySize: number
  /** More request header lines than this is a 431, like too many bytes. */
  readonly maxHeaderCount: number
  /** A client that takes nothing of a response for this long is cut (0: never). */
  readonly sendTimeout: number
  readonly trustedProxies: readonly string[]
  /** Header (lower case) set to the client address for the backend; undefined: none. */
  readonly realIpHeader: string | undefined
}

export interface Config {
  readonly file: string
  /** Content hash of the file: the route table's version. */
  readonly version: string
  readonly listen: { readonly host: string, readonly port: number }
  readonly admin: {
    readonly host: string
    readonly port: number
    /** Host names the admin port answers to besides IP literals and localhost (DNS rebinding). */
    readonly allowedHosts: readonly string[]
  }
  readonly client: ClientLimits
  readonly shutdown: { readonly timeout: number }
  readonly backends: ReadonlyMap<string, BackendConfig>
  readonly routes: readonly RouteConfig[]
  readonly flags: FlagsConfig | undefined
  readonly cohort: CohortConfig
  readonly override: { readonly header: string, readonly cookie: string }
}

/** Defaults in the range of Envoy and NGINX; documented in README "routes.yaml reference". */
export const DEFAULTS = Object.freeze({
  listen: { host: '0.0.0.0', port: 8080 },
  admin: { host: '127.0.0.1', port: 8081 },
  client: {
    headersTimeout: 10_000,
    requestTimeout: 60_000,
    keepAliveTimeout: 5_000,
    maxHeaderSize: 16 * 1024,
    maxUrlLength: 8 * 1024,
    maxBodySize: 10 * 1024 * 1024,
    maxHeaderCount: 200,
    sendTimeout: 30_000,
    realIpHeader: 'x-real-ip'
  },
  shutdown: { timeout: 30_000 },
  timeouts: { connect: 5_000, headers: 30_000, bodyIdle: 30_000 },
  pool: { connections: 128, keepAliveTimeout: 4_000 },
  unleash: { appName: 'strangler-proxy', environment: 'default', refreshInterval: 10_000, timeout: 5_000 },
  sessionCookie: { name: 'spx_sid', maxAge: 365 * 24 * 3_600_000, secure: false, sameSite: 'lax' as const },
  guard: { window: 60_000, minRequests: 20, maxErrorRatioIncrease: 0.05, maxLatencyRatio: 2, minLatencyIncrease: 50, cooldown: 60_000, probeFraction: 0.1, probeRequests: 20, minClients: 5, maxClientShare: 0.2, disableFlag: false },
  override: { header: 'x-strangler-override', cookie: 'spx_override' }
})

const CREDENTIAL_HEADERS = new Set(['set-cookie', 'cookie', 'authorization', 'proxy-authorization'])

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true })
const validateShape = ajv.compile(configSchema)

export function loadConfigFile (file: string): Config {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ProxyError(Errors.CONFIG_UNREADABLE, `${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err })
  }
  return parseConfig(text, file)
}

type Path = ReadonlyArray<string | number>

/** Collects problems with positions taken from the YAML document. */
class Problems {
  readonly list: ConfigProblem[] = []
  constructor (private readonly file: string, private readonly doc: Document, private readonly lines: LineCounter) {}

  /** `onKey` points at the key itself (for unknown keys), otherwise at the value. */
  add (path: Path, message: string, onKey = false): void {
    const offset = this.offsetOf(path, onKey)
    const { line, col } = this.lines.linePos(offset)
    this.list.push({ file: this.file, line, column: col, field: fieldName(path), message })
  }

  private offsetOf (path: Path, onKey: boolean): number {
    let node: unknown = this.doc.contents
    let offset = 0
    for (let i = 0; i < path.length; i++) {
      const seg = path[i]
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg))
        if (pair === undefined) break
        const keyNode = pair.key as YamlNode
        offset = keyNode.range?.[0] ?? offset
        if (i === path.length - 1 && onKey) return offset
        node = pair.value
      } else if (isSeq(node) && typeof seg === 'number') {
        node = node.items[seg]
      } else {
        break
      }
      const range = (node as YamlNode | null)?.range
      if (range) offset = range[0]
    }
    return offset
  }
}

function fieldName (path: Path): string {
  let out = ''
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : (out === '' ? seg : `.${seg}`)
  return out === '' ? '(root)' : out
}

function ajvPath (err: ErrorObject): Array<string | number> {
  return err.instancePath.split('/').slice(1).map((s) => {
    const key = s.replace(/~1/g, '/').replace(/~0/g, '~')
    return /^\d+$/.test(key) ? Number(key) : key
  })
}

function ajvMessage (err: ErrorObject): { message: string, extraKey?: string } {
  if (err.keyword === 'additionalProperties') {
    const key = String(err.params.additionalProperty)
    return { message: `unknown key "${key}"`, extraKey: key }
  }
  if (err.schemaPath.startsWith('#/$defs/duration')) return { message: 'must be a duration with a unit, e.g. 250ms, 5s, 2m' }
  if (err.schemaPath.startsWith('#/$defs/size')) return { message: 'must be a size, e.g. 1048576, 512kb, 10mb' }
  if (err.keyword === 'required') return { message: `missing required key "${String(err.params.missingProperty)}"` }
  if (err.keyword === 'propertyNames') return { message: 'names may use letters, digits, "_", "." and "-" (up to 63)' }
  return { message: err.message ?? 'is invalid' }
}

export function parseConfig (text: string, file: string): Config {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true })
  const problems = new Problems(file, doc, lines)

  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => {
      const { line, col } = lines.linePos(e.pos[0])
      return { file, line, column: col, field: '(yaml)', message: e.message.split('\n')[0] as string }
    }))
  }
  const raw: unknown = doc.toJS()
  if (!validateShape(raw)) {
    const seen = new Set<string>()
    const errors = validateShape.errors ?? []
    for (const err of errors) {
      // anyOf produces one error per branch plus a summary; the summary is enough,
      // unless a branch already named a problem deeper inside the same value.
      if (err.schemaPath.includes('/anyOf/')) continue
      if (err.keyword === 'anyOf' && errors.some((e) => e.instancePath.startsWith(err.instancePath + '/') && !e.schemaPath.includes('/anyOf/'))) continue
      if (err.keyword === 'pattern' && err.propertyName !== undefined) continue
      const path = ajvPath(err)
      const { message, extraKey } = ajvMessage(err)
      const fullPath = extraKey === undefined ? path : [...path, extraKey]
      const key = `${fieldName(fullPath)}|${message}`
      if (seen.has(key)) continue
      seen.add(key)
      problems.add(fullPath, message, extraKey !== undefined)
    }
    throw new ConfigError(problems.list)
  }
  const config = normalize(raw as RawConfig, file, text, problems, doc, lines)
  if (problems.list.length > 0) throw new ConfigError(problems.list)
  return config
}

/* The shape validateShape guarantees; durations and sizes still as written. */
interface RawBackend {
  url: string
  timeout?: string
  timeouts?: { connect?: string, headers?: string, bodyIdle?: string }
  pool?: { connections?: number, keepAliveTimeout?: string }
  preserveHost?: boolean
  legacy?: boolean
}
interface RawRoute {
  name: string
  match: { path: string, methods?: string[], host?: string, headers?: Record<string, string | true> }
  backend: string
  rewrite?: { stripPrefix?: string, addPrefix?: string }
  maxBodySize?: string | number
  websocket?: boolean
  failover?: boolean
  guard?: false | RawGuard
  shadow?: {
    backend: string
    sampleRate?: number
    methods?: string[]
    maxBodySize?: string | number
    maxConcurrent?: number
    timeout?: string
    learnNoise?: boolean
    recordValues?: boolean
    compare?: { headers?: string[], ignore?: string[], unorderedArrays?: string[], text?: 'exact' | 'whitespace' }
  }
  flag?: { name: string, backend?: string, variants?: Record<string, string> }
}
type RawSources = ValueSource | ValueSource[]
interface RawGuard {
  window?: string
  minRequests?: number
  maxErrorRatioIncrease?: number
  maxLatencyRatio?: number
  minLatencyIncrease?: string
  cooldown?: string
  probeFraction?: number
  probeRequests?: number
  minClients?: number
  maxClientShare?: number
  disableFlag?: boolean
}
interface RawConfig {
  flags?: {
    file?: string
    unleash?: { url: string, appName?: string, environment?: string, projectName?: string, refreshInterval?: string, timeout?: string, backupDir?: string }
  }
  cohort?: {
    userId?: RawSources
    sessionId?: RawSources
    properties?: Record<string, RawSources>
    jwt?: { header?: string, cookie?: string, secretEnv?: string, publicKeyFile?: string, algorithms?: string[], issuer?: string, audience?: string, requireExp?: boolean }
    sessionCookie?: false | { name?: string, maxAge?: string, secure?: boolean, sameSite?: 'lax' | 'strict' | 'none' }
  }
  override?: { header?: string, cookie?: string }
  guard?: false | RawGuard
  listen?: { host?: string, port?: number }
  admin?: { host?: string, port?: number, allowedHosts?: string[] }
  client?: {
    headersTimeout?: string
    requestTimeout?: string
    keepAliveTimeout?: string
    maxHeaderSize?: string | number
    maxUrlLength?: string | number
    maxBodySize?: string | number
    maxHeaderCount?: number
    sendTimeout?: string
    trustedProxies?: string[]
    realIpHeader?: string | false
  }
  shutdown?: { timeout?: string }
  backends: Record<string, RawBackend>
  routes: RawRoute[]
}

// Methods Node's HTTP parser accepts; anything else could never match.
const KNOWN_METHODS = new Set(['ACL', 'BIND', 'CHECKOUT', 'CONNECT', 'COPY', 'DELETE', 'GET', 'HEAD', 'LINK', 'LOCK',
  'M-SEARCH', 'MERGE', 'MKACTIVITY', 'MKCALENDAR', 'MKCOL', 'MOVE', 'NOTIFY', 'OPTIONS', 'PATCH', 'POST', 'PROPFIND',
  'PROPPATCH', 'PURGE', 'PUT', 'QUERY', 'REBIND', 'REPORT', 'SEARCH', 'SOURCE', 'SUBSCRIBE', 'TRACE', 'UNBIND', 'UNLINK',
  'UNLOCK', 'UNSUBSCRIBE'])

function normalize (raw: RawConfig, file: string, text: string, problems: Problems, doc: Document, lines: LineCounter): Config {
  const dur = (value: string | undefined, fallback: number): number => value === undefined ? fallback : (parseDuration(value) as number)
  const sz = (path: Path, value: string | number | undefined, fallback: number): number => {
    if (value === undefined) return fallback
    const n = parseSize(value)
    if (n === undefined) {
      problems.add(path, 'must be a size, e.g. 1048576, 512kb, 10mb')
      return fallback
    }
    return n
  }

  const backends = new Map<string, BackendConfig>()
  for (const [name, b] of Object.entries(raw.backends)) {
    const at = ['backends', name]
    let url: URL | undefined
    try {
      url = new URL(b.url)
    } catch {
      problems.add([...at, 'url'], `"${b.url}" is not a valid URL`)
    }
    if (url !== undefined) {
      if (url.protocol !== 'http:' && url.protocol !== 'https:') problems.add([...at, 'url'], `scheme must be http or https, got "${url.protocol.slice(0, -1)}"`)
      if (url.username !== '' || url.password !== '') problems.add([...at, 'url'], 'must not carry credentials; routes.yaml holds no secrets')
      if (url.search !== '' || url.hash !== '') problems.add([...at, 'url'], 'must not have a query or fragment')
    }
    if (b.timeout !== undefined && b.timeouts?.headers !== undefined) {
      problems.add([...at, 'timeout'], 'set either timeout or timeouts.headers, not both')
    }
    const basePath = url === undefined || url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '')
    backends.set(name, Object.freeze({
      name,
      origin: url?.origin ?? 'http://invalid',
      basePath,
      host: url?.host ?? '',
      timeouts: Object.freeze({
        connect: dur(b.timeouts?.connect, DEFAULTS.timeouts.connect),
        headers: dur(b.timeouts?.headers ?? b.timeout, DEFAULTS.timeouts.headers),
        bodyIdle: dur(b.timeouts?.bodyIdle, DEFAULTS.timeouts.bodyIdle)
      }),
      pool: Object.freeze({
        connections: b.pool?.connections ?? DEFAULTS.pool.connections,
        keepAliveTimeout: dur(b.pool?.keepAliveTimeout, DEFAULTS.pool.keepAliveTimeout)
      }),
      preserveHost: b.preserveHost ?? true,
      legacy: b.legacy ?? false
    }))
  }

  const c = raw.client ?? {}
  const trustedProxies = c.trustedProxies ?? []
  trustedProxies.forEach((cidr, i) => {
    try {
      proxyAddr.compile(cidr)
      if (!/^(loopback|linklocal|uniquelocal)$/.test(cidr) && isIP(cidr.split('/')[0] as string) === 0) throw new Error('not an address')
    } catch {
      problems.add(['client', 'trustedProxies', i], `"${cidr}" is not an IP address, a CIDR range, or one of loopback, linklocal, uniquelocal`)
    }
  })
  const client: ClientLimits = Object.freeze({
    headersTimeout: dur(c.headersTimeout, DEFAULTS.client.headersTimeout),
    requestTimeout: dur(c.requestTimeout, DEFAULTS.client.requestTimeout),
    keepAliveTimeout: dur(c.keepAliveTimeout, DEFAULTS.client.keepAliveTimeout),
    maxHeaderSize: sz(['client', 'maxHeaderSize'], c.maxHeaderSize, DEFAULTS.client.maxHeaderSize),
    maxUrlLength: sz(['client', 'maxUrlLength'], c.maxUrlLength, DEFAULTS.client.maxUrlLength),
    maxBodySize: sz(['client', 'maxBodySize'], c.maxBodySize, DEFAULTS.client.maxBodySize),
    maxHeaderCount: c.maxHeaderCount ?? DEFAULTS.client.maxHeaderCount,
    sendTimeout: dur(c.sendTimeout, DEFAULTS.client.sendTimeout),
    trustedProxies: Object.freeze([...trustedProxies]),
    realIpHeader: c.realIpHeader === false ? undefined : (c.realIpHeader ?? DEFAULTS.client.realIpHeader).toLowerCase()
  })
  if (client.requestTimeout !== 0 && client.headersTimeout > client.requestTimeout) {
    problems.add(['client', 'headersTimeout'], 'must not be longer than client.requestTimeout')
  }

  const names = new Map<string, number>()
  const routes = raw.routes.map((r, index): RouteConfig => {
    const at = ['routes', index]
    const first = names.get(r.name)
    if (first !== undefined) problems.add([...at, 'name'], `duplicate route name "${r.name}" (first used by routes[${first}])`)
    else names.set(r.name, index)
    if (!backends.has(r.backend)) problems.add([...at, 'backend'], `unknown backend "${r.backend}"; defined: ${[...backends.keys()].join(', ')}`)
    const pathError = parsePathPattern(r.match.path).error
    if (pathError !== undefined) problems.add([...at, 'match', 'path'], pathError)
    if (r.match.host !== undefined) {
      const hostError = parseHostPattern(r.match.host).error
      if (hostError !== undefined) problems.add([...at, 'match', 'host'], hostError)
    }
    const methods = r.match.methods?.map((m) => m.toUpperCase())
    methods?.forEach((m, i) => {
      if (!KNOWN_METHODS.has(m)) problems.add([...at, 'match', 'methods', i], `unknown HTTP method "${m}"`)
    })
    if (r.rewrite?.stripPrefix !== undefined && !pathCoveredBy(r.match.path, r.rewrite.stripPrefix)) {
      problems.add([...at, 'rewrite', 'stripPrefix'], `"${r.rewrite.stripPrefix}" is not a prefix of every path matched by "${r.match.path}"`)
    }
    r.shadow?.compare?.headers?.forEach((h, i) => {
      // Credentials are never compared: their values would be kept in /parity samples.
      if (CREDENTIAL_HEADERS.has(h.toLowerCase())) problems.add([...at, 'shadow', 'compare', 'headers', i], `"${h}" carries credentials and cannot be compared`)
    })
    if (r.shadow !== undefined && !backends.has(r.shadow.backend)) problems.add([...at, 'shadow', 'backend'], `unknown backend "${r.shadow.backend}"; defined: ${[...backends.keys()].join(', ')}`)
    if (r.flag !== undefined) {
      if (raw.flags === undefined) problems.add([...at, 'flag'], 'names a flag but no flags: source is configured')
      if (r.flag.backend === undefined && r.flag.variants === undefined) problems.add([...at, 'flag'], 'needs backend (used when the flag is on) or variants (variant name → backend)')
      if (r.flag.backend !== undefined && !backends.has(r.flag.backend)) problems.add([...at, 'flag', 'backend'], `unknown backend "${r.flag.backend}"; defined: ${[...backends.keys()].join(', ')}`)
      for (const [variant, b] of Object.entries(r.flag.variants ?? {})) {
        if (!backends.has(b)) problems.add([...at, 'flag', 'variants', variant], `unknown backend "${b}"; defined: ${[...backends.keys()].join(', ')}`)
      }
    }
    const headers = r.match.headers === undefined
      ? undefined
      : Object.freeze(Object.fromEntries(Object.entries(r.match.headers).map(([k, v]) => [k.toLowerCase(), v])))
    const keyNode = doc.getIn(['routes', index], true) as YamlNode | undefined
    return Object.freeze({
      name: r.name,
      index,
      line: lines.linePos(keyNode?.range?.[0] ?? 0).line,
      match: Object.freeze({
        path: r.match.path,
        ...(methods === undefined ? {} : { methods: Object.freeze(methods) }),
        ...(r.match.host === undefined ? {} : { host: r.match.host.toLowerCase() }),
        ...(headers === undefined ? {} : { headers })
      }),
      backend: r.backend,
      ...(r.rewrite === undefined ? {} : { rewrite: Object.freeze({ ...r.rewrite }) }),
      maxBodySize: sz([...at, 'maxBodySize'], r.maxBodySize, client.maxBodySize),
      websocket: r.websocket ?? true,
      failover: r.failover ?? true,
      shadow: r.shadow === undefined
        ? undefined
        : Object.freeze({
          backend: r.shadow.backend,
          sampleRate: r.shadow.sampleRate ?? 1,
          methods: Object.freeze((r.shadow.methods ?? ['GET', 'HEAD']).map((m) => m.toUpperCase())),
          maxBodySize: sz([...at, 'shadow', 'maxBodySize'], r.shadow.maxBodySize, 256 * 1024),
          maxConcurrent: r.shadow.maxConcurrent ?? 32,
          timeout: dur(r.shadow.timeout, 5_000),
          learnNoise: r.shadow.learnNoise ?? false,
          recordValues: r.shadow.recordValues ?? false,
          compare: Object.freeze({
            headers: Object.freeze((r.shadow.compare?.headers ?? ['content-type']).map((h) => h.toLowerCase())),
            ignore: new Set(r.shadow.compare?.ignore ?? []),
            unordered: new Set(r.shadow.compare?.unorderedArrays ?? []),
            text: r.shadow.compare?.text ?? 'exact'
          })
        }),
      guard: r.flag === undefined || r.guard === false || raw.guard === false ? undefined : guardConfig(raw.guard, r.guard, dur),
      flag: r.flag === undefined
        ? undefined
        : Object.freeze({ name: r.flag.name, backend: r.flag.backend, variants: r.flag.variants === undefined ? undefined : Object.freeze({ ...r.flag.variants }) })
    })
  })

  const baseDir = dirname(resolvePath(file))
  const flags = normalizeFlags(raw.flags, baseDir, dur, problems)
  routes.forEach((r, i) => {
    if (r.guard?.disableFlag === true && flags?.unleash === undefined) {
      problems.add(['routes', i, 'guard', 'disableFlag'], 'needs flags.unleash: the guard switches the flag off in Unleash')
    }
  })
  const cohort = normalizeCohort(raw.cohort, baseDir, dur, problems)

  return Object.freeze({
    file,
    version: createHash('sha256').update(text).digest('hex').slice(0, 12),
    listen: Object.freeze({ ...DEFAULTS.listen, ...raw.listen }),
    admin: Object.freeze({ ...DEFAULTS.admin, ...raw.admin, allowedHosts: Object.freeze((raw.admin?.allowedHosts ?? []).map((h) => h.toLowerCase())) }),
    client,
    shutdown: Object.freeze({ timeout: dur(raw.shutdown?.timeout, DEFAULTS.shutdown.timeout) }),
    backends,
    routes: Object.freeze(routes),
    flags,
    cohort,
    override: Object.freeze({ ...DEFAULTS.override, ...raw.override })
  })
}

type Dur = (value: string | undefined, fallback: number) => number

/** Defaults, then the top-level guard:, then the route's own guard:. */
function guardConfig (top: RawGuard | undefined, route: RawGuard | undefined, dur: Dur): GuardConfig {
  const d = DEFAULTS.guard
  const g = { ...top, ...route }
  return Object.freeze({
    window: dur(g.window, d.window),
    minRequests: g.minRequests ?? d.minRequests,
    maxErrorRatioIncrease: g.maxErrorRatioIncrease ?? d.maxErrorRatioIncrease,
    maxLatencyRatio: g.maxLatencyRatio ?? d.maxLatencyRatio,
    minLatencyIncrease: dur(g.minLatencyIncrease, d.minLatencyIncrease),
    cooldown: dur(g.cooldown, d.cooldown),
    probeFraction: g.probeFraction ?? d.probeFraction,
    probeRequests: g.probeRequests ?? d.probeRequests,
    minClients: g.minClients ?? d.minClients,
    maxClientShare: g.maxClientShare ?? d.maxClientShare,
    disableFlag: g.disableFlag ?? d.disableFlag
  })
}

function normalizeFlags (raw: RawConfig['flags'], baseDir: string, dur: Dur, problems: Problems): FlagsConfig | undefined {
  if (raw === undefined) return undefined
  const u = raw.unleash
  if (u !== undefined) {
    // unleash-client retries a fetch twice with at least 1 s between tries; a
    // shorter timeout makes its HTTP layer refuse every request.
    if (u.timeout !== undefined && dur(u.timeout, 0) < 1000) problems.add(['flags', 'unleash', 'timeout'], 'must be at least 1s')
    try {
      const url = new URL(u.url)
      if (url.protocol !== 'http:' && url.protocol !== 'https:') problems.add(['flags', 'unleash', 'url'], 'scheme must be http or https')
      if (url.username !== '' || url.password !== '') problems.add(['flags', 'unleash', 'url'], 'must not carry credentials; the token comes from UNLEASH_API_TOKEN')
    } catch {
      problems.add(['flags', 'unleash', 'url'], `"${u.url}" is not a valid URL`)
    }
  }
  return Object.freeze({
    file: raw.file === undefined ? undefined : resolvePath(baseDir, raw.file),
    unleash: u === undefined
      ? undefined
      : Object.freeze({
        url: u.url,
        appName: u.appName ?? DEFAULTS.unleash.appName,
        environment: u.environment ?? DEFAULTS.unleash.environment,
        projectName: u.projectName,
        refreshInterval: dur(u.refreshInterval, DEFAULTS.unleash.refreshInterval),
        timeout: dur(u.timeout, DEFAULTS.unleash.timeout),
        backupDir: u.backupDir === undefined ? undefined : resolvePath(baseDir, u.backupDir)
      })
  })
}

function sourcesOf (v: RawSources | undefined): readonly ValueSource[] {
  return Object.freeze(v === undefined ? [] : (Array.isArray(v) ? v : [v]).map((s) => Object.freeze({ ...s })))
}

function normalizeCohort (raw: RawConfig['cohort'], baseDir: string, dur: Dur, problems: Problems): CohortConfig {
  const c = raw ?? {}
  const userId = sourcesOf(c.userId)
  const sessionId = sourcesOf(c.sessionId)
  const properties = Object.freeze(Object.fromEntries(Object.entries(c.properties ?? {}).map(([k, v]) => [k, sourcesOf(v)])))
  const usesJwt = [userId, sessionId, ...Object.values(properties)].some((list) => list.some((s) => 'jwt' in s))
  const j = c.jwt
  if (usesJwt && (j === undefined || (j.secretEnv === undefined && j.publicKeyFile === undefined))) {
    problems.add(['cohort'], 'a jwt: value source needs cohort.jwt with secretEnv or publicKeyFile to verify tokens')
  }
  if (j?.secretEnv !== undefined && j.publicKeyFile !== undefined) problems.add(['cohort', 'jwt'], 'set either secretEnv or publicKeyFile, not both')
  const sc = c.sessionCookie
  return Object.freeze({
    userId,
    sessionId,
    properties,
    jwt: j === undefined
      ? undefined
      : Object.freeze({
        header: j.header ?? 'authorization',
        cookie: j.cookie,
        secretEnv: j.secretEnv,
        publicKeyFile: j.publicKeyFile === undefined ? undefined : resolvePath(baseDir, j.publicKeyFile),
        algorithms: Object.freeze(j.algorithms ?? (j.publicKeyFile === undefined ? ['HS256'] : ['RS256', 'ES256'])),
        issuer: j.issuer,
        audience: j.audience,
        requireExp: j.requireExp ?? true
      }),
    sessionCookie: sc === false
      ? undefined
      : Object.freeze({
        name: sc?.name ?? DEFAULTS.sessionCookie.name,
        maxAge: dur(sc?.maxAge, DEFAULTS.sessionCookie.maxAge),
        secure: sc?.secure ?? DEFAULTS.sessionCookie.secure,
        sameSite: sc?.sameSite ?? DEFAULTS.sessionCookie.sameSite
      })
  })
}

/** True when every path the pattern can match starts with `prefix` on a segment boundary. */
function pathCoveredBy (pattern: string, prefix: string): boolean {
  const literal = pattern.replace(/\/?\*$/, '').split('/:')[0] as string
  const p = prefix.replace(/\/$/, '')
  return literal === p || literal.startsWith(p + '/')
}
