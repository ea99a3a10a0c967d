/**
 * Shadow traffic and parity. The user is served by the primary backend; a copy of the
 * request goes to the other backend on the side, and the two answers are compared
 * (status, chosen headers, body: JSON field by field). The user's response never waits
 * for the shadow: its request is fire-and-forget with its own timeout, a sample rate,
 * a concurrency cap and a body-size cap, so a slow or broken shadow cannot pile up.
 */
import type { AttemptTrace } from '../observe/tracing.js'
import { setHeader } from '../observe/tracing.js'
import type { Dispatcher } from 'undici'
import type { Logger } from 'pino'
import type { ShadowConfig } from '../config/config.js'
import type { BackendPool } from '../proxy/pools.js'
import { Ledger } from '../observe/sliding-share.js'
import { createHmac, randomBytes } from 'node:crypto'
import { diffJson, pattern, sameText, withinDepth, MAX_DEPTH, type Difference, type PathSet } from './json-diff.js'
import { classifyUpstreamError } from '../proxy/upstream-errors.js'
import { collect, type Captured } from '../proxy/collect.js'
import { ParityPairs } from './parity-pairs.js'
import { pathTemplate } from '../routing/path-template.js'

export type ShadowResult = 'match' | 'mismatch' | 'error' | 'skipped'

export interface ShadowRequest {
  readonly route: string
  readonly config: ShadowConfig
  readonly requestId: string
  readonly method: string
  /** Path without the query, for samples. */
  readonly path: string
  readonly primaryBackend: string
  readonly target: BackendPool
  /** The primary backend, for the noise-learning second request. */
  readonly primary: BackendPool
  /** Path and query as sent (without the backend's base path). */
  readonly upstreamPath: string
  readonly headers: (backend: BackendPool) => string[]
  /** The request body if it was read whole (prebuffered), 'streamed' if not. */
  readonly body: Buffer | undefined | 'streamed'
  /** The copy's span when tracing is on, started when the copy is sent. */
  readonly trace?: (url: string) => AttemptTrace
  /** Who asked (user id or returning session, else the client address): parity counts each user once per endpoint. */
  readonly who: string
}

export interface MismatchSample {
  readonly at: string
  readonly requestId: string
  readonly method: string
  readonly path: string
  readonly primary: { readonly backend: string, readonly status: number }
  readonly shadow: { readonly backend: string, readonly status: number }
  /** auth: one side refused (401, 403, a redirect to sign in) what the other served with 2xx. */
  readonly kind: 'auth' | 'answer'
  readonly differences: ReadonlyArray<{ readonly field: string, readonly primary: string, readonly shadow: string }>
}

interface RouteParity {
  readonly totals: Record<ShadowResult, number>
  readonly samples: MismatchSample[]
  /** Learned noise: field patterns ignored from now on, with when and from how many differences. */
  readonly noise: Map<string, { readonly learnedAt: string, readonly differences: number }>
  /** Why learning stopped short, when it did (a pattern that would ignore too much of the answer). */
  warning: string | undefined
  /** Patterns seen to differ between two calls of the same backend, and how often. */
  readonly noiseSeen: Map<string, number>
  readonly pairs: ParityPairs
  /** Mismatches where one backend refused what the other served (also counted as mismatches). */
  authMismatches: number
}

/** Refusing: 401, 403, or a redirect to a sign-in page. */
function refuses (c: Captured): boolean {
  if (c.status === 401 || c.status === 403) return true
  if (c.status < 300 || c.status >= 400) return false
  const location = c.headers.location
  return typeof location === 'string' && /log-?in|sign-?in|auth/i.test(location)
}

/** The new service must refuse what legacy refuses, and serve what it serves. */
function authMismatch (primary: Captured, shadow: Captured): boolean {
  const served = (c: Captured): boolean => c.status >= 200 && c.status < 300
  return (refuses(primary) && served(shadow)) || (served(primary) && refuses(shadow))
}

const SAMPLES_PER_ROUTE = 50
const VALUE_CHARS = 120
/** Field paths are the backends' key names: long ones are cut in samples and never learned. */
const PATH_CHARS = 200
/** Learned noise per route; past it nothing more is learned (a sign of unstable keys, not noise). */
const NOISE_MAX = 100
/** Distinct candidate patterns remembered per route while learning. */
const NOISE_SEEN_MAX = 1000
/** A pattern becomes noise only after differing this often between two calls of the same backend. */
const NOISE_AFTER = 3
/** Configured and learned ignores may cover at most this share of an answer's fields; past it learning stops with a warning. */
const MAX_IGNORED_SHARE = 0.5

/** Keys the short value hashes; per process, so a hash cannot be looked up across deployments. */
const HASH_KEY = randomBytes(32)

function cut (text: string, max: number): string {
  return text.length > max ? text.slice(0, max) + '…' : text
}

/**
 * A value as a sample shows it. By default its type, size and a short keyed hash,
 * which tell equal from different without keeping users' data (session tokens,
 * personal fields) in memory and on /parity; full values only with recordValues.
 */
function show (v: unknown, full: boolean): string {
  if (v === undefined) return '(absent)'
  const json = JSON.stringify(v) ?? String(v)
  if (full) return cut(typeof v === 'string' ? v : json, VALUE_CHARS)
  if (v === null) return 'null'
  const type = Array.isArray(v) ? 'array' : typeof v
  const size = typeof v === 'string' ? v.length : Array.isArray(v) ? v.length : typeof v === 'object' ? Object.keys(v).length : undefined
  const hash = createHmac('sha256', HASH_KEY).update(json).digest('hex').slice(0, 8)
  return `${type}${size === undefined ? '' : `(${size})`} #${hash}`
}

const NO_PATHS: ReadonlySet<string> = new Set()

const isLeaf = (v: unknown): boolean => v === null || typeof v !== 'object'

/** The share of a JSON value's leaf fields that `ignore` covers (itself or through an ignored ancestor). */
function ignoredShare (v: unknown, ignore: PathSet): number {
  let leaves = 0
  let ignored = 0
  const walk = (x: unknown, path: string, skipped: boolean): void => {
    const here = skipped || ignore.has(pattern(path))
    if (Array.isArray(x)) x.forEach((e, i) => walk(e, `${path}[${i}]`, here))
    else if (x !== null && typeof x === 'object') for (const [k, e] of Object.entries(x)) walk(e, /^[A-Za-z_$][\w$]*$/.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`, here)
    else {
      leaves++
      if (here) ignored++
    }
  }
  walk(v, '$', false)
  return leaves === 0 ? 0 : ignored / leaves
}

function isJson (headers: Captured['headers']): boolean {
  const ct = String(headers['content-type'] ?? '').toLowerCase()
  return ct.includes('application/json') || ct.includes('+json')
}

export class ShadowTraffic {
  readonly #inflight = new Map<string, number>()
  readonly #routes = new Map<string, RouteParity>()
  readonly window = new Ledger()
  readonly #log: Logger

  constructor (logger: Logger) {
    this.#log = logger
  }

  inflight (): number {
    let n = 0
    for (const v of this.#inflight.values()) n += v
    return n
  }

  #parity (route: string): RouteParity {
    let p = this.#routes.get(route)
    if (p === undefined) {
      p = { totals: { match: 0, mismatch: 0, error: 0, skipped: 0 }, samples: [], noise: new Map(), warning: undefined, noiseSeen: new Map(), pairs: new ParityPairs(), authMismatches: 0 }
      this.#routes.set(route, p)
    }
    return p
  }

  count (route: string, result: ShadowResult): void {
    this.#parity(route).totals[result]++
    if (result === 'match' || result === 'mismatch') this.window.record(route, result === 'match')
  }

  /**
   * Sends the copy (and, when learning noise, a second primary request) now.
   * Returns a function that takes the primary's captured answer and compares; it
   * never throws and never delays the user's response.
   */
  start (req: ShadowRequest): ((primary: Captured | undefined) => void) | undefined {
    const c = req.config
    if (!c.methods.includes(req.method) || Math.random() >= c.sampleRate) return undefined
    // A body that streamed to the primary cannot be replayed; a full pool of shadow
    // requests means the shadow backend is slow: skip rather than pile up.
    const body = req.body
    const inflight = this.#inflight.get(req.route) ?? 0
    if (body === 'streamed' || (body?.length ?? 0) > c.maxBodySize || inflight >= c.maxConcurrent) {
      this.count(req.route, 'skipped')
      return undefined
    }
    this.#inflight.set(req.route, inflight + 1)
    const send = (pool: BackendPool, shadowHeader: boolean): Promise<Captured> => {
      const headers = req.headers(pool)
      const span = shadowHeader ? req.trace?.(pool.backend.origin + pool.backend.basePath + req.upstreamPath) : undefined
      if (span !== undefined) setHeader(headers, 'traceparent', span.traceparent)
      if (shadowHeader) headers.push('x-strangler-shadow', '1')
      const sent = collect(pool.pool, {
        path: pool.backend.basePath + req.upstreamPath,
        method: req.method as Dispatcher.HttpMethod,
        headers,
        body: body ?? null
      }, c.maxBodySize, c.timeout)
      sent.then((r) => span?.end(r.status, undefined), (err: unknown) => span?.end(undefined, classifyUpstreamError(err).kind))
      return sent
    }
    const shadow = send(req.target, true)
    const second = c.learnNoise && (req.method === 'GET' || req.method === 'HEAD') ? send(req.primary, false).catch(() => undefined) : undefined
    let settled = false
    const done = (): void => {
      if (!settled) {
        settled = true
        this.#inflight.set(req.route, (this.#inflight.get(req.route) ?? 1) - 1)
      }
    }
    shadow.then(done, done)
    return (primary) => {
      Promise.all([shadow, second]).then(([s, again]) => {
        try {
          this.#compare(req, primary, s, again)
        } catch (err) {
          // A comparison must never fail the process; whatever it was, it is counted.
          this.count(req.route, 'error')
          this.#log.warn({ route: req.route, err }, 'shadow comparison failed')
        }
      }, (err: unknown) => {
        this.count(req.route, 'error')
        this.#log.debug({ route: req.route, backend: req.target.backend.name, kind: classifyUpstreamError(err).kind }, 'shadow request failed')
      })
    }
  }

  #compare (req: ShadowRequest, primary: Captured | undefined, shadow: Captured, again: Captured | undefined): void {
    if (primary === undefined || primary.body === undefined || shadow.body === undefined) {
      this.count(req.route, 'skipped')
      return
    }
    const c = req.config
    const parity = this.#parity(req.route)
    const differences: Difference[] = []
    if (primary.status !== shadow.status) differences.push({ path: 'status', primary: primary.status, shadow: shadow.status })
    // Two error pages of the same status are the same answer, unless the route says otherwise.
    else if (primary.status >= 400 && !c.compare.errorBodies) return this.#record(req, primary, shadow, differences)
    for (const h of c.compare.headers) {
      const a = String(primary.headers[h] ?? '')
      const b = String(shadow.headers[h] ?? '')
      if (a !== b) differences.push({ path: `header ${h}`, primary: a, shadow: b })
    }
    if (isJson(primary.headers) && isJson(shadow.headers)) {
      let a: unknown
      let b: unknown
      try {
        a = JSON.parse(primary.body.toString('utf8'))
        b = JSON.parse(shadow.body.toString('utf8'))
      } catch {
        if (!sameText(primary.body.toString('utf8'), shadow.body.toString('utf8'), c.compare.text)) differences.push({ path: 'body', primary: '(not JSON)', shadow: '(not JSON)' })
        return this.#record(req, primary, shadow, differences)
      }
      if (!withinDepth(a) || !withinDepth(b)) {
        // Too deep to walk: equal bytes are equal, anything else is one difference.
        if (!primary.body.equals(shadow.body)) differences.push({ path: 'body', primary: `(nested deeper than ${MAX_DEPTH} levels)`, shadow: `(nested deeper than ${MAX_DEPTH} levels)` })
        return this.#record(req, primary, shadow, differences)
      }
      const ignore: PathSet = { has: (p) => c.compare.ignore.has(p) || parity.noise.has(p) }
      if (again?.body !== undefined && isJson(again.headers)) this.#learn(req.route, parity, a, again.body, ignore)
      differences.push(...diffJson(a, b, { ignore, unordered: c.compare.unordered }))
    } else if (!sameText(primary.body.toString('utf8'), shadow.body.toString('utf8'), c.compare.text)) {
      differences.push({ path: 'body', primary: `${primary.body.length} bytes`, shadow: `${shadow.body.length} bytes` })
    }
    this.#record(req, primary, shadow, differences)
  }

  /**
   * Diffy's trick: what differs between two calls of the same backend is noise. A
   * pattern is learned only once it has differed NOISE_AFTER times, within bounds, so
   * answers whose keys vary per request cannot grow the set (or the cost of each
   * comparison) without limit. Only leaf fields are learned, never an object or an
   * array: the two calls are compared with every array in order, so a value that
   * varies inside an unordered array is learned as the element's field
   * ("$.items[*].ts"), never as the array. And learning stops, with a warning on
   * /parity, before configured and learned ignores cover more than half of the answer.
   */
  #learn (route: string, parity: RouteParity, first: unknown, againBody: Buffer, ignore: PathSet): void {
    let again: unknown
    try {
      again = JSON.parse(againBody.toString('utf8'))
    } catch {
      return
    }
    if (!withinDepth(again)) return
    for (const d of diffJson(first, again, { ignore, unordered: NO_PATHS })) {
      if (parity.noise.size >= NOISE_MAX) return
      const p = pattern(d.path)
      if (p.length > PATH_CHARS || !isLeaf(d.primary) || !isLeaf(d.shadow) || /\.length$/.test(p)) continue
      const seen = (parity.noiseSeen.get(p) ?? 0) + 1
      if (seen < NOISE_AFTER) {
        if (parity.noiseSeen.has(p) || parity.noiseSeen.size < NOISE_SEEN_MAX) parity.noiseSeen.set(p, seen)
        continue
      }
      const share = ignoredShare(first, { has: (x) => x === p || ignore.has(x) })
      if (share > MAX_IGNORED_SHARE) {
        const warning = `${p} differs between two calls of the same backend, but learning it would leave ${Math.round(share * 100)} % of the answer's fields uncompared (limit ${MAX_IGNORED_SHARE * 100} %): not learned; compare.ignore it by hand if it is noise`
        if (parity.warning !== warning) this.#log.warn({ route, field: p, share }, warning)
        parity.warning = warning
        continue
      }
      parity.noise.set(p, { learnedAt: new Date().toISOString(), differences: seen })
      parity.noiseSeen.delete(p)
    }
  }

  /** Forgets a learned pattern: it is compared again (and learned again only if it keeps differing). */
  unlearn (route: string, path: string): boolean {
    const p = this.#routes.get(route)
    if (p === undefined || !p.noise.delete(path)) return false
    p.noiseSeen.delete(path)
    p.warning = undefined
    return true
  }

  #record (req: ShadowRequest, primary: Captured, shadow: Captured, differences: Difference[]): void {
    this.#parity(req.route).pairs.record(req.who, pathTemplate(req.path), differences.length > 0, Date.now())
    if (differences.length === 0) {
      this.count(req.route, 'match')
      return
    }
    this.count(req.route, 'mismatch')
    const parity = this.#parity(req.route)
    const kind = authMismatch(primary, shadow) ? 'auth' : 'answer'
    if (kind === 'auth') {
      parity.authMismatches++
      this.#log.warn({ route: req.route, reqId: req.requestId, path: req.path, primary: { backend: req.primaryBackend, status: primary.status }, shadow: { backend: req.target.backend.name, status: shadow.status } }, 'auth parity: one backend refused what the other served')
    }
    const samples = parity.samples
    samples.push({
      at: new Date().toISOString(),
      requestId: req.requestId,
      method: req.method,
      path: req.path,
      primary: { backend: req.primaryBackend, status: primary.status },
      shadow: { backend: req.target.backend.name, status: shadow.status },
      kind,
      differences: differences.slice(0, 20).map((d) => {
        // Statuses are the proxy's business; bodies and headers are the users'.
        const full = d.path === 'status' || d.path === 'body' || req.config.recordValues
        return { field: cut(d.path, PATH_CHARS), primary: show(d.primary, full), shadow: show(d.shadow, full) }
      })
    })
    if (samples.length > SAMPLES_PER_ROUTE) samples.shift()
  }

  /** Parity per route over the window (matches / compared), totals, learned noise and samples. */
  report (): Record<string, unknown> {
    const shares = this.window.shares()
    const out: Record<string, unknown> = {}
    for (const [route, p] of this.#routes) {
      out[route] = {
        parity: shares.get(route) ?? null,
        windowSeconds: this.window.windowMs / 1000,
        totals: p.totals,
        authMismatches: p.authMismatches,
        noise: [...p.noise].map(([path, n]) => ({ path, ...n })).sort((a, b) => a.path.localeCompare(b.path)),
        ...(p.warning === undefined ? {} : { warning: p.warning }),
        samples: p.samples
      }
    }
    return out
  }

  authMismatches (): ReadonlyMap<string, number> {
    return new Map([...this.#routes].map(([r, p]) => [r, p.authMismatches]))
  }

  /** Distinct (user, endpoint) pairs compared and mismatched so far, per route. */
  pairTotals (route: string): { pairs: number, mismatched: number } {
    const p = this.#routes.get(route)?.pairs
    return { pairs: p?.pairs ?? 0, mismatched: p?.mismatched ?? 0 }
  }

  /** Users whose pairs mismatched since markPairs (a ramp window's start, which also starts the pairs afresh). */
  mismatchUsers (route: string): number {
    return this.#routes.get(route)?.pairs.mismatchUsers.size ?? 0
  }

  markPairs (route: string): void {
    this.#routes.get(route)?.pairs.restart()
  }

  totals (): ReadonlyMap<string, Readonly<Record<ShadowResult, number>>> {
    return new Map([...this.#routes].map(([r, p]) => [r, p.totals]))
  }

  parityOf (route: string): number | undefined {
    return this.window.shares().get(route)
  }
}
