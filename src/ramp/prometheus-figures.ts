/**
 * Window figures for a fleet: the same evidence as LocalFigures, summed over every
 * replica by Prometheus. increase() over the window since the step began; p99 by
 * histogram_quantile over the summed buckets. An answer that is not a clean number
 * (an HTTP error, a timeout, a malformed body) throws, and the ramp waits.
 */
import { request } from 'undici'
import type { FigureSource, SideFigures, WindowFigures, WindowSides } from './figures.js'

/** Label values come from routes.yaml names; quoted for PromQL all the same. */
const q = (v: string): string => JSON.stringify(v)

export class PrometheusFigures implements FigureSource {
  readonly #url: string
  readonly #now: () => number
  readonly #timeout: number

  constructor (url: string, timeoutMs: number, now: () => number = Date.now) {
    this.#url = url.replace(/\/+$/, '')
    this.#timeout = timeoutMs
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
        this.#scalar(`${backend} requests`, count(sel)),
        this.#scalar(`${backend} 5xx`, count(`${sel},class="5xx"`)),
        this.#scalar(`${backend} 4xx`, count(`${sel},class="4xx"`)),
        this.#scalar(`${backend} latency samples`, `sum(increase(strangler_evidence_seconds_count{${sel}}[${range}])) or vector(0)`),
        this.#scalar(`${backend} p99`, `histogram_quantile(0.99, sum by (le) (increase(strangler_evidence_seconds_bucket{${sel}}[${range}])))`)
      ])
      // Without latency samples (none answered) histogram_quantile gives NaN: that is "no p99", not a bad figure.
      return { requests: requests ?? 0, errors: errors ?? 0, clientErrors: clientErrors ?? 0, p99: timed === 0 ? undefined : p99, sources: undefined }
    }
    const parity = (result: string): string => `sum(increase(strangler_shadow_pairs_total{route=${q(sides.route)},result="${result}"}[${range}])) or vector(0)`
    const [candidate, baseline, match, mismatch] = await Promise.all([
      side(sides.candidate),
      side(sides.baseline),
      sides.shadowed ? this.#scalar('matching comparisons', parity('match')) : undefined,
      sides.shadowed ? this.#scalar('mismatching comparisons', parity('mismatch')) : undefined
    ])
    return { candidate, baseline, parity: sides.shadowed ? { match: match ?? 0, mismatch: mismatch ?? 0 } : undefined }
  }

  /** The single value of an instant query; undefined when the result is empty. */
  async #scalar (name: string, query: string): Promise<number | undefined> {
    const fail = (why: string): Error => new Error(`Prometheus query for ${name}: ${why}`)
    let status: number
    let body: unknown
    try {
      const res = await request(`${this.#url}/api/v1/query?query=${encodeURIComponent(query)}`, { headersTimeout: this.#timeout, bodyTimeout: this.#timeout, signal: AbortSignal.timeout(this.#timeout) })
      status = res.statusCode
      const text = await res.body.text()
      body = status === 200 ? JSON.parse(text) : text.slice(0, 200)
    } catch (err) {
      const e = err as Error
      throw fail(e.name === 'TimeoutError' || e.name === 'AbortError' ? `no answer within ${this.#timeout} ms` : e instanceof SyntaxError ? 'the answer is not JSON' : e.message)
    }
    if (status !== 200) throw fail(`HTTP ${status} ${String(body)}`)
    const b = body as { status?: unknown, data?: { result?: unknown } }
    if (b?.status !== 'success' || !Array.isArray(b.data?.result)) throw fail(`not a successful vector answer: ${JSON.stringify(body).slice(0, 200)}`)
    const first = b.data.result[0] as { value?: unknown } | undefined
    if (first === undefined) return undefined
    const v = first.value
    if (!Array.isArray(v) || v.length !== 2 || typeof v[1] !== 'string') throw fail(`malformed sample ${JSON.stringify(first).slice(0, 200)}`)
    // NaN and ±Inf come through as such: the gates' checks say what is wrong with them.
    return Number(v[1])
  }
}
