/**
 * Parity judged per user and endpoint, not per request: the unit is a distinct
 * (user, path template) pair within a period, mismatched if any of its comparisons
 * differed. A flood of matching copies from one client adds at most PAIRS_PER_USER
 * pairs a period, so it cannot dilute real mismatches; the gate also counts how many
 * users the mismatches came from, so one odd request cannot fail it alone.
 */
import { Distinct } from './client-caps.js'

/** Pairs are distinct within a ramp's window, or within a period where no window is known (a fleet's replicas). */
export const PAIR_PERIOD_MS = 10 * 60_000
/** Pairs one user (or address) may add per period and route. */
export const PAIRS_PER_USER = 10
/** Pairs remembered per period and route; past it new pairs are not counted. */
const MAX_PAIRS = 50_000

export class ParityPairs {
  #period = -1
  /** Pair key → mismatched so far. */
  readonly #pairs = new Map<string, boolean>()
  readonly #perUser = new Map<string, number>()
  /** Users whose pairs mismatched since the window mark (a ramp step's window). */
  readonly mismatchUsers = new Distinct()
  /** Distinct pairs and mismatched pairs, monotonic (strangler_shadow_pairs_total). */
  pairs = 0
  mismatched = 0

  record (who: string, template: string, mismatch: boolean, now: number): void {
    const period = Math.floor(now / PAIR_PERIOD_MS)
    if (period !== this.#period) {
      this.#period = period
      this.#pairs.clear()
      this.#perUser.clear()
    }
    const key = `${who}\0${template}`
    const seen = this.#pairs.get(key)
    if (seen === undefined) {
      const n = this.#perUser.get(who) ?? 0
      if (n >= PAIRS_PER_USER || this.#pairs.size >= MAX_PAIRS) return
      this.#perUser.set(who, n + 1)
      this.#pairs.set(key, mismatch)
      this.pairs++
      if (mismatch) this.#mismatch(who)
      return
    }
    if (mismatch && !seen) {
      this.#pairs.set(key, true)
      this.#mismatch(who)
    }
  }

  /** A window begins (a ramp's step): every pair counts afresh in it. */
  restart (): void {
    this.#pairs.clear()
    this.#perUser.clear()
    this.mismatchUsers.clear()
  }

  #mismatch (who: string): void {
    this.mismatched++
    this.mismatchUsers.add(who)
  }
}
