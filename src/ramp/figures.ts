/**
 * What a ramp step is judged on: the new backend and the route's baseline over the
 * same window of the same route, and the shadow comparisons of that window. Only the
 * backends' own evidence counts (safety/evidence.ts), within the per-client caps.
 * Read from this process's evidence (LocalFigures, one proxy) or from Prometheus
 * (prometheus-figures.ts, a fleet): the gates do the same arithmetic on either.
 */
import type { ShadowTraffic } from '../safety/shadow.js'
import { evidenceP99, type EvidenceSeries, type EvidenceTotals, type Sources } from '../safety/evidence-series.js'

export interface SideFigures {
  readonly requests: number
  /** 5xx answers of the backend, and failures to reach it. */
  readonly errors: number
  /** 4xx answers of the backend. */
  readonly clientErrors: number
  /** Seconds to response headers; undefined without latency samples. */
  readonly p99: number | undefined
  /** Latency samples per bucket of EVIDENCE_BUCKETS (not cumulative), for the rank test; undefined where unknown. */
  readonly buckets?: readonly number[]
  /** Distinct users and addresses the evidence came from; undefined where they cannot be known (a fleet's sums). */
  readonly sources: Sources | undefined
}

export interface WindowFigures {
  readonly candidate: SideFigures
  readonly baseline: SideFigures
  /**
   * Shadow parity in the window, in distinct (user, endpoint) pairs; undefined when the
   * route does not shadow. `mismatchUsers`: how many users the mismatches came from
   * (undefined where it cannot be known: a fleet's sums).
   */
  readonly parity: { readonly match: number, readonly mismatch: number, readonly mismatchUsers?: number } | undefined
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
  /** The figures from the window's start (`since`, epoch ms) until now; throws when there are none to be had. */
  read (sides: WindowSides, since: number): Promise<WindowFigures>
}

interface Mark {
  readonly candidate: EvidenceTotals
  readonly baseline: EvidenceTotals
  readonly match: number
  readonly mismatch: number
}

function since (now: EvidenceTotals, then: EvidenceTotals): EvidenceTotals {
  return { requests: now.requests - then.requests, errors: now.errors - then.errors, clientErrors: now.clientErrors - then.clientErrors, buckets: now.buckets.map((n, i) => n - (then.buckets[i] ?? 0)) }
}

/** Differences of this process's evidence since the window's mark. */
export class LocalFigures implements FigureSource {
  readonly #evidence: EvidenceSeries
  readonly #shadow: () => ShadowTraffic
  readonly #marks = new Map<string, Mark>()

  constructor (evidence: EvidenceSeries, shadow: () => ShadowTraffic) {
    this.#evidence = evidence
    this.#shadow = shadow
  }

  #now (sides: WindowSides): Mark {
    const pairs = this.#shadow().pairTotals(sides.route)
    return {
      candidate: this.#evidence.totals(sides.route, sides.candidate),
      baseline: this.#evidence.totals(sides.route, sides.baseline),
      match: pairs.pairs - pairs.mismatched,
      mismatch: pairs.mismatched
    }
  }

  mark (sides: WindowSides): void {
    this.#marks.set(sides.route, this.#now(sides))
    this.#evidence.markSources(sides.route)
    this.#shadow().markPairs(sides.route)
  }

  async read (sides: WindowSides): Promise<WindowFigures> {
    const now = this.#now(sides)
    let start = this.#marks.get(sides.route)
    if (start === undefined) {
      this.mark(sides)
      start = now
    }
    const side = (a: EvidenceTotals, b: EvidenceTotals, backend: string): SideFigures => {
      const d = since(a, b)
      return { requests: d.requests, errors: d.errors, clientErrors: d.clientErrors, p99: evidenceP99(d.buckets), buckets: d.buckets, sources: this.#evidence.sources(sides.route, backend) }
    }
    return {
      candidate: side(now.candidate, start.candidate, sides.candidate),
      baseline: side(now.baseline, start.baseline, sides.baseline),
      parity: sides.shadowed ? { match: now.match - start.match, mismatch: now.mismatch - start.mismatch, mismatchUsers: this.#shadow().mismatchUsers(sides.route) } : undefined
    }
  }
}
