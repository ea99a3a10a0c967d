/**
 * What a ramp step is judged on: the new backend and the route's baseline over the
 * same window of the same route, and the shadow comparisons of that window. Read
 * from this process's own counters (figures.ts, one proxy) or from Prometheus
 * (prometheus-figures.ts, a fleet): the gates do the same arithmetic on either.
 */
import type { Metrics } from '../observe/metrics.js'
import type { ShadowTraffic } from '../safety/shadow.js'
import { totalsSince, p99Of, type BackendTotals } from '../observe/request-series.js'

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

interface Mark {
  readonly candidate: BackendTotals
  readonly baseline: BackendTotals
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
    const side = (a: BackendTotals, b: BackendTotals): SideFigures => {
      const d = totalsSince(a, b)
      return { requests: d.requests, errors: d.errors, p99: p99Of(d) }
    }
    return {
      candidate: side(now.candidate, start.candidate),
      baseline: side(now.baseline, start.baseline),
      parity: sides.shadowed ? { match: now.match - start.match, mismatch: now.mismatch - start.mismatch } : undefined
    }
  }
}
