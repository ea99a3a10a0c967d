/**
 * The series read at scrape time from the live snapshot: the flag source, the
 * upstream pools, the rollback guard and shadow traffic. Each collect() reads the
 * snapshot of the moment, so a reload needs no re-registration.
 */
import { createHash } from 'node:crypto'
import { Counter, Gauge, type Registry } from 'prom-client'

/**
 * What the metrics read at scrape time, from the live snapshot. Declared here, below
 * the flags, pools, guard and shadow that provide it: lifecycle/runtime.ts's Snapshot
 * is one of these.
 */
export interface MetricsView {
  readonly flags: { status (): FlagSourceStatus, definition (flag: string): object | undefined } | undefined
  readonly pools: ReadonlyMap<string, { readonly pool: { readonly stats: PoolStats }, readonly backend: { readonly pool: { readonly connections: number } } }>
  readonly guard: { status (): Readonly<Record<string, { readonly state: 'closed' | 'open' | 'probing', readonly trips: number }>> }
  readonly shadow: {
    totals (): ReadonlyMap<string, Readonly<Record<string, number>>>
    pairTotals (route: string): { readonly pairs: number, readonly mismatched: number }
    authMismatches (): ReadonlyMap<string, number>
    readonly window: { shares (): ReadonlyMap<string, number> }
    inflight (): number
  }
}

interface FlagSourceStatus {
  readonly source: string
  readonly origin: string
  readonly up: boolean
  readonly lastUpdate: Date | undefined
  readonly authFailed: boolean
  readonly usage?: { readonly sent: number, readonly failed: number, readonly dropped: number } | undefined
}

/** A short hash of the routed flags' definitions, by name (a flag the process does not have counts as absent). */
export function flagsHash (definitions: ReadonlyArray<readonly [string, object | undefined]>): string {
  const sorted = [...definitions].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0).map(([name, d]) => [name, d ?? null])
  return createHash('sha256').update(JSON.stringify(sorted)).digest('hex').slice(0, 12)
}

/** flagsHash of the process's routed flags as it evaluates them now; undefined without flags. */
export function routedFlagsHash (view: MetricsView, names: readonly string[]): string | undefined {
  const flags = view.flags
  return flags === undefined ? undefined : flagsHash(names.map((n) => [n, flags.definition(n)]))
}

interface PoolStats { readonly connected: number, readonly pending: number, readonly running: number, readonly queued: number }

type Snapshot = () => MetricsView

/** The flag source's health, its usage metrics to Unleash, and the routed flags' hash. */
export function registerFlagMetrics (registers: Registry[], snapshot: Snapshot, names: () => readonly string[]): void {
  // Flag source gauges read the source's status at scrape time, each in its own collect().
  const flagGauge = (name: string, help: string, aggregator: 'min' | 'max', read: (status: FlagSourceStatus) => number | undefined): void => {
    new Gauge({
      name,
      help,
      aggregator,
      registers,
      collect () {
        const status = snapshot().flags?.status()
        const v = status === undefined ? undefined : read(status)
        if (v === undefined) this.reset()
        else this.set(v)
      }
    })
  }
  // With --workers the primary merges these: the worst worker is what matters.
  flagGauge('strangler_flag_source_up', '1 if the last fetch from the flag source (or read of the flags file) succeeded.', 'min', (s) => s.up ? 1 : 0)
  flagGauge('strangler_flag_source_last_update_timestamp_seconds', 'When flags were last confirmed current (fetched, 304 Not Modified, or file read).', 'min', (s) => s.lastUpdate === undefined ? undefined : s.lastUpdate.getTime() / 1000)
  flagGauge('strangler_flag_source_auth_failed', '1 while the flag service refuses the API token.', 'max', (s) => s.authFailed ? 1 : 0)
  new Counter({
    name: 'strangler_unleash_metrics_sends_total',
    help: 'Usage metrics sent to Unleash (flags.unleash.metrics), by result: ok, or failed (refused or unreachable; the counts are kept for the next send).',
    labelNames: ['result'],
    registers,
    collect () {
      this.reset()
      const usage = snapshot().flags?.status().usage
      this.inc({ result: 'ok' }, usage?.sent ?? 0)
      this.inc({ result: 'failed' }, usage?.failed ?? 0)
    }
  })
  new Counter({
    name: 'strangler_unleash_metrics_dropped_total',
    help: 'Flag evaluations whose usage counts were dropped after Unleash did not take them for ten intervals (at least 10 minutes).',
    registers,
    collect () {
      this.reset()
      this.inc(snapshot().flags?.status().usage?.dropped ?? 0)
    }
  })
  // Replicas that disagree on a flag route the same user differently: this shows it (StranglerFleetDrift).
  new Gauge({
    name: 'strangler_flags_info',
    help: 'A hash of the routed flags\' definitions as this process evaluates them: replicas that disagree show different hashes.',
    labelNames: ['hash'],
    aggregator: 'max',
    registers,
    collect () {
      this.reset()
      const hash = routedFlagsHash(snapshot(), names())
      if (hash !== undefined) this.set({ hash }, 1)
    }
  })
  new Gauge({
    name: 'strangler_flag_source_configured', aggregator: 'max',
    help: '1 if routes.yaml configures a flag source.',
    registers,
    collect () { this.set(snapshot().flags === undefined ? 0 : 1) }
  })
  new Gauge({
    name: 'strangler_flag_source_info', aggregator: 'max',
    help: 'The flag source and where its current flags came from (live, backup, bootstrap, file, none).',
    labelNames: ['source', 'origin'],
    registers,
    collect () {
      this.reset()
      const status = snapshot().flags?.status()
      if (status !== undefined) this.set({ source: status.source, origin: status.origin }, 1)
    }
  })
}

/** Each backend's connection pool. */
export function registerPoolMetrics (registers: Registry[], snapshot: Snapshot): void {
  const pool = (name: string, help: string, pick: (s: PoolStats) => number): void => {
    new Gauge({
      name,
      help,
      labelNames: ['backend'],
      registers,
      collect () {
        this.reset()
        for (const [backend, p] of snapshot().pools) this.set({ backend }, pick(p.pool.stats))
      }
    })
  }
  pool('strangler_upstream_pool_connected', 'Open connections to the backend.', (s) => s.connected)
  pool('strangler_upstream_pool_running', 'Requests in flight to the backend.', (s) => s.running)
  pool('strangler_upstream_pool_pending', 'Requests not yet sent to the backend.', (s) => s.pending)
  pool('strangler_upstream_pool_queued', 'Requests waiting for a free connection.', (s) => s.queued)
  new Gauge({
    name: 'strangler_upstream_pool_max_connections',
    help: 'Configured connection limit of the backend pool (backends.*.pool.connections).',
    labelNames: ['backend'],
    registers,
    collect () {
      this.reset()
      for (const [backend, p] of snapshot().pools) this.set({ backend }, p.backend.pool.connections)
    }
  })
}

/** The rollback guard's state and trips per route. */
export function registerGuardMetrics (registers: Registry[], snapshot: Snapshot): void {
  const guardStates = { closed: 0, open: 1, probing: 2 }
  new Gauge({
    name: 'strangler_guard_state', aggregator: 'max',
    help: 'Rollback guard per flagged route: 0 closed (flag decides), 1 open (flagged traffic on the baseline), 2 probing.',
    labelNames: ['route'],
    registers,
    collect () {
      this.reset()
      for (const [route, s] of Object.entries(snapshot().guard.status())) this.set({ route }, guardStates[s.state])
    }
  })
  new Counter({
    name: 'strangler_guard_trips_total',
    help: 'Times the rollback guard tripped, per route.',
    labelNames: ['route'],
    registers,
    collect () {
      this.reset()
      for (const [route, s] of Object.entries(snapshot().guard.status())) this.inc({ route }, s.trips)
    }
  })
}

/** Shadow comparisons, pairs, parity and what is in flight. */
export function registerShadowMetrics (registers: Registry[], snapshot: Snapshot): void {
  const shadow = (): MetricsView['shadow'] => snapshot().shadow
  new Counter({
    name: 'strangler_shadow_requests_total',
    help: 'Shadow comparisons by route and result: match, mismatch, error (the shadow failed), skipped (sampled out of body/concurrency caps, or not comparable).',
    labelNames: ['route', 'result'],
    registers,
    collect () {
      this.reset()
      for (const [route, totals] of shadow().totals()) {
        for (const [result, n] of Object.entries(totals) as Array<[string, number]>) this.inc({ route, result }, n)
      }
    }
  })
  new Counter({
    name: 'strangler_shadow_auth_mismatches_total',
    help: 'Shadow comparisons per route where one backend refused (401, 403, a redirect to sign in) what the other served with 2xx; also counted as mismatches.',
    labelNames: ['route'],
    registers,
    collect () {
      this.reset()
      for (const [route, n] of shadow().authMismatches()) this.inc({ route }, n)
    }
  })
  const routes = (): string[] => [...shadow().totals().keys()]
  new Counter({
    name: 'strangler_shadow_pairs_total',
    help: 'Distinct (user, path template) pairs compared by shadow traffic per route, each user counted for at most 10 endpoints per 10 minutes: what the parity gate judges.',
    labelNames: ['route', 'result'],
    registers,
    collect () {
      this.reset()
      for (const route of routes()) {
        const p = shadow().pairTotals(route)
        this.inc({ route, result: 'match' }, p.pairs - p.mismatched)
        this.inc({ route, result: 'mismatch' }, p.mismatched)
      }
    }
  })
  new Gauge({
    name: 'strangler_shadow_parity_ratio', aggregator: 'average',
    help: 'Per route, matching shadow comparisons over compared ones, last 5 minutes.',
    labelNames: ['route'],
    registers,
    collect () {
      this.reset()
      for (const [route, share] of shadow().window.shares()) this.set({ route }, share)
    }
  })
  new Gauge({
    name: 'strangler_shadow_inflight',
    help: 'Shadow requests in flight, all routes (each capped by its shadow.maxConcurrent).',
    registers,
    collect () { this.set(shadow().inflight()) }
  })
}
