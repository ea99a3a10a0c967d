/**
 * The identity bridge: who legacy signed in, asked of legacy once per session and TTL
 * (cache.ts), handed to the new backends as a signed token (token.ts). Concurrent
 * requests of one session wait for one lookup. A lookup that fails is never cached and
 * never guessed: the caller applies identity.onFailure.
 */
import { hash } from 'node:crypto'
import { request } from 'undici'
import type { IdentityConfig } from '../config/config.js'
import { readCookie } from '../routing/cookies.js'
import { IdentityCache, type Entry } from './cache.js'
import type { Signer } from './token.js'

export type Resolved =
  | { readonly kind: 'user', readonly subject: string, readonly claims: Readonly<Record<string, unknown>>, readonly entry: Entry }
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'failed', readonly error: string }

const ANONYMOUS: Resolved = Object.freeze({ kind: 'anonymous' })
/** Legacy's answer is read up to this many bytes. */
const MAX_ANSWER = 64 * 1024

export type Result = 'hit' | 'resolved' | 'anonymous' | 'no_session' | 'failed'

export class IdentityBridge {
  #config: IdentityConfig
  #signer: Signer
  readonly #cache: IdentityCache
  readonly #inflight = new Map<string, Promise<Resolved>>()
  readonly #counts: Record<Result, number> = { hit: 0, resolved: 0, anonymous: 0, no_session: 0, failed: 0 }
  readonly #seconds: number[] = []

  constructor (config: IdentityConfig, signer: Signer) {
    this.#config = config
    this.#signer = signer
    this.#cache = new IdentityCache(config.cache.maxEntries, config.cache.maxBytes)
  }

  /** A reload: the same cache (sessions did not change), new limits, key and endpoint. */
  configure (config: IdentityConfig, signer: Signer): void {
    this.#config = config
    this.#signer = signer
    this.#cache.configure(config.cache.maxEntries, config.cache.maxBytes)
  }

  get config (): IdentityConfig {
    return this.#config
  }

  get jwks (): Signer['jwks'] {
    return this.#signer.jwks
  }

  /** Who sent this request, as legacy sees it; synchronous when the session was looked up lately. */
  resolve (headers: Readonly<Record<string, string | string[] | undefined>>, now = Date.now()): Resolved | Promise<Resolved> {
    const key = this.#key(headers)
    if (key === undefined) return this.#count('no_session', ANONYMOUS)
    const hit = this.#cache.get(key, now)
    if (hit !== undefined) return this.#count('hit', this.#resolved(hit))
    let pending = this.#inflight.get(key)
    if (pending === undefined) {
      pending = this.#lookup(key, headers).finally(() => this.#inflight.delete(key))
      this.#inflight.set(key, pending)
    }
    return pending
  }

  /** The token for `audience` (a backend): reused until half its life is over. */
  token (user: Extract<Resolved, { kind: 'user' }>, audience: string, now = Date.now()): string | Promise<string> {
    const t = this.#config.token
    const cached = user.entry.tokens.get(audience)
    if (cached !== undefined && cached.until > now) return cached.token
    return this.#signer.sign(user.claims, user.subject, audience, t.issuer, t.ttl, now).then((token) => {
      user.entry.tokens.set(audience, { token, until: now + t.ttl / 2 })
      return token
    })
  }

  /** Forgets a session (legacy's logout hook): `credential` is the session cookie's or header's value. */
  purge (credential: string): boolean {
    return this.#config.session.map((_, i) => this.#cache.delete(hashOf(i, credential))).some(Boolean)
  }

  /** Lookups so far by result, for the metrics. */
  get counts (): Readonly<Record<Result, number>> {
    return this.#counts
  }

  /** Bytes the cached identities take, as identity.cache.maxBytes counts them. */
  get cachedBytes (): number {
    return this.#cache.bytes
  }

  get cached (): number {
    return this.#cache.size
  }

  /** Legacy's answer times since the last call (seconds), for the latency histogram. */
  drainSeconds (): number[] {
    return this.#seconds.splice(0)
  }

  #count (result: Result, r: Resolved): Resolved {
    this.#counts[result]++
    return r
  }

  #resolved (e: Entry): Resolved {
    return e.claims === undefined ? ANONYMOUS : { kind: 'user', subject: String(e.claims[this.#config.resolve.subject]), claims: e.claims, entry: e }
  }

  /** The cache key of the request's session: a hash of the first credential present. */
  #key (headers: Readonly<Record<string, string | string[] | undefined>>): string | undefined {
    const sources = this.#config.session
    for (let i = 0; i < sources.length; i++) {
      const s = sources[i]
      const v = s === undefined ? undefined : 'cookie' in s ? readCookie(headers.cookie, s.cookie) : 'header' in s ? first(headers[s.header]) : undefined
      if (v !== undefined && v !== '') return hashOf(i, v)
    }
    return undefined
  }

  async #lookup (key: string, headers: Readonly<Record<string, string | string[] | undefined>>): Promise<Resolved> {
    const c = this.#config
    const started = performance.now()
    const forwarded: Record<string, string> = { accept: 'application/json' }
    for (const name of c.resolve.forward) {
      const v = first(headers[name])
      if (v !== undefined) forwarded[name] = v
    }
    try {
      const res = await request(c.resolve.url, { method: 'GET', headers: forwarded, headersTimeout: c.resolve.timeout, bodyTimeout: c.resolve.timeout, signal: AbortSignal.timeout(c.resolve.timeout) })
      const claims = await answerOf(res.statusCode, res.body, c)
      this.#seconds.push((performance.now() - started) / 1000)
      if (this.#seconds.length > 10_000) this.#seconds.splice(0, 5_000)
      if (claims === 'failed') return this.#count('failed', { kind: 'failed', error: `${c.resolve.url} answered ${res.statusCode}` })
      const entry = this.#cache.set(key, claims, claims === undefined ? c.cache.anonymousTtl : c.cache.ttl, Date.now())
      return this.#count(claims === undefined ? 'anonymous' : 'resolved', this.#resolved(entry))
    } catch (err) {
      return this.#count('failed', { kind: 'failed', error: (err as Error).message })
    }
  }
}

/** Legacy's answer: the kept fields of a user, undefined for nobody, 'failed' for anything unusable. */
async function answerOf (status: number, body: { text: () => Promise<string>, dump: () => Promise<void> }, c: IdentityConfig): Promise<Readonly<Record<string, unknown>> | undefined | 'failed'> {
  // Not signed in: what legacy apps answer when nobody is (including a redirect to the login page).
  if (status === 204 || status === 401 || status === 403 || status === 404 || (status >= 300 && status < 400)) {
    await body.dump()
    return undefined
  }
  if (status !== 200) {
    await body.dump()
    return 'failed'
  }
  const text = await body.text()
  if (text.length > MAX_ANSWER) return 'failed'
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    return 'failed'
  }
  if (data === null || typeof data !== 'object') return 'failed'
  const subject = (data as Record<string, unknown>)[c.resolve.subject]
  if (!((typeof subject === 'string' && subject !== '') || typeof subject === 'number')) return undefined
  const kept: Record<string, unknown> = {}
  for (const f of c.resolve.fields) if (Object.hasOwn(data, f)) kept[f] = (data as Record<string, unknown>)[f]
  return Object.freeze(kept)
}

/** On every request of a route with the bridge: the one-shot hash, half the cost of a Hash object. */
function hashOf (source: number, value: string): string {
  return hash('sha256', `${source}\u0000${value}`, 'base64url')
}

function first (v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v
}
