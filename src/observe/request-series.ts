/**
 * The series every request updates (requests, duration, decisions), counted per route
 * and backend in plain structures and turned into metrics only when scraped.
 * prom-client hashes the whole label set on each inc() and observe(); at proxy rates
 * that cost more CPU per request than all of this file's counting.
 */
import type { Registry } from 'prom-client'

/** Seconds. Proxied HTTP: sub-millisecond local hops up to the 30 s default header timeout. */
export const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

/** One route and backend's counts. */
class Cell {
  /** method → status → requests */
  readonly codes = new Map<string, Map<number, number>>()
  /** reason → decisions */
  readonly reasons = new Map<string, number>()
  /** Observations per bucket (not cumulative); the last one is +Inf. */
  readonly buckets: Float64Array
  sum = 0
  count = 0
  /** Per bucket, the last traced observation (only with tracing on): OpenMetrics exemplars. */
  exemplars: Array<{ traceId: string, value: number, timestamp: number } | undefined> | undefined

  constructor (buckets: number) {
    this.buckets = new Float64Array(buckets + 1)
  }
}

type Labels = Record<string, string | number>

interface Sample { labels: Labels, value: number, metricName?: string }

export class RequestSeries {
  readonly #bounds: readonly number[]
  readonly #cells = new Map<string, Map<string, Cell>>()

  constructor (bounds: readonly number[]) {
    this.#bounds = bounds
  }

  /** One finished request; a decision reason only for requests that reached a backend. */
  record (route: string, backend: string, method: string, status: number, seconds: number, reason: string | undefined, traceId?: string): void {
    let byBackend = this.#cells.get(route)
    if (byBackend === undefined) {
      byBackend = new Map()
      this.#cells.set(route, byBackend)
    }
    let cell = byBackend.get(backend)
    if (cell === undefined) {
      cell = new Cell(this.#bounds.length)
      byBackend.set(backend, cell)
    }
    let byStatus = cell.codes.get(method)
    if (byStatus === undefined) {
      byStatus = new Map()
      cell.codes.set(method, byStatus)
    }
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1)
    const bounds = this.#bounds
    let b = 0
    while (b < bounds.length && seconds > (bounds[b] as number)) b++
    cell.buckets[b] = (cell.buckets[b] as number) + 1
    if (traceId !== undefined) (cell.exemplars ??= new Array(bounds.length + 1))[b] = { traceId, value: seconds, timestamp: Date.now() / 1000 }
    cell.sum += seconds
    cell.count++
    if (reason !== undefined) cell.reasons.set(reason, (cell.reasons.get(reason) ?? 0) + 1)
  }

  /** The latest exemplar of every bucket that has one, keyed as exemplarKey() does. */
  exemplars (key: (route: string, backend: string, le: string) => string): Map<string, { traceId: string, value: number, timestamp: number }> {
    const out = new Map<string, { traceId: string, value: number, timestamp: number }>()
    for (const [route, byBackend] of this.#cells) {
      for (const [backend, cell] of byBackend) {
        cell.exemplars?.forEach((e, b) => {
          if (e !== undefined) out.set(key(route, backend, b < this.#bounds.length ? String(this.#bounds[b]) : '+Inf'), e)
        })
      }
    }
    return out
  }

  /** Counts so far for one route and backend: requests, 5xx answers and the duration histogram (per bucket). */
  totals (route: string, backend: string): BackendTotals {
    const cell = this.#cells.get(route)?.get(backend)
    if (cell === undefined) return { requests: 0, errors: 0, buckets: new Array<number>(this.#bounds.length + 1).fill(0) }
    let errors = 0
    for (const byStatus of cell.codes.values()) {
      for (const [code, n] of byStatus) if (code >= 500) errors += n
    }
    return { requests: cell.count, errors, buckets: [...cell.buckets] }
  }

  /**
   * Registers the three metrics. They read the counts at scrape time and give the
   * same samples (and, for --workers, the same JSON to aggregate) as prom-client's own
   * Counter and Histogram would.
   */
  register (registry: Registry, names: { requests: Help, duration: Help, decisions: Help }): void {
    const expose = (help: Help, type: 'counter' | 'histogram', samples: () => Sample[]): void => {
      const metric = { ...help, type, aggregator: 'sum' }
      // prom-client's registry takes any metric with a name and get(); its types know
      // only its own classes.
      registry.registerMetric({ ...metric, get: async () => ({ ...metric, values: samples() }) } as unknown as Parameters<Registry['registerMetric']>[0])
    }
    expose(names.requests, 'counter', () => this.#samples((route, backend, cell, out) => {
      for (const [method, byStatus] of cell.codes) {
        for (const [code, value] of byStatus) out.push({ labels: { route, backend, method, code: String(code) }, value })
      }
    }))
    expose(names.duration, 'histogram', () => this.#histogramSamples(names.duration.name))
    expose(names.decisions, 'counter', () => this.#samples((route, backend, cell, out) => {
      for (const [reason, value] of cell.reasons) out.push({ labels: { route, backend, reason }, value })
    }))
  }

  #samples (each: (route: string, backend: string, cell: Cell, out: Sample[]) => void): Sample[] {
    const out: Sample[] = []
    for (const [route, byBackend] of this.#cells) {
      for (const [backend, cell] of byBackend) each(route, backend, cell, out)
    }
    return out
  }

  #histogramSamples (name: string): Sample[] {
    return this.#samples((route, backend, cell, out) => {
      let cumulative = 0
      for (let b = 0; b < cell.buckets.length; b++) {
        cumulative += cell.buckets[b] as number
        out.push({ labels: { le: b < this.#bounds.length ? this.#bounds[b] as number : '+Inf', route, backend }, value: cumulative, metricName: `${name}_bucket` })
      }
      out.push({ labels: { route, backend }, value: cell.sum, metricName: `${name}_sum` })
      out.push({ labels: { route, backend }, value: cell.count, metricName: `${name}_count` })
    })
  }
}

export interface BackendTotals {
  readonly requests: number
  readonly errors: number
  /** Per bucket of DURATION_BUCKETS (not cumulative), the last one +Inf. */
  readonly buckets: readonly number[]
}

/**
 * The q-quantile of a histogram given per bucket (not cumulative), interpolated
 * linearly inside the bucket as Prometheus's histogram_quantile() does.
 */
export function quantile (bounds: readonly number[], counts: readonly number[], q: number): number | undefined {
  const total = counts.reduce((a, b) => a + b, 0)
  if (total === 0) return undefined
  const rank = q * total
  let seen = 0
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i] as number
    if (seen + n >= rank && n > 0) {
      // The +Inf bucket has no upper bound: like Prometheus, answer the highest finite bound.
      if (i >= bounds.length) return bounds[bounds.length - 1]
      const lower = i === 0 ? 0 : bounds[i - 1] as number
      return lower + ((bounds[i] as number) - lower) * ((rank - seen) / n)
    }
    seen += n
  }
  return bounds[bounds.length - 1]
}

/** What happened between two readings of the same totals. */
export function totalsSince (now: BackendTotals, then: BackendTotals): BackendTotals {
  return { requests: now.requests - then.requests, errors: now.errors - then.errors, buckets: now.buckets.map((n, i) => n - (then.buckets[i] ?? 0)) }
}

/** Seconds; undefined without observations. */
export function p99Of (t: BackendTotals): number | undefined {
  return quantile(DURATION_BUCKETS, t.buckets, 0.99)
}

interface Help { readonly name: string, readonly help: string }
