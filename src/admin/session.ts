/**
 * Read-only browser sessions for the status page: an operator's token is exchanged once
 * (POST /status/login) for a random id in an HttpOnly, SameSite=Strict cookie that
 * remembers who signed in. The cookie opens GET requests only; everything that changes
 * state still needs the bearer token, which a browser never sends on its own, so no
 * request can be forged. Sign-in tries are throttled per client address.
 */
import { randomBytes } from 'node:crypto'
import type { TLSSocket } from 'node:tls'
import type { FastifyRequest } from 'fastify'
import { ADMIN_SESSION_COOKIE } from '../proxy/headers.js'
import type { Operator } from './operators.js'

export const SESSION_COOKIE = ADMIN_SESSION_COOKIE
const LIFETIME_MS = 12 * 3_600_000
/** Sessions kept at most; the oldest goes first. */
const MAX_SESSIONS = 1000
/** Failed sign-ins per address per minute before the next is refused with 429. */
export const SIGN_IN_TRIES = 5
const TRY_PERIOD_MS = 60_000
const MAX_ADDRESSES = 10_000

interface Session { readonly operator: Operator, readonly expires: number }

export class ReadSessions {
  readonly #sessions = new Map<string, Session>()
  readonly #failures = new Map<string, number>()
  #period = -1

  /** A new session for `operator`; `secure` adds the Secure flag (the page is served over HTTPS). */
  issue (operator: Operator, secure: boolean, now = Date.now()): { id: string, cookie: string } {
    const id = randomBytes(32).toString('base64url')
    this.#sessions.set(id, { operator, expires: now + LIFETIME_MS })
    if (this.#sessions.size > MAX_SESSIONS) this.#sessions.delete(this.#sessions.keys().next().value as string)
    return { id, cookie: `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${LIFETIME_MS / 1000}${secure ? '; Secure' : ''}` }
  }

  /** The operator a request's cookie stands for, while the session lasts. */
  operator (cookieHeader: string | undefined, now = Date.now()): Operator | undefined {
    for (const id of ids(cookieHeader)) {
      const s = this.#sessions.get(id)
      if (s !== undefined && s.expires > now) return s.operator
      this.#sessions.delete(id)
    }
    return undefined
  }

  /** Ends the request's session; the cookie that clears it in the browser. */
  end (cookieHeader: string | undefined, secure: boolean): string {
    for (const id of ids(cookieHeader)) this.#sessions.delete(id)
    return `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure ? '; Secure' : ''}`
  }

  /** False when `address` has failed SIGN_IN_TRIES times this minute. */
  mayTry (address: string, now = Date.now()): boolean {
    this.#roll(now)
    return (this.#failures.get(address) ?? 0) < SIGN_IN_TRIES
  }

  failed (address: string, now = Date.now()): void {
    this.#roll(now)
    if (this.#failures.size >= MAX_ADDRESSES && !this.#failures.has(address)) return
    this.#failures.set(address, (this.#failures.get(address) ?? 0) + 1)
  }

  #roll (now: number): void {
    const period = Math.floor(now / TRY_PERIOD_MS)
    if (period === this.#period) return
    this.#period = period
    this.#failures.clear()
  }
}

function ids (cookieHeader: string | undefined): string[] {
  if (cookieHeader === undefined) return []
  return cookieHeader.split(';').map((part) => part.trim().split('=', 2)).filter(([name, value]) => name === SESSION_COOKIE && value !== undefined && value !== '').map(([, value]) => value as string)
}

/** Over TLS, or a trusted proxy in front says the browser used HTTPS: the session cookie gets Secure. */
export function servedOverHttps (request: FastifyRequest, isTrusted: (addr: string) => boolean): boolean {
  if ((request.raw.socket as TLSSocket).encrypted === true) return true
  const proto = request.headers['x-forwarded-proto']
  return typeof proto === 'string' && proto.split(',')[0]?.trim().toLowerCase() === 'https' && isTrusted(request.raw.socket.remoteAddress ?? '')
}
