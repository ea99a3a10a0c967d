/**
 * What a ramp step is judged on: the new backend and the route's baseline over the
 * same window of the same route, and the shadow comparisons of that window. Read
 * from this process's own counters (figures.ts, one proxy) or from Prometheus
 * (prometheus-figures.ts, a fleet): the gates do the same arithmetic on either.
 */
import type { Metrics } from '../observe/metrics.js'
import type { ShadowTraffic } from '../safety/shadow.js'
import { DURATION_BUCKETS } from '../observe/metrics.js'

export interface SideFigures {
  readonly requests: number
  /** 5xx answers, including the proxy's own 502/503/504 for that backend. */
  readonly errors: number
  /** Seconds; undefined without requests. */
  readonly p99: number | undefined
}

export interface WindowFigures {
  readonly candidate: SideFigures
  readonly baseline: SideFigures
  /** Shadow comparisons in the window; undefined when the route does not shadow. */
  readonly parity: { readonly match: number, readonly mismatch: number } | undefined
}

export interface WindowSides {
  readonly route: string
  readonly baseline: string
  readonly candidate: string
  readonly shadowed: boolean
}

export interface FigureSource {
  /** A new window starts now for the route (a step entered, resumed or stepped back). */
  mark (sides: WindowSides, at: number): void
  /** The figures from the window's start (`since`, epoch ms) until now. */
  read (sides: WindowSides, since: number): Promise<WindowFigures>
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

interface Mark {
  readonly candidate: ReturnType<Metrics['totals']>
  readonly baseline: ReturnType<Metrics['totals']>
  readonly match: number
  readonly mismatch: number
}

/** Differences of this process's counters since the window's mark. */
export class LocalFigures implements FigureSource {
  readonly #metrics: Metrics
  readonly #shadow: () => ShadowTraffic
  readonly #marks = new Map<string, Mark>()

  constructor (metrics: Metrics, shadow: () => ShadowTraffic) {
    this.#metrics = metrics
    this.#shadow = shadow
  }

  #now (sides: WindowSides): Mark {
    const parity = this.#shadow().totals().get(sides.route)
    return {
      candidate: this.#metrics.totals(sides.route, sides.candidate),
      baseline: this.#metrics.totals(sides.route, sides.baseline),
      match: parity?.match ?? 0,
      mismatch: parity?.mismatch ?? 0
    }
  }

  mark (sides: WindowSides): void {
    this.#marks.set(sides.route, this.#now(sides))
  }

  async read (sides: WindowSides): Promise<WindowFigures> {
    const now = this.#now(sides)
    let start = this.#marks.get(sides.route)
    if (start === undefined) {
      this.#marks.set(sides.route, now)
      start = now
    }
    const side = (a: Mark['candidate'], b: Mark['candidate']): SideFigures => ({
      requests: a.requests - b.requests,
      errors: a.errors - b.errors,
      p99: quantile(DURATION_BUCKETS, a.buckets.map((n, i) => n - (b.buckets[i] ?? 0)), 0.99)
    })
    return {
      candidate: side(now.candidate, start.candidate),
      baseline: side(now.baseline, start.baseline),
      parity: sides.shadowed ? { match: now.match - start.match, mismatch: now.mismatch - start.mismatch } : undefined
    }
  }
}
