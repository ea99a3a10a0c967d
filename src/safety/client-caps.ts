/**
 * No one client dominates the evidence: within each period, a client address and a
 * user each contribute at most `cap` samples per route and backend; the rest are
 * served as usual and simply not counted. Distinct sources are counted too, so a
 * verdict can require several. Tumbling periods keep this a few map operations per
 * request; the map is cleared each period and bounded within one.
 */
export interface CapsConfig {
  /** Milliseconds per period. */
  readonly period: number
  readonly perAddress: number
  readonly perUser: number
}

/** Sources tracked in one period; past it new sources are not counted (the verdict waits, which is safe). */
const MAX_SOURCES = 50_000

export class ClientCaps {
  readonly #config: CapsConfig
  /** scope → address or user → samples this period; nested, so no key is built per request. */
  readonly #addresses = new Map<string, Map<string, number>>()
  readonly #users = new Map<string, Map<string, number>>()
  #sources = 0
  #period = -1

  constructor (config: CapsConfig) {
    this.#config = config
  }

  get config (): CapsConfig {
    return this.#config
  }

  /** Whether one more sample from this address and user on `scope` (route and backend) counts. */
  admit (scope: string, address: string, user: string | undefined, now: number): boolean {
    const period = Math.floor(now / this.#config.period)
    if (period !== this.#period) {
      this.#period = period
      this.#addresses.clear()
      this.#users.clear()
      this.#sources = 0
    }
    const addresses = within(this.#addresses, scope)
    const na = addresses.get(address) ?? 0
    const users = user === undefined ? undefined : within(this.#users, scope)
    const nu = user === undefined ? 0 : users?.get(user) ?? 0
    const fresh = (na === 0 ? 1 : 0) + (user !== undefined && nu === 0 ? 1 : 0)
    if (na >= this.#config.perAddress || nu >= this.#config.perUser || this.#sources + fresh > MAX_SOURCES) {
      return false
    }
    this.#sources += fresh
    addresses.set(address, na + 1)
    if (user !== undefined) users?.set(user, nu + 1)
    return true
  }
}

function within (maps: Map<string, Map<string, number>>, scope: string): Map<string, number> {
  let m = maps.get(scope)
  if (m === undefined) maps.set(scope, m = new Map())
  return m
}

/** Distinct values seen, counted up to a bound (a verdict needs a handful, not millions). */
export class Distinct {
  readonly #seen = new Set<string>()
  constructor (private readonly bound = 10_000) {}

  add (value: string | undefined): void {
    if (value !== undefined && this.#seen.size < this.bound) this.#seen.add(value)
  }

  get size (): number {
    return this.#seen.size
  }

  clear (): void {
    this.#seen.clear()
  }
}
