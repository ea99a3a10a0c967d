/**
 * Window figures for a fleet: the same evidence as LocalFigures, summed over every
 * replica by Prometheus. increase() over the window since the step began; p99 by
 * histogram_quantile over the summed buckets. An answer that is not a clean number
 * (an HTTP error, a timeout, a malformed body) throws, and the ramp waits.
 */
import { PromQL } from './promql.js'
import type { FigureSource, SideFigures, WindowFigures, WindowSides } from './figures.js'

/** Label values come from routes.yaml names; quoted for PromQL all the same. */
const q = (v: string): string => JSON.stringify(v)

export class PrometheusFigures implements FigureSource {
  readonly #prom: PromQL
  readonly #now: () => number

  constructor (url: string, timeoutMs: number, now: () => number = Date.now) {
    this.#prom = new PromQL(url, timeoutMs)
    this.#now = now
  }

  mark (): void {}

  async read (sides: WindowSides, since: number): Promise<WindowFigures> {
    // Whole seconds, at least one scrape's worth: Prometheus ranges are durations.
    const range = `${Math.max(1, Math.ceil((this.#now() - since) / 1000))}s`
    const count = (selector: string): string => `sum(increase(strangler_evidence_requests_total{${selector}}[${range}])) or vector(0)`
    const side = async (backend: string): Promise<SideFigures> => {
      const sel = `route=${q(sides.route)},backend=${q(backend)}`
      const [requests, errors, clientErrors, timed, p99] = await Promise.all([
        this.#prom.scalar(`${backend} requests`, count(sel)),
        this.#prom.scalar(`${backend} 5xx`, count(`${sel},class="5xx"`)),
        this.#prom.scalar(`${backend} 4xx`, count(`${sel},class="4xx"`)),
        this.#prom.scalar(`${backend} latency samples`, `sum(increase(strangler_evidence_seconds_count{${sel}}[${range}])) or vector(0)`),
        this.#prom.scalar(`${backend} p99`, `histogram_quantile(0.99, sum by (le) (increase(strangler_evidence_seconds_bucket{${sel}}[${range}])))`)
      ])
      // Without latency samples (none answered) histogram_quantile gives NaN: that is "no p99", not a bad figure.
      return { requests: requests ?? 0, errors: errors ?? 0, clientErrors: clientErrors ?? 0, p99: timed === 0 ? undefined : p99, sources: undefined }
    }
    const parity = (result: string): string => `sum(increase(strangler_shadow_pairs_total{route=${q(sides.route)},result="${result}"}[${range}])) or vector(0)`
    const [candidate, baseline, match, mismatch] = await Promise.all([
      side(sides.candidate),
      side(sides.baseline),
      sides.shadowed ? this.#prom.scalar('matching comparisons', parity('match')) : undefined,
      sides.shadowed ? this.#prom.scalar('mismatching comparisons', parity('mismatch')) : undefined
    ])
    return { candidate, baseline, parity: sides.shadowed ? { match: match ?? 0, mismatch: mismatch ?? 0 } : undefined }
  }
}
