/**
 * Resolved identities per session, bounded in entries and bytes, each until its TTL
 * (shorter for an anonymous answer). Least recently used goes first. Keys are hashes
 * of the session credentials, so the cache holds no cookie or token in the clear.
 */
export interface Entry {
  /** The kept fields of legacy's answer; undefined: legacy said nobody is signed in. */
  readonly claims: Readonly<Record<string, unknown>> | undefined
  readonly expires: number
  readonly bytes: number
  /** Signed tokens per audience, with when each stops being worth sending. */
  readonly tokens: Map<string, { readonly token: string, readonly until: number }>
}

export class IdentityCache {
  readonly #entries = new Map<string, Entry>()
  #bytes = 0
  #maxEntries: number
  #maxBytes: number

  constructor (maxEntries: number, maxBytes: number) {
    this.#maxEntries = maxEntries
    this.#maxBytes = maxBytes
  }

  configure (maxEntries: number, maxBytes: number): void {
    this.#maxEntries = maxEntries
    this.#maxBytes = maxBytes
    this.#evict()
  }

  get (key: string, now: number): Entry | undefined {
    const e = this.#entries.get(key)
    if (e === undefined) return undefined
    this.#entries.delete(key)
    if (e.expires <= now) {
      this.#bytes -= e.bytes
      return undefined
    }
    this.#entries.set(key, e)
    return e
  }

  set (key: string, claims: Entry['claims'], ttl: number, now: number): Entry {
    this.delete(key)
    const entry: Entry = { claims, expires: now + ttl, bytes: key.length + (claims === undefined ? 0 : JSON.stringify(claims).length), tokens: new Map() }
    this.#entries.set(key, entry)
    this.#bytes += entry.bytes
    this.#evict()
    return entry
  }

  delete (key: string): boolean {
    const e = this.#entries.get(key)
    if (e === undefined) return false
    this.#entries.delete(key)
    this.#bytes -= e.bytes
    return true
  }

  get size (): number {
    return this.#entries.size
  }

  get bytes (): number {
    return this.#bytes
  }

  #evict (): void {
    for (const [key, e] of this.#entries) {
      if (this.#entries.size <= this.#maxEntries && this.#bytes <= this.#maxBytes) return
      this.#entries.delete(key)
      this.#bytes -= e.bytes
    }
  }
}
