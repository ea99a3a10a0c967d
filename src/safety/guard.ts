/**
 * The rollback guard. For each flagged route it compares the new backend with the
 * route's baseline; when the new one is worse, by the tests in guard-rule.ts, it
 * "trips": flagged traffic goes to the baseline for a cool-down, then a probe fraction
 * tests recovery before full release.
 *
 *   closed ──trip──▶ open ──cool-down──▶ probing ──healthy probe──▶ closed
 *                     ▲                      │
 *                     └──── unhealthy ───────┘
 *
 * Evidence accumulates: both sides are judged over the same span, at least `window`
 * and stretched back (up to MAX_SPAN_MS) until each side has SPAN_TARGET requests, so
 * a quiet route is judged on minutes of traffic rather than on twenty requests. A
 * regression must hold for CONFIRM_MS of judgements before the guard acts.
 *
 * In-memory and per replica; optionally it also switches the flag off in Unleash so
 * every replica and every engineer sees the rollback, once a trip holds (the probe
 * after the cool-down fails too).
 *
 * Clients choose their cohort (a user id header, the proxy's own session cookie), so a
 * few clients could otherwise halt a migration for everybody: any trip needs evidence
 * from minClients client addresses, and no one address's failures count for more
 * than its share of the span. The samples themselves are the backends' own evidence
 * within the per-client caps (evidence.ts): time to response headers, never a client's
 * upload or download.
 */
import type { GuardConfig } from '../config/config.js'
import { errorVerdict, latencyVerdict, quantileOf, type Verdict } from './guard-rule.js'

export type GuardState = 'closed' | 'open' | 'probing'

const BUCKET_MS = 1000
/** The longest span evidence is gathered over, for routes too quiet to fill `window`. */
const MAX_SPAN_MS = 10 * 60_000
/** Requests a side should have before the span stops stretching back. */
const SPAN_TARGET = 400
/** Latency samples each side needs before latency is judged. */
const LATENCY_MIN_SAMPLES = 50
/** A regression must still hold this long after it was first seen. */
const CONFIRM_MS = 5_000
/** How often a route is judged: a judgement sorts latencies. */
const JUDGE_EVERY_MS = 200
const LATENCY_CAPACITY = 4096

/**
 * One side of a route: request and error counts in one-second buckets, plus the last
 * latencies (sorted only when judged).
 */
class Samples {
  readonly #t: Float64Array
  readonly #seconds: Float64Array
  #size = 0
  #next = 0
  readonly #slots: Float64Array
  readonly #count: Float64Array
  readonly #errors: Float64Array

  /** spanMs 0: one cumulative bucket (the probe phase is judged as a whole). */
  constructor (private readonly spanMs: number, private readonly capacity = LATENCY_CAPACITY) {
    const n = spanMs <= 0 ? 1 : Math.ceil(spanMs / BUCKET_MS) + 1
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
    const slot = this.spanMs <= 0 ? 0 : Math.floor(t / BUCKET_MS)
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

  counts (since: number): { n: number, errors: number } {
    const oldest = this.spanMs <= 0 ? 0 : Math.floor(since / BUCKET_MS)
    let n = 0
    let errors = 0
    for (let i = 0; i < this.#slots.length; i++) {
      if ((this.#slots[i] as number) < oldest) continue
      n += this.#count[i] as number
      errors += this.#errors[i] as number
    }
    return { n, errors }
  }

  /** The earliest time from which this side has `target` requests, back to `floor`. */
  reach (now: number, target: number, floor: number): number {
    let n = 0
    for (let s = Math.floor(now / BUCKET_MS); s * BUCKET_MS >= floor; s--) {
      const i = s % this.#slots.length
      if (this.#slots[i] === s) n += this.#count[i] as number
      if (n >= target) return s * BUCKET_MS
    }
    return floor
  }

  /** Latencies since `since`, ascending. */
  latencies (since: number): Float64Array {
    const all = new Float64Array(this.#size)
    let n = 0
    for (let i = 0; i < this.#size; i++) if ((this.#t[i] as number) >= since) all[n++] = this.#seconds[i] as number
    // A typed array sorts numerically.
    return all.subarray(0, n).sort()
  }

  stats (since: number): SideStats {
    const { n, errors } = this.counts(since)
    const l = this.latencies(since)
    return { count: n, errorRatio: n === 0 ? 0 : errors / n, p99: quantileOf(l, 0.99), timed: l.length }
  }
}

export interface SideStats {
  count: number
  errorRatio: number
  p99: number
  /** Latency samples the p99 rests on. */
  timed: number
}

/** Remembered addresses per route; enough to count minClients, bounded against address floods. */
const MAX_CLIENTS = 4096

/** Client addresses and their failures within the span. */
class Clients {
  readonly #byClient = new Map<string, { last: number, errors: number }>()

  add (client: string, now: number, error: boolean): void {
    const e = this.#byClient.get(client)
    if (e !== undefined && e.last >= now - MAX_SPAN_MS) {
      if (error) e.errors++
      e.last = now
      return
    }
    this.#byClient.delete(client)
    if (this.#byClient.size >= MAX_CLIENTS) {
      // The oldest entry goes (Maps iterate in insertion order).
      const oldest = this.#byClient.keys().next().value
      if (oldest !== undefined) this.#byClient.delete(oldest)
    }
    this.#byClient.set(client, { last: now, errors: error ? 1 : 0 })
  }

  /** Distinct addresses seen and failing since `since`, and their errors with each capped at `cap`. */
  within (since: number, cap: number): { clients: number, failing: number, errors: number } {
    let clients = 0
    let failing = 0
    let errors = 0
    for (const [client, e] of this.#byClient) {
      if (e.last < since) {
        if (e.last < since - MAX_SPAN_MS) this.#byClient.delete(client)
        continue
      }
      clients++
      if (e.errors > 0) failing++
      errors += Math.min(e.errors, cap)
    }
    return { clients, failing, errors }
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
  /** Client addresses the evidence came from (failing ones for error trips). */
  readonly clients: number | undefined
  /** The test that tripped, as the rule saw it. */
  readonly rule: string
  /** Trips in a row without the guard closing in between: 2 or more means the trip held through a probe. */
  readonly consecutive: number
}

/** The last judgement of a closed guard, as /guard and explain show it. */
export interface Judged {
  readonly at: string
  readonly spanSeconds: number
  readonly requests: { readonly candidate: number, readonly baseline: number }
  readonly clients: number
  readonly failingClients: number
  readonly errors: Verdict | undefined
  readonly latency: Verdict | undefined
  /** Since when a regression has held, waiting for the confirmation. */
  readonly suspectSince: string | undefined
}

export interface RouteGuardStatus {
  readonly state: GuardState
  readonly since: string
  readonly trips: number
  readonly lastTrip: Trip | undefined
  readonly candidate: SideStats
  readonly baseline: SideStats
  readonly probe: { readonly requests: number, readonly errors: number } | undefined
  readonly judged: Judged | undefined
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
  readonly clients = new Clients()
  readonly candidate = new Samples(MAX_SPAN_MS)
  readonly baseline = new Samples(MAX_SPAN_MS)
  // Probe samples are judged whole, not by span.
  readonly probe = new Samples(0)
  lastCheck = -Infinity
  /** When the regression now being confirmed was first seen. */
  suspect: number | undefined
  judged: Judged | undefined
  constructor (public config: GuardConfig) {}
}

type Finding = { cause: Trip['cause'], clients: number | undefined, rule: string, since: number }

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
    g.clients.add(client, now, error)
    if (g.state === 'probing') {
      this.#judgeProbe(route, g, now)
      return
    }
    if (g.state !== 'closed' || now - g.lastCheck < JUDGE_EVERY_MS) return
    g.lastCheck = now
    this.#judge(route, g, now)
  }

  /** The span both sides are judged over: at least the window, stretched back until each has SPAN_TARGET requests. */
  #span (g: RouteGuard, now: number): number {
    const latest = now - g.config.window
    const floor = now - MAX_SPAN_MS
    return Math.min(latest, Math.max(g.candidate.reach(now, SPAN_TARGET, floor), g.baseline.reach(now, SPAN_TARGET, floor)))
  }

  #judge (route: string, g: RouteGuard, now: number): void {
    const finding = this.#regression(g, now)
    if (finding === undefined) {
      g.suspect = undefined
      return
    }
    g.suspect ??= now
    if (now - g.suspect < Math.min(CONFIRM_MS, g.config.window / 6)) return
    this.#trip(route, g, finding, g.candidate.stats(finding.since), g.baseline.stats(finding.since), now)
  }

  #regression (g: RouteGuard, now: number): Finding | undefined {
    const c = g.config
    const since = this.#span(g, now)
    const cand = g.candidate.counts(since)
    const base = g.baseline.counts(since)
    const who = g.clients.within(since, Math.max(1, Math.floor(cand.n * c.maxClientShare)))
    let errors: Verdict | undefined
    let latency: Verdict | undefined
    let finding: Finding | undefined
    if (cand.n >= c.minRequests && who.clients >= c.minClients) {
      // Without baseline traffic the new backend is judged against 0 %.
      const b = base.n >= c.minRequests ? base : { n: 0, errors: 0 }
      errors = errorVerdict(cand, b, c.maxErrorRatioIncrease)
      // One address's failures count for at most its share: judged again on the capped errors.
      const capped = errorVerdict({ n: cand.n, errors: Math.min(cand.errors, who.errors) }, b, c.maxErrorRatioIncrease)
      if (errors.regressed && capped.regressed && who.failing >= c.minClients) finding = { cause: 'error_ratio', clients: who.failing, rule: capped.detail, since }
      const cl = g.candidate.latencies(since)
      const bl = g.baseline.latencies(since)
      if (finding === undefined && cl.length >= Math.max(c.minRequests, LATENCY_MIN_SAMPLES) && bl.length >= Math.max(c.minRequests, LATENCY_MIN_SAMPLES)) {
        latency = latencyVerdict(cl, bl, c.maxLatencyRatio, c.minLatencyIncrease)
        if (latency.regressed) finding = { cause: 'latency', clients: who.clients, rule: latency.detail, since }
      }
    }
    g.judged = {
      at: new Date(now).toISOString(),
      spanSeconds: Math.round((now - since) / 1000),
      requests: { candidate: cand.n, baseline: base.n },
      clients: who.clients,
      failingClients: who.failing,
      errors,
      latency,
      suspectSince: finding === undefined || g.suspect === undefined ? undefined : new Date(g.suspect).toISOString()
    }
    return finding
  }

  /** A probe is a short check: judged on errors only, as a whole, once half its requests are in. */
  #judgeProbe (route: string, g: RouteGuard, now: number): void {
    const c = g.config
    const probe = g.probe.stats(0)
    const since = this.#span(g, now)
    const base = g.baseline.stats(since)
    const baseErrors = base.count >= c.minRequests ? base.errorRatio : 0
    if (probe.count >= Math.max(1, Math.ceil(c.probeRequests / 2)) && probe.errorRatio > baseErrors + c.maxErrorRatioIncrease) {
      this.#trip(route, g, { cause: 'error_ratio', clients: undefined, since, rule: `probe: 5xx ${(probe.errorRatio * 100).toFixed(1)} % of ${probe.count} vs ${(baseErrors * 100).toFixed(2)} %` }, probe, base, now)
    } else if (probe.count >= c.probeRequests) {
      g.candidate.clear()
      g.probe.clear()
      g.clients.clear()
      g.streak = 0
      this.#move(route, g, 'closed', `probe healthy over ${probe.count} requests`, now)
    }
  }

  #trip (route: string, g: RouteGuard, finding: Finding, candidate: SideStats, baseline: SideStats, now: number): void {
    g.trips++
    g.streak++
    g.lastTrip = { at: new Date(now).toISOString(), cause: finding.cause, candidate, baseline, clients: finding.clients, rule: finding.rule, consecutive: g.streak }
    g.probe.clear()
    g.candidate.clear()
    g.clients.clear()
    g.suspect = undefined
    this.#move(route, g, 'open', `tripped on ${finding.cause}`, now)
    this.#events.trip(route, g.lastTrip)
  }

  #move (route: string, g: RouteGuard, to: GuardState, why: string, now: number): void {
    const from = g.state
    g.state = to
    g.since = now
    this.#events.change(route, from, to, why)
  }

  /** Closes the guard of `route` (every route when undefined); `by` names who asked. */
  reset (route?: string, by = 'an operator'): string[] {
    const names = route === undefined ? [...this.#routes.keys()] : [route].filter((r) => this.#routes.has(r))
    for (const name of names) {
      const g = this.#routes.get(name) as RouteGuard
      g.candidate.clear()
      g.probe.clear()
      g.clients.clear()
      g.streak = 0
      g.suspect = undefined
      if (g.state !== 'closed') this.#move(name, g, 'closed', `reset by ${by}`, Date.now())
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
        probe: probe === undefined ? undefined : { requests: probe.count, errors: Math.round(probe.errorRatio * probe.count) },
        judged: g.judged
      }
    }
    return out
  }

  stateOf (route: string): GuardState | undefined {
    return this.#routes.get(route)?.state
  }

  /** The route's last judgement, as the rule saw it (explain shows it). */
  judgedOf (route: string): Judged | undefined {
    return this.#routes.get(route)?.judged
  }
}
