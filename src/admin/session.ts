/**
 * Read-only browser sessions for the status page: the admin token is exchanged once
 * (POST /status/login) for a random id in an HttpOnly, SameSite=Strict cookie. The
 * cookie opens GET requests only; everything that changes state still needs the
 * bearer token, which a browser never sends on its own, so no request can be forged.
 */
import { randomBytes } from 'node:crypto'
import { ADMIN_SESSION_COOKIE } from '../proxy/headers.js'

export const SESSION_COOKIE = ADMIN_SESSION_COOKIE
const LIFETIME_MS = 12 * 3_600_000
/** Sessions kept at most; the oldest goes first. */
const MAX_SESSIONS = 1000

export class ReadSessions {
  readonly #sessions = new Map<string, number>()

  issue (now = Date.now()): { id: string, cookie: string } {
    const id = randomBytes(32).toString('base64url')
    this.#sessions.set(id, now + LIFETIME_MS)
    if (this.#sessions.size > MAX_SESSIONS) this.#sessions.delete(this.#sessions.keys().next().value as string)
    return { id, cookie: `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${LIFETIME_MS / 1000}` }
  }

  valid (cookieHeader: string | undefined, now = Date.now()): boolean {
    if (cookieHeader === undefined) return false
    for (const part of cookieHeader.split(';')) {
      const [name, value] = part.trim().split('=', 2)
      if (name !== SESSION_COOKIE || value === undefined) continue
      const expires = this.#sessions.get(value)
      if (expires !== undefined && expires > now) return true
      this.#sessions.delete(value)
    }
    return false
  }
}
