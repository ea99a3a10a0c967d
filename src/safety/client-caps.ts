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
  readonly #counts = new Map<string, number>()
  #period = -1
  /** Samples refused in this process's life, for strangler_evidence_ignored_total. */
  refused = 0

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
      this.#counts.clear()
    }
    const a = `${scope}\0a\0${address}`
    const u = user === undefined ? undefined : `${scope}\0u\0${user}`
    const na = this.#counts.get(a) ?? 0
    const nu = u === undefined ? 0 : this.#counts.get(u) ?? 0
    const fresh = (na === 0 ? 1 : 0) + (u !== undefined && nu === 0 ? 1 : 0)
    if (na >= this.#config.perAddress || nu >= this.#config.perUser || this.#counts.size + fresh > MAX_SOURCES) {
      this.refused++
      return false
    }
    this.#counts.set(a, na + 1)
    if (u !== undefined) this.#counts.set(u, nu + 1)
    return true
  }
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
