/**
 * Window figures for a fleet: the same numbers as LocalFigures, summed over every
 * replica by Prometheus. increase() over the window since the step began; p99 by
 * histogram_quantile over the summed buckets.
 */
import { request } from 'undici'
import type { FigureSource, SideFigures, WindowFigures, WindowSides } from './figures.js'

/** Label values come from routes.yaml names; quoted for PromQL all the same. */
const q = (v: string): string => JSON.stringify(v)

export class PrometheusFigures implements FigureSource {
  readonly #url: string
  readonly #now: () => number

  constructor (url: string, now: () => number = Date.now) {
    this.#url = url.replace(/\/+$/, '')
    this.#now = now
  }

  mark (): void {}

  async read (sides: WindowSides, since: number): Promise<WindowFigures> {
    // Whole seconds, at least one scrape's worth: Prometheus ranges are durations.
    const range = `${Math.max(1, Math.ceil((this.#now() - since) / 1000))}s`
    const side = async (backend: string): Promise<SideFigures> => {
      const sel = `route=${q(sides.route)},backend=${q(backend)}`
      const [requests, errors, p99] = await Promise.all([
        this.#scalar(`sum(increase(strangler_requests_total{${sel}}[${range}]))`),
        this.#scalar(`sum(increase(strangler_requests_total{${sel},code=~"5.."}[${range}]))`),
        this.#scalar(`histogram_quantile(0.99, sum by (le) (increase(strangler_request_duration_seconds_bucket{${sel}}[${range}])))`)
      ])
      return { requests: requests ?? 0, errors: errors ?? 0, p99: p99 === undefined || Number.isNaN(p99) ? undefined : p99 }
    }
    const [candidate, baseline, match, mismatch] = await Promise.all([
      side(sides.candidate),
      side(sides.baseline),
      sides.shadowed ? this.#scalar(`sum(increase(strangler_shadow_requests_total{route=${q(sides.route)},result="match"}[${range}]))`) : undefined,
      sides.shadowed ? this.#scalar(`sum(increase(strangler_shadow_requests_total{route=${q(sides.route)},result="mismatch"}[${range}]))`) : undefined
    ])
    return { candidate, baseline, parity: sides.shadowed ? { match: match ?? 0, mismatch: mismatch ?? 0 } : undefined }
  }

  /** The single value of an instant query; undefined when the result is empty. */
  async #scalar (query: string): Promise<number | undefined> {
    const res = await request(`${this.#url}/api/v1/query?query=${encodeURIComponent(query)}`, { headersTimeout: 5000, bodyTimeout: 5000 })
    const body = await res.body.json() as { status: string, error?: string, data?: { result: Array<{ value: [number, string] }> } }
    if (res.statusCode !== 200 || body.status !== 'success') throw new Error(`Prometheus ${res.statusCode}: ${body.error ?? 'query failed'}`)
    const first = body.data?.result[0]
    return first === undefined ? undefined : Number(first.value[1])
  }
}
