/**
 * Simulated traffic for the decision simulations: Poisson arrivals per side, lognormal
 * latency (median 20 ms, p99 about 120 ms), rare pauses, a small 5xx baseline, and
 * clients drawn from a pool of addresses. Seeded, so a run can be repeated.
 */

/** Mulberry32: small, fast, seedable. */
export function rng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface Profile {
  /** Multiplies every latency (a latency regression: 1.5, 2, 3). */
  readonly latencyFactor: number
  /** 5xx probability. */
  readonly errorRatio: number
  /** Probability of a pause, and its length in seconds (GC, a noisy neighbour). */
  readonly pauseRatio: number
  readonly pauseSeconds: number
}

export const HEALTHY: Profile = { latencyFactor: 1, errorRatio: 0.001, pauseRatio: 0, pauseSeconds: 0.2 }
export const PAUSES: Profile = { ...HEALTHY, pauseRatio: 0.005 }

const MEDIAN = 0.020
/** p99 = median × e^(2.326 σ) ≈ 120 ms. */
const SIGMA = Math.log(6) / 2.326

export interface Request { readonly t: number, readonly error: boolean, readonly seconds: number, readonly client: string }

export class Side {
  #next: number
  constructor (private readonly rate: number, private readonly random: () => number, start: number, private readonly clients = 200) {
    this.#next = start + this.#gap()
  }

  #gap (): number {
    return -Math.log(1 - this.random()) / this.rate * 1000
  }

  #normal (): number {
    const u = 1 - this.random()
    const v = this.random()
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
  }

  /** The requests arriving before `until` (ms), under `profile`. */
  * until (until: number, profile: Profile): Generator<Request> {
    while (this.#next < until) {
      const t = this.#next
      this.#next += this.#gap()
      let seconds = MEDIAN * Math.exp(SIGMA * this.#normal()) * profile.latencyFactor
      if (this.random() < profile.pauseRatio) seconds += profile.pauseSeconds
      yield { t, error: this.random() < profile.errorRatio, seconds, client: `10.0.${Math.floor(this.random() * this.clients)}.1` }
    }
  }
}

/** Median of a list (undefined when empty). */
export function median (xs: readonly number[]): number | undefined {
  if (xs.length === 0) return undefined
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

export const RATES = [1, 5, 20, 100, 1000] as const

export function table (rows: ReadonlyArray<readonly string[]>): string {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  const line = (r: readonly string[]): string => `| ${r.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`
  return [line(rows[0] as string[]), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.slice(1).map(line)].join('\n')
}
