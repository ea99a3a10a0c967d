/**
 * Every strangler_* series, on a registry of this instance's own (never the global
 * one). Labels are names from routes.yaml and small fixed sets, never raw paths, so
 * the number of series is bounded by the config, not by traffic.
 */
import { Registry, Counter, Gauge, collectDefaultMetrics } from 'prom-client'
import type { Config } from '../config/config.js'
import { legacyBackends, routeBackends } from '../config/roles.js'
import { Ledger } from './sliding-share.js'
import { RequestSeries, DURATION_BUCKETS, type BackendTotals } from './request-series.js'
import { registerRampMetrics, type RampCounters, type RampGauge } from './ramp-metrics.js'
import { toOpenMetrics, exemplarKey, type Exemplar } from './openmetrics.js'
import { registerFlagMetrics, registerGuardMetrics, registerPoolMetrics, registerShadowMetrics, routedFlagsHash, type MetricsView } from './view-metrics.js'

export { DURATION_BUCKETS }
export { flagsHash, type MetricsView } from './view-metrics.js'

/** Label value for requests that matched no route (route names cannot start with "_"). */
export const NO_ROUTE = '_none'

/** What one finished request tells the metrics (proxy/request-state.ts's RequestState is one). */
export interface RecordedRequest {
  readonly route: string | undefined
  readonly backend: string | undefined
  readonly reason: string | undefined
  readonly trace: { readonly traceId: string } | undefined
  readonly upstreamError: string | undefined
  readonly failoverFrom: { readonly backend: string, readonly kind: string } | undefined
  readonly overrideRejected: string | undefined
  readonly declinedFrom: string | undefined
}

export class Metrics {
  readonly registry = new Registry()
  readonly ledger = new Ledger()
  readonly #series = new RequestSeries(DURATION_BUCKETS)
  readonly #upstreamErrors: Counter<'route' | 'backend' | 'kind'>
  readonly #reloads: Counter<'result'>
  readonly #lastReloadOk: Gauge
  readonly #unhandled: Counter
  readonly #overrideRejected: Counter<'route' | 'reason'>
  readonly #version: Gauge<'version'>
  readonly #configInfo: Gauge<'version'>
  /** The flags the live routes name: their definitions are hashed at scrape time. */
  #flagNames: readonly string[] = []
  readonly #routeBackend: Gauge<'route' | 'backend' | 'role'>
  readonly #rampCounters: RampCounters
  readonly #timelineEvents: Counter<'kind' | 'route'>
  readonly #notifyFailures: Counter<'target' | 'reason'>
  readonly #declined: Counter<'route' | 'backend'>
  #ramps: () => Iterable<RampGauge> = () => []
  #droppedSpans: () => number = () => 0
  #rampStates: readonly string[] = []
  #legacy: ReadonlySet<string> = new Set()

  readonly #snapshot: () => MetricsView

  constructor (snapshot: () => MetricsView) {
    this.#snapshot = snapshot
    const registers = [this.registry]
    collectDefaultMetrics({ register: this.registry })
    this.#series.register(this.registry, {
      requests: { name: 'strangler_requests_total', help: 'Requests by route, backend, method and status code (499: client went away).' },
      duration: { name: 'strangler_request_duration_seconds', help: 'From request received to response finished.' },
      decisions: { name: 'strangler_decisions_total', help: 'Backend decisions by reason (static, flag_on, flag_off, flag_unavailable, override).' }
    })
    this.#upstreamErrors = new Counter({ name: 'strangler_upstream_errors_total', help: 'Transport failures talking to a backend, by kind.', labelNames: ['route', 'backend', 'kind'], registers })
    this.#reloads = new Counter({ name: 'strangler_config_reloads_total', help: 'Config reloads by result (success, failure).', labelNames: ['result'], registers })
    this.#lastReloadOk = new Gauge({ name: 'strangler_config_last_reload_successful', aggregator: 'min', help: '1 if the last config reload succeeded (or none was tried), 0 if it was rejected.', registers })
    this.#version = new Gauge({ name: 'strangler_config_version_info', aggregator: 'max', help: 'The config version being served (content hash of routes.yaml).', labelNames: ['version'], registers })
    this.#configInfo = new Gauge({ name: 'strangler_config_info', aggregator: 'max', help: 'The routes.yaml version being served (content hash): replicas that disagree show different versions (StranglerFleetDrift).', labelNames: ['version'], registers })
    this.#routeBackend = new Gauge({ name: 'strangler_route_backend_info', aggregator: 'max', help: 'Backends each route can use: role baseline (the route\'s backend), flag or variant. For comparing a new backend with the baseline on the same route.', labelNames: ['route', 'backend', 'role'], registers })
    this.#overrideRejected = new Counter({ name: 'strangler_override_rejected_total', help: 'Backend overrides not honoured, by route and reason (disabled, malformed, bad_signature, expired, wrong_route, backend_not_allowed).', labelNames: ['route', 'reason'], registers })
    this.#unhandled = new Counter({ name: 'strangler_unhandled_rejections_total', help: 'Promise rejections nothing handled: a bug, logged at error; the process keeps serving.', registers })
    const dropped = (): number => this.#droppedSpans()
    new Counter({
      name: 'strangler_tracing_dropped_spans_total',
      help: 'Spans that never reached the trace collector: dropped from a full export queue or lost in a failed export. 0 with tracing off.',
      registers,
      collect () {
        this.reset()
        this.inc(dropped())
      }
    })
    this.#timelineEvents = new Counter({ name: 'strangler_timeline_events_total', help: 'Migration timeline events by kind and route (_none for events without a route).', labelNames: ['kind', 'route'], registers })
    this.#declined = new Counter({ name: 'strangler_declined_total', help: 'Requests a new backend declined ("not mine yet", routes[].decline) and the baseline served, by route and the declining backend.', labelNames: ['route', 'backend'], registers })
    this.#notifyFailures = new Counter({ name: 'strangler_notify_failures_total', help: 'Timeline webhook deliveries given up, by target host and reason (failed after retries, dropped from a full queue).', labelNames: ['target', 'reason'], registers })
    this.#rampCounters = registerRampMetrics(this.registry, () => this.#ramps(), () => this.#rampStates)
    // Both results exist from the start, so rate() and increase() see the first failure.
    this.#reloads.inc({ result: 'success' }, 0)
    this.#reloads.inc({ result: 'failure' }, 0)
    this.#lastReloadOk.set(1)

    registerFlagMetrics(registers, snapshot, () => this.#flagNames)
    registerPoolMetrics(registers, snapshot)
    registerGuardMetrics(registers, snapshot)
    registerShadowMetrics(registers, snapshot)
    const ledger = this.ledger
    new Gauge({
      name: 'strangler_migration_share', aggregator: 'average',
      help: 'Per route, the share of requests served by a new (not legacy) backend over the last 5 minutes.',
      labelNames: ['route'],
      registers,
      collect () {
        this.reset()
        for (const [route, share] of ledger.shares()) this.set({ route }, share)
      }
    })
  }

  /** Call with every config that goes live. */
  configApplied (config: Config): void {
    this.#flagNames = [...new Set(config.routes.flatMap((r) => r.flag === undefined ? [] : [r.flag.name]))]
    this.#version.reset()
    this.#version.set({ version: config.version }, 1)
    this.#configInfo.reset()
    this.#configInfo.set({ version: config.version }, 1)
    this.#routeBackend.reset()
    this.#legacy = legacyBackends(config)
    for (const r of config.routes) {
      for (const b of routeBackends(r)) {
        this.#routeBackend.set({ route: r.name, backend: b, role: b === r.backend ? 'baseline' : b === r.flag?.backend ? 'flag' : 'variant' }, 1)
      }
    }
    this.ledger.retain(new Set(config.routes.map((r) => r.name)))
  }

  /** The OpenMetrics exposition, with the latency histogram's trace-id exemplars. */
  async openMetrics (): Promise<string> {
    return toOpenMetrics(await this.registry.metrics(), this.exemplars())
  }

  /** The latency histogram's latest trace-id exemplar per bucket (a --workers primary merges its workers'). */
  exemplars (): Map<string, Exemplar> {
    return this.#series.exemplars(exemplarKey)
  }

  /** strangler_flags_info's hash as of now; undefined without flags. */
  flagsHash (): string | undefined {
    return routedFlagsHash(this.#snapshot(), this.#flagNames)
  }

  /** Counts so far for one route and backend (the ramp's gates take differences of these). */
  totals (route: string, backend: string): BackendTotals {
    return this.#series.totals(route, backend)
  }

  /** The ramps to show, read at scrape time, and every state a ramp can be in (each gets a 0/1 series). */
  watchRamps (read: () => Iterable<RampGauge>, states: readonly string[]): void {
    this.#ramps = read
    this.#rampStates = states
  }

  /** Where the tracing's dropped-span count is read at scrape time. */
  watchTracing (dropped: () => number): void {
    this.#droppedSpans = dropped
  }

  rampTransition (route: string, to: string, dryRun?: boolean): void {
    this.#rampCounters.transition(route, to, dryRun)
  }

  rampWriteFailure (route: string): void {
    this.#rampCounters.writeFailure(route)
  }

  /** One event (by 0: the series exists from now on, so increase() sees the first event). */
  timelineEvent (kind: string, route: string, by = 1): void {
    this.#timelineEvents.inc({ kind, route }, by)
  }

  notifyFailure (target: string, reason: string): void {
    this.#notifyFailures.inc({ target, reason })
  }

  unhandledRejection (): void {
    this.#unhandled.inc()
  }

  reload (ok: boolean): void {
    this.#reloads.inc({ result: ok ? 'success' : 'failure' })
    this.#lastReloadOk.set(ok ? 1 : 0)
  }

  /** Once per request, when its response closes; `seconds` since it arrived. */
  request (state: RecordedRequest, method: string, status: number, seconds: number): void {
    const route = state.route ?? NO_ROUTE
    const backend = state.backend ?? NO_ROUTE
    const routed = state.route !== undefined && state.backend !== undefined
    this.#series.record(route, backend, method, status, seconds, routed ? state.reason : undefined, state.trace?.traceId)
    if (state.upstreamError !== undefined) this.#upstreamErrors.inc({ route, backend, kind: state.upstreamError })
    if (state.failoverFrom !== undefined) this.#upstreamErrors.inc({ route, backend: state.failoverFrom.backend, kind: state.failoverFrom.kind })
    if (state.overrideRejected !== undefined) this.#overrideRejected.inc({ route, reason: state.overrideRejected })
    if (state.declinedFrom !== undefined) this.#declined.inc({ route, backend: state.declinedFrom })
    if (!routed) return
    this.ledger.record(route, !this.#legacy.has(backend))
  }
}
