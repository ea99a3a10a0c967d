/**
 * Window figures for a fleet: the same evidence as LocalFigures, summed over every
 * replica by Prometheus. increase() over the window since the step began; the latency
 * histogram summed per bucket, so the fleet's latency gate has the rank test and the
 * p99 a single proxy's has. An answer that is not a clean number (an HTTP error, a
 * timeout, a malformed body) throws, and the ramp waits.
 */
import type { PromQL, Series } from './promql.js'
import { EVIDENCE_BUCKETS, evidenceP99 } from '../safety/evidence-series.js'
import type { FigureSource, SideFigures, WindowFigures, WindowSides } from './figures.js'

/** Label values come from routes.yaml names; quoted for PromQL all the same. */
const q = (v: string): string => JSON.stringify(v)

export class PrometheusFigures implements FigureSource {
  readonly #prom: PromQL
  readonly #now: () => number

  constructor (prom: PromQL, now: () => number = Date.now) {
    this.#prom = prom
    this.#now = now
  }

  mark (): void {}

  async read (sides: WindowSides, since: number): Promise<WindowFigures> {
    // Whole seconds, at least one scrape's worth: Prometheus ranges are durations.
    const range = `${Math.max(1, Math.ceil((this.#now() - since) / 1000))}s`
    const count = (selector: string): string => `sum(increase(strangler_evidence_requests_total{${selector}}[${range}])) or vector(0)`
    const side = async (backend: string): Promise<SideFigures> => {
      const sel = `route=${q(sides.route)},backend=${q(backend)}`
      const [requests, errors, clientErrors, cumulative] = await Promise.all([
        this.#prom.scalar(`${backend} requests`, count(sel)),
        this.#prom.scalar(`${backend} 5xx`, count(`${sel},class="5xx"`)),
        this.#prom.scalar(`${backend} 4xx`, count(`${sel},class="4xx"`)),
        this.#prom.series(`${backend} latency buckets`, `sum by (le) (increase(strangler_evidence_seconds_bucket{${sel}}[${range}]))`)
      ])
      const buckets = perBucket(cumulative)
      // Without latency samples (none answered) there is no p99, not a bad figure.
      const timed = buckets.reduce((a, n) => a + n, 0)
      return { requests: requests ?? 0, errors: errors ?? 0, clientErrors: clientErrors ?? 0, p99: timed > 0 ? evidenceP99(buckets) : undefined, buckets, sources: undefined }
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

/**
 * Prometheus's cumulative `le` series as samples per bucket of EVIDENCE_BUCKETS (the
 * last +Inf). increase() extrapolates each series on its own, so a bucket can read a
 * hair under the one below: that is 0, not a negative count. NaN stays NaN for the
 * sanity check to name; an `le` the proxy does not write is not evidence.
 */
export function perBucket (series: readonly Series[]): number[] {
  const cumulative = new Array<number | undefined>(EVIDENCE_BUCKETS.length + 1).fill(undefined)
  for (const s of series) {
    const le = s.labels.le
    const i = le === '+Inf' ? EVIDENCE_BUCKETS.length : EVIDENCE_BUCKETS.indexOf(Number(le))
    if (le !== undefined && i >= 0) cumulative[i] = s.value
  }
  let below = 0
  return cumulative.map((c) => {
    if (c === undefined) return 0
    const n = Number.isNaN(c) ? c : Math.max(0, c - below)
    if (!Number.isNaN(c)) below = Math.max(below, c)
    return n
  })
}
