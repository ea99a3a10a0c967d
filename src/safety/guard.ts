/**
 * The rollback guard. For each flagged route it compares the new backend with the
 * route's baseline over a sliding window; when the new one's error ratio or p99
 * regresses past the thresholds it "trips": flagged traffic goes to the baseline for
 * a cool-down, then a probe fraction tests recovery before full release.
 *
 *   closed ──trip──▶ open ──cool-down──▶ probing ──healthy probe──▶ closed
 *                     ▲                      │
 *                     └──── unhealthy ───────┘
 *
 * In-memory and per replica; optionally it also switches the flag off in Unleash so
 * every replica and every engineer sees the rollback, once a trip holds (the probe
 * after the cool-down fails too).
 *
 * Clients choose their cohort (a user id header, the proxy's own session cookie), so
 * a few clients could otherwise halt a migration for everybody by making the new
 * backend fail on purpose: a trip on errors needs failures from several client
 * addresses, and no one address counts for more than its share of the window; a trip
 * on latency needs samples from as many addresses, at least LATENCY_MIN_SAMPLES a side
 * (below that a p99 is just the slowest request), and the regression seen again
 * LATENCY_CONFIRM_MS later. The samples themselves are the backends' own evidence
 * within the per-client caps (evidence.ts): time to response headers, never a
 * client's upload or download.
 */
import type { GuardConfig } from '../config/config.js'

export type GuardState = 'closed' | 'open' | 'probing'

const BUCKET_MS = 1000
/** Latency samples a side needs before its p99 is judged. */
const LATENCY_MIN_SAMPLES = 100
/** A latency regression must still hold this long after it was first seen. */
const LATENCY_CONFIRM_MS = 10_000

/**
 * One side of a route: request and error counts in one-second buckets (cheap enough
 * to judge on every request), plus the last latencies for the p99 (sorted only when
 * the latency is judged).
 */
class Samples {
  /** The last latencies and when they were taken, in a ring: no object per request. */
  readonly #t: Float64Array
  readonly #seconds: Float64Array
  #size = 0
  #next = 0
  readonly #slots: Float64Array
  readonly #count: Float64Array
  readonly #errors: Float64Array

  /** windowMs 0: one cumulative bucket (the probe phase is judged as a whole). */
  constructor (private readonly windowMs: number, private readonly capacity = 2048) {
    const n = windowMs <= 0 ? 1 : Math.ceil(windowMs / BUCKET_MS) + 1
    this.#slots = new Float64Array(n).fill(-1)
    this.#count = new Float64Array(n)
    this.#errors = new Float64Array(n)
    this.#t = new Float64Array(capacity)
    this.#seconds = new Float64Array(capacity)
  }

  /** `seconds` undefined: the backend never answered (counted, no latency). */
  add (t: number, error: boolean, seconds: number | undefined): void {
    if (seconds !== undefined) {
      this.#t[this.#next] = t
      this.#seconds[this.#next] = seconds
      this.#next = (this.#next + 1) % this.capacity
      if (this.#size < this.capacity) this.#size++
    }
    const slot = this.windowMs <= 0 ? 0 : Math.floor(t / BUCKET_MS)
    const i = slot % this.#slots.length
    if (this.#slots[i] !== slot) {
      this.#slots[i] = slot
      this.#count[i] = 0
      this.#errors[i] = 0
    }
    this.#count[i] = (this.#count[i] as number) + 1
    if (error) this.#errors[i] = (this.#errors[i] as number) + 1
  }

  clear (): void {
    this.#size = 0
    this.#next = 0
    this.#slots.fill(-1)
  }

  stats (since: number, withLatency = true): SideStats {
    const oldest = this.windowMs <= 0 ? 0 : Math.floor(since / BUCKET_MS)
    let count = 0
    let errors = 0
    for (let i = 0; i < this.#slots.length; i++) {
      if ((this.#slots[i] as number) < oldest) continue
      count += this.#count[i] as number
      errors += this.#errors[i] as number
    }
    let p99 = 0
    let timed = 0
    if (withLatency) {
      const all = new Float64Array(this.#size)
      let n = 0
      for (let i = 0; i < this.#size; i++) if ((this.#t[i] as number) >= since) all[n++] = this.#seconds[i] as number
      // A typed array sorts numerically.
      const latencies = all.subarray(0, n).sort()
      if (n > 0) p99 = latencies[Math.min(n - 1, Math.ceil(n * 0.99) - 1)] as number
      timed = n
    }
    return { count, errorRatio: count === 0 ? 0 : errors / count, p99, timed }
  }
}

export interface SideStats {
  count: number
  errorRatio: number
  p99: number
  /** Latency samples the p99 rests on. */
  timed: number
}

/** Remembered failing addresses per route; enough to count minClients, bounded against address floods. */
const MAX_FAILING_CLIENTS = 4096

/** The candidate's failures by client address within the window. */
class FailingClients {
  readonly #byClient = new Map<string, { first: number, last: number, errors: number }>()

  add (client: string, now: number, windowMs: number): void {
    const e = this.#byClient.get(client)
    if (e !== undefined && e.last >= now - windowMs) {
      e.errors++
      e.last = now
      return
    }
    this.#byClient.delete(client)
    if (this.#byClient.size >= MAX_FAILING_CLIENTS) {
      // The oldest entry goes (Maps iterate in insertion order).
      const oldest = this.#byClient.keys().next().value
      if (oldest !== undefined) this.#byClient.delete(oldest)
    }
    this.#byClient.set(client, { first: now, last: now, errors: 1 })
  }

  /** Distinct failing clients since `since`, and their errors with each capped at `cap`. */
  within (since: number, cap: number): { clients: number, errors: number } {
    let clients = 0
    let errors = 0
    for (const [client, e] of this.#byClient) {
      if (e.last < since) {
        this.#byClient.delete(client)
        continue
      }
      clients++
      errors += Math.min(e.errors, cap)
    }
    return { clients, errors }
  }

  clear (): void {
    this.#byClient.clear()
  }
}

export interface Trip {
  readonly at: string
  readonly cause: 'error_ratio' | 'latency'
  readonly candidate: SideStats
  readonly baseline: SideStats
  /** Client addresses the counted failures came from (error trips). */
  readonly clients: number | undefined
  /** Trips in a row without the guard closing in between: 2 or more means the trip held through a probe. */
  readonly consecutive: number
}

export interface RouteGuardStatus {
  readonly state: GuardState
  readonly since: string
  readonly trips: number
  readonly lastTrip: Trip | undefined
  readonly candidate: SideStats
  readonly baseline: SideStats
  readonly probe: { readonly requests: number, readonly errors: number } | undefined
}

export interface GuardEvents {
  trip (route: string, trip: Trip): void
  change (route: string, from: GuardState, to: GuardState, why: string): void
}

class RouteGuard {
  state: GuardState = 'closed'
  since = Date.now()
  trips = 0
  /** Trips since the guard last closed. */
  streak = 0
  lastTrip: Trip | undefined
  readonly failing = new FailingClients()
  /** Every address the candidate's samples came from in the window. */
  readonly clients = new FailingClients()
  /** When a latency regression was first seen and not since cleared. */
  latencySuspect: number | undefined
  candidate: Samples
  baseline: Samples
  probe: Samples
  lastCheck = 0
  constructor (public config: GuardConfig) {
    this.candidate = new Samples(config.window)
    this.baseline = new Samples(config.window)
    // Probe samples are judged whole (since 0), not by window.
    this.probe = new Samples(0, 4096)
  }
}

export class Guard {
  readonly #routes = new Map<string, RouteGuard>()
  readonly #events: GuardEvents
  readonly #random: () => number

  constructor (events: GuardEvents, random: () => number = Math.random) {
    this.#events = events
    this.#random = random
  }

  /** Routes and their settings after a (re)load; state survives for routes still guarded. */
  configure (routes: ReadonlyMap<string, GuardConfig>): void {
    for (const name of this.#routes.keys()) if (!routes.has(name)) this.#routes.delete(name)
    for (const [name, config] of routes) {
      const existing = this.#routes.get(name)
      if (existing === undefined || existing.config.window !== config.window) this.#routes.set(name, new RouteGuard(config))
      else existing.config = config
    }
  }

  /**
   * Whether a request the flag sent to the new backend may go there.
   * 'baseline' diverts it (reason guard); 'candidate' lets it through.
   */
  admit (route: string, now = Date.now()): 'candidate' | 'baseline' {
    const g = this.#routes.get(route)
    if (g === undefined || g.state === 'closed') return 'candidate'
    if (g.state === 'open') {
      if (now - g.since < g.config.cooldown) return 'baseline'
      this.#move(route, g, 'probing', 'cool-down over, probing the new backend', now)
    }
    return this.#random() < g.config.probeFraction ? 'candidate' : 'baseline'
  }

  /** One finished request on a guarded route; `client` is its address as routing saw it. */
  observe (route: string, side: 'candidate' | 'baseline', error: boolean, seconds: number | undefined, client: string, now = Date.now()): void {
    const g = this.#routes.get(route)
    if (g === undefined) return
    if (side === 'baseline') {
      g.baseline.add(now, error, seconds)
      return
    }
    if (g.state === 'probing') g.probe.add(now, error, seconds)
    else g.candidate.add(now, error, seconds)
    if (error) g.failing.add(client, now, g.config.window)
    g.clients.add(client, now, g.config.window)
    // Error ratios are judged on every sample; latencies need a sort, so at most
    // every 200 ms per route.
    const withLatency = now - g.lastCheck >= 200
    if (withLatency) g.lastCheck = now
    this.#judge(route, g, now, withLatency)
  }

  #judge (route: string, g: RouteGuard, now: number, withLatency: boolean): void {
    const c = g.config
    const since = now - c.window
    const baseline = g.baseline.stats(since, withLatency)
    if (g.state === 'closed') {
      const candidate = g.candidate.stats(since, withLatency)
      const verdict = this.#regressed(g, c, candidate, baseline, withLatency, since)
      if (verdict !== undefined) this.#trip(route, g, verdict, candidate, baseline, now)
      return
    }
    if (g.state !== 'probing') return
    const probe = g.probe.stats(0, true)
    const verdict = this.#regressed(g, { ...c, minRequests: Math.max(1, Math.ceil(c.probeRequests / 2)) }, probe, g.baseline.stats(since, true), true, since)
    if (verdict !== undefined) {
      this.#trip(route, g, verdict, probe, baseline, now)
    } else if (probe.count >= c.probeRequests) {
      g.candidate.clear()
      g.probe.clear()
      g.failing.clear()
      g.streak = 0
      this.#move(route, g, 'closed', `probe healthy over ${probe.count} requests`, now)
    }
  }

  #regressed (g: RouteGuard, c: GuardConfig, candidate: SideStats, baseline: SideStats, withLatency: boolean, since: number): { cause: Trip['cause'], clients: number | undefined } | undefined {
    if (candidate.count < c.minRequests) return undefined
    // Without baseline traffic in the window, the candidate is judged against zero errors.
    const baseErrors = baseline.count >= c.minRequests ? baseline.errorRatio : 0
    const limit = baseErrors + c.maxErrorRatioIncrease
    if (candidate.errorRatio > limit) {
      // Only now, on a suspected regression, are the failing clients looked at.
      const failing = g.failing.within(since, Math.max(1, Math.floor(candidate.count * c.maxClientShare)))
      if (failing.clients >= c.minClients && failing.errors / candidate.count > limit) return { cause: 'error_ratio', clients: failing.clients }
    }
    if (!withLatency) return undefined
    const slower = candidate.timed >= Math.max(c.minRequests, LATENCY_MIN_SAMPLES) && baseline.timed >= Math.max(c.minRequests, LATENCY_MIN_SAMPLES) &&
      candidate.p99 > baseline.p99 * c.maxLatencyRatio && candidate.p99 - baseline.p99 > c.minLatencyIncrease / 1000
    if (!slower) {
      g.latencySuspect = undefined
      return undefined
    }
    const now = since + c.window
    g.latencySuspect ??= now
    if (now - g.latencySuspect < Math.min(LATENCY_CONFIRM_MS, c.window / 3)) return undefined
    const clients = g.clients.within(since, Number.MAX_SAFE_INTEGER).clients
    return clients >= c.minClients ? { cause: 'latency', clients } : undefined
  }

  #trip (route: string, g: RouteGuard, verdict: { cause: Trip['cause'], clients: number | undefined }, candidate: SideStats, baseline: SideStats, now: number): void {
    g.trips++
    g.streak++
    g.lastTrip = { at: new Date(now).toISOString(), cause: verdict.cause, candidate, baseline, clients: verdict.clients, consecutive: g.streak }
    g.probe.clear()
    g.candidate.clear()
    g.failing.clear()
    g.clients.clear()
    g.latencySuspect = undefined
    this.#move(route, g, 'open', `tripped on ${verdict.cause}`, now)
    this.#events.trip(route, g.lastTrip)
  }

  #move (route: string, g: RouteGuard, to: GuardState, why: string, now: number): void {
    const from = g.state
    g.state = to
    g.since = now
    this.#events.change(route, from, to, why)
  }

  reset (route?: string): string[] {
    const names = route === undefined ? [...this.#routes.keys()] : [route].filter((r) => this.#routes.has(r))
    for (const name of names) {
      const g = this.#routes.get(name) as RouteGuard
      g.candidate.clear()
      g.probe.clear()
      g.failing.clear()
      g.streak = 0
      if (g.state !== 'closed') this.#move(name, g, 'closed', 'reset by an operator', Date.now())
    }
    return names
  }

  status (now = Date.now()): Record<string, RouteGuardStatus> {
    const out: Record<string, RouteGuardStatus> = {}
    for (const [name, g] of this.#routes) {
      const since = now - g.config.window
      const probe = g.state === 'probing' ? g.probe.stats(0) : undefined
      out[name] = {
        state: g.state,
        since: new Date(g.since).toISOString(),
        trips: g.trips,
        lastTrip: g.lastTrip,
        candidate: g.candidate.stats(since),
        baseline: g.baseline.stats(since),
        probe: probe === undefined ? undefined : { requests: probe.count, errors: Math.round(probe.errorRatio * probe.count) }
      }
    }
    return out
  }

  stateOf (route: string): GuardState | undefined {
    return this.#routes.get(route)?.state
  }
}
