/**
 * Verified JWT claims remembered by the exact token: verifying a signature costs tens
 * of microseconds, a lookup here well under one. Only tokens that verified are kept,
 * and each only until its exp (never past MAX_TTL_MS, never for a token without exp
 * beyond that), so an expired, tampered or never-valid token can never come from
 * here: a different byte is a different key, and a miss always verifies. A cache
 * belongs to one verifier, whose keys and rules come from one config: a reload that
 * rotates the secret builds a new verifier and an empty cache.
 */
import type { JWTPayload } from 'jose'

/** Entries kept; the whole cache is dropped when full (no LRU bookkeeping per hit). */
export const MAX_ENTRIES = 10_000
/** Characters of tokens kept (about 2 bytes each), whichever bound comes first. */
export const MAX_TOKEN_CHARS = 8 * 1024 * 1024
/** A verified token is trusted from memory for at most this long, whatever its exp. */
export const MAX_TTL_MS = 5 * 60_000
/** Longer tokens are verified every time rather than remembered. */
const MAX_TOKEN_LENGTH = 8192

interface Entry { readonly claims: JWTPayload, readonly until: number }

export class ClaimsCache {
  #entries = new Map<string, Entry>()
  #chars = 0

  get (token: string, now: number): JWTPayload | undefined {
    const e = this.#entries.get(token)
    if (e === undefined) return undefined
    if (now < e.until) return e.claims
    this.#entries.delete(token)
    this.#chars -= token.length
    return undefined
  }

  /** After a successful verification only. */
  set (token: string, claims: JWTPayload, now: number): void {
    if (token.length > MAX_TOKEN_LENGTH) return
    // exp is in seconds; the entry ends at exp (exclusive), as jose's own check does.
    const exp = typeof claims.exp === 'number' ? claims.exp * 1000 : Number.POSITIVE_INFINITY
    const until = Math.min(exp, now + MAX_TTL_MS)
    if (until <= now) return
    if (this.#entries.size >= MAX_ENTRIES || this.#chars + token.length > MAX_TOKEN_CHARS) {
      this.#entries = new Map()
      this.#chars = 0
    }
    this.#entries.set(token, { claims, until })
    this.#chars += token.length
  }

  get size (): number {
    return this.#entries.size
  }
}
