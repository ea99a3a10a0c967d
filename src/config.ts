/**
 * routes.yaml → a validated, defaulted, frozen Config.
 * Every problem in a file is reported at once, each as file:line:column and field.
 * This module reads files but never starts anything; watching lives in reload.ts.
 */
import { readFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { isIP } from 'node:net'
import { Ajv, type ErrorObject } from 'ajv'
import { LineCounter, parseDocument, isMap, isSeq, isScalar, isPair, type Document, type Node as YamlNode } from 'yaml'
import proxyAddr from 'proxy-addr'
import { ConfigError, Errors, ProxyError, type ConfigProblem } from './errors.js'
import { configSchema } from './config-schema.js'
import { parseDuration, parseSize } from './units.js'
import { parsePathPattern, parseHostPattern } from './patterns.js'

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
}

export interface RouteMatch {
  readonly path: string
  readonly methods?: readonly string[]
  readonly host?: string
  readonly headers?: Readonly<Record<string, string | true>>
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
}

export interface ClientLimits {
  readonly headersTimeout: number
  readonly requestTimeout: number
  readonly keepAliveTimeout: number
  readonly maxHeaderSize: number
  readonly maxUrlLength: number
  readonly maxBodySize: number
  readonly trustedProxies: readonly string[]
}

export interface Config {
  readonly file: string
  /** Content hash of the file: the route table's version. */
  readonly version: string
  readonly listen: { readonly host: string, readonly port: number }
  readonly admin: { readonly host: string, readonly port: number }
  readonly client: ClientLimits
  readonly shutdown: { readonly timeout: number }
  readonly backends: ReadonlyMap<string, BackendConfig>
  readonly routes: readonly RouteConfig[]
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
    maxBodySize: 10 * 1024 * 1024
  },
  shutdown: { timeout: 30_000 },
  timeouts: { connect: 5_000, headers: 30_000, bodyIdle: 30_000 },
  pool: { connections: 128, keepAliveTimeout: 4_000 }
})

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
    for (const err of validateShape.errors ?? []) {
      // anyOf produces one error per branch plus a summary; the summary is enough.
      if (err.schemaPath.includes('/anyOf/')) continue
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
}
interface RawRoute {
  name: string
  match: { path: string, methods?: string[], host?: string, headers?: Record<string, string | true> }
  backend: string
  rewrite?: { stripPrefix?: string, addPrefix?: string }
  maxBodySize?: string | number
  websocket?: boolean
}
interface RawConfig {
  listen?: { host?: string, port?: number }
  admin?: { host?: string, port?: number }
  client?: {
    headersTimeout?: string
    requestTimeout?: string
    keepAliveTimeout?: string
    maxHeaderSize?: string | number
    maxUrlLength?: string | number
    maxBodySize?: string | number
    trustedProxies?: string[]
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
      preserveHost: b.preserveHost ?? true
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
    trustedProxies: Object.freeze([...trustedProxies])
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
      websocket: r.websocket ?? true
    })
  })

  return Object.freeze({
    file,
    version: createHash('sha256').update(text).digest('hex').slice(0, 12),
    listen: Object.freeze({ ...DEFAULTS.listen, ...raw.listen }),
    admin: Object.freeze({ ...DEFAULTS.admin, ...raw.admin }),
    client,
    shutdown: Object.freeze({ timeout: dur(raw.shutdown?.timeout, DEFAULTS.shutdown.timeout) }),
    backends,
    routes: Object.freeze(routes)
  })
}

/** True when every path the pattern can match starts with `prefix` on a segment boundary. */
function pathCoveredBy (pattern: string, prefix: string): boolean {
  const literal = pattern.replace(/\/?\*$/, '').split('/:')[0] as string
  const p = prefix.replace(/\/$/, '')
  return literal === p || literal.startsWith(p + '/')
}
