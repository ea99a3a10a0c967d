/**
 * What runs a migration beside the traffic, wired to one proxy: the ramp driver (on
 * this process's counters) and the migration timeline (events from reloads, flags,
 * the guard, failovers, parity and ramps, with their impact).
 */
import { Freezes } from '../ramp/freezes.js'
import type { Config } from '../config/config.js'
import type { Metrics } from '../observe/metrics.js'
import { stateDir } from '../config/state-dir.js'
import { RampDriver } from '../ramp/driver.js'
import { rampRoutes, RAMP_VIEW_STATES } from '../ramp/view.js'
import { LocalFigures } from '../ramp/figures.js'
import { PromQL } from '../ramp/promql.js'
import { queryRunner } from '../ramp/query-gates.js'
import { checkRunner } from '../ramp/checks.js'
import { RampStore } from '../ramp/store.js'
import { rolloutTarget } from '../ramp/targets.js'
import { DryRunTarget, isDryRun } from '../ramp/dry-run.js'
import { Timeline } from '../timeline/timeline.js'
import { flagEditor, unleashAdmin } from '../flags/unleash-admin.js'
import { TimelineStore } from '../timeline/store.js'
import { ImpactMeter } from '../timeline/impact.js'
import { Notifier } from '../timeline/notify.js'
import type { EventCause } from '../timeline/event.js'
import { announcedByOne } from '../timeline/fleet.js'
import type { Runtime, RuntimeEvents } from './runtime.js'
import { join } from 'node:path'
import { stateFileName } from '../flags/private-storage.js'
import type { FeatureInterface } from '../flags/unleash-internals.js'
import { Inventory } from '../status/inventory.js'
import { EvidenceTracker } from '../status/readiness.js'
import { MigrationWatch } from '../status/watch.js'
import { buildStatus, routeState, type StatusReport } from '../status/report.js'
import { Coverage } from '../coverage/coverage.js'
import { summarize, type CoverageReport } from '../coverage/reconcile.js'
import { routeFinder } from '../coverage/route-finder.js'
import { legacyBackends, routeBackends } from '../config/roles.js'
import type { StatusHost } from '../admin/status-routes.js'
import type { StartOptions } from './start-options.js'

/** Runtime events, passed on to the timeline once it exists (the runtime is built first). */
export function eventRelay (): RuntimeEvents & { to: Timeline | undefined, watch: MigrationWatch | undefined } {
  return {
    to: undefined,
    watch: undefined,
    flagsChanged (changes, source) { this.to?.flagsChanged(changes, source) },
    guardChanged (route, from, to, why) { this.to?.guardChanged(route, from, to, why) },
    failover (route) { this.to?.failover(route) },
    served (config, route, backend, reason, method, url, status, client) { this.watch?.observe(config, route, backend, reason, method, url, status, client) }
  }
}

/**
 * The name a process's state files are kept under: its routes.yaml, and in a --workers
 * worker also its slot, so workers never write over each other and a replaced worker
 * takes up where its slot left off.
 */
export function stateKey (opts: Pick<StartOptions, 'configFile' | 'worker'>): string {
  return opts.worker === undefined ? opts.configFile : `${opts.configFile}#worker-${opts.worker}`
}

/** How often the retirement evidence is brought up to date and saved. */
const EVIDENCE_EVERY_MS = 5000

export interface StatusParts {
  readonly host: StatusHost
  readonly watch: MigrationWatch
  stop (): void
}

export function createStatus (runtime: Runtime, metrics: Metrics, timeline: Timeline, ramp: RampDriver | undefined, opts: StartOptions): StatusParts {
  const config = (): Config => runtime.snapshot.config
  const inventory = new Inventory(config().inventory.maxTemplates)
  const evidence = new EvidenceTracker(() => join(stateDir(config(), opts.env ?? {}), stateFileName('status', stateKey(opts), 'json')))
  const definition = (flag: string): FeatureInterface | undefined => runtime.snapshot.flags?.definition(flag)
  const coverage = new Coverage(opts.logger, () => join(stateDir(config(), opts.env ?? {}), stateFileName('coverage', stateKey(opts), 'json')))
  const saveCoverage = (): void => {
    if (config().coverage === undefined) return
    try {
      coverage.traffic.flush(Date.now())
    } catch (err) {
      opts.logger.error({ error: (err as Error).message }, 'could not save the coverage traffic; it is kept in memory')
    }
  }
  const tickCoverage = (): void => {
    // Reads the declarations when the config changed or they are due; logs what it cannot read.
    if (config().coverage !== undefined) void coverage.refresh(config())
    saveCoverage()
  }
  const tick = (window = timeline.recent()): void => {
    tickCoverage()
    const c = config()
    const legacy = legacyBackends(c)
    const recent = window.routes
    const totals = runtime.shadow.totals()
    try {
      evidence.tick(c.routes.map((r) => {
        const legacySide = Object.entries(recent[r.name] ?? {}).find(([b]) => legacy.has(b))?.[1]
        const shadow = totals.get(r.name)
        return { route: r.name, migrated: routeState(r, legacy, definition).state === 'migrated', shadow: shadow === undefined ? undefined : { match: shadow.match, mismatch: shadow.mismatch }, legacy: legacySide }
      }), Date.now())
    } catch (err) {
      opts.logger.error({ error: (err as Error).message }, 'could not save the retirement evidence; it is kept in memory')
    }
  }
  const timer = setInterval(() => tick(), EVIDENCE_EVERY_MS)
  timer.unref()
  tickCoverage()
  const status = (): StatusReport => {
    const recent = timeline.recent()
    tick(recent)
    const guard = runtime.guard.status()
    const inv = inventory.report()
    return buildStatus({
      config: config(),
      now: Date.now(),
      definition,
      liveSplit: metrics.ledger.shares(),
      guard: (route) => guard[route]?.state,
      parity: runtime.shadow.window.shares(),
      ramp: (route) => ramp?.view(route),
      recent,
      events: (route) => timeline.query({ route, limit: 3 }),
      evidence: (route) => evidence.get(route),
      inventory: { entries: inv.entries.slice(0, 100), other: inv.other, notFound: inv.notFound, failed: inv.failed }
    })
  }
  const coverageOf = async (s: StatusReport): Promise<CoverageReport | undefined> => {
    const c = config()
    if (c.coverage === undefined) return undefined
    const states = new Map(s.routes.map((r) => [r.name, r.state]))
    return await coverage.report(c, { routeFor: routeFinder(runtime.snapshot.table), stateOf: (r) => states.get(r.name) ?? 'legacy' })
  }
  return {
    watch: new MigrationWatch(inventory, evidence, coverage.traffic),
    stop: () => {
      clearInterval(timer)
      saveCoverage()
    },
    host: {
      inventory: () => inventory.report(),
      report: async () => {
        const s = status()
        const c = await coverageOf(s)
        return c === undefined ? s : { ...s, coverage: summarize(c) }
      },
      coverage: async () => await coverageOf(status())
    }
  }
}

export function causeOf (trigger: string): EventCause {
  return trigger === 'file-change' || trigger === 'SIGHUP' ? trigger : 'admin-api'
}

export function createTimeline (runtime: Runtime, metrics: Metrics, opts: StartOptions): Timeline {
  const config = (): Config => runtime.snapshot.config
  const notifier = new Notifier(opts.logger, opts.env ?? {}, (target, reason) => metrics.notifyFailure(target, reason))
  notifier.configure(config().notify)
  const backends = (): ReadonlyMap<string, readonly string[]> => new Map(config().routes.map((r) => [r.name, routeBackends(r)]))
  return new Timeline({
    logger: opts.logger,
    store: new TimelineStore(() => stateDir(config(), opts.env ?? {}), stateKey(opts), config().timeline.maxFileSize),
    // Every worker sees a flag edit or a reload; one of them announces it.
    announces: (e) => !announcedByOne(e) || (opts.announcer?.() ?? true),
    impact: new ImpactMeter((route, backend) => metrics.totals(route, backend), backends, config().timeline.impactDelay),
    notifier,
    config,
    counted: (kind, route, by) => metrics.timelineEvent(kind, route, by),
    parity: () => runtime.shadow.window.shares(),
    flagEditor: async (flag) => {
      const u = config().flags?.unleash
      const admin = u === undefined ? undefined : unleashAdmin(u, opts.env ?? {})
      return admin === undefined ? undefined : await flagEditor(admin, flag)
    }
  })
}

export function createRampDriver (runtime: Runtime, metrics: Metrics, opts: StartOptions, timeline: Timeline | undefined): RampDriver {
  const config = runtime.snapshot.config
  const env = opts.env ?? {}
  const driver: RampDriver = new RampDriver({
    logger: opts.logger,
    store: new RampStore(() => stateDir(config, opts.env ?? {}), opts.configFile),
    freezes: new Freezes(() => stateDir(config, opts.env ?? {}), opts.configFile),
    freezeChanged: (route, freeze, actor) => timeline?.rampFreeze(route, freeze, actor),
    target: new DryRunTarget(rolloutTarget(config, () => runtime.snapshot.flags, env), () => runtime.snapshot.config.routes),
    figures: new LocalFigures(runtime.evidence, () => runtime.shadow),
    checks: checkRunner(env.STRANGLER_OVERRIDE_SECRET, () => runtime.snapshot.config.override.header),
    queries: async (ramp, since) => {
      const ramps = runtime.snapshot.config.ramps
      return ramps.prometheus === undefined ? [] : await queryRunner(new PromQL(ramps.prometheus, ramps.timeout))(ramp, since)
    },
    // With ramps.driver: fleet, `ramp run` drives and this proxy only follows the flags.
    ramps: () => runtime.snapshot.config.ramps.driver === 'proxy' ? rampRoutes(runtime.snapshot.config.routes) : [],
    transition: (route, to, record, before, percent, actor) => {
      const dry = isDryRun(runtime.snapshot.config.routes, { route })
      metrics.rampTransition(route, to, dry)
      timeline?.rampTransition(route, to, before, { state: record.state, percent }, dry ? `dry run, nothing written: ${record.reason}` : record.reason, actor)
    },
    writeFailed: (route, flag, percent, applied, error, attempts) => {
      metrics.rampWriteFailure(route)
      // One event per write that keeps failing, not one per retry.
      if (attempts === 1) timeline?.rampWriteFailed(route, flag, percent, applied, error)
    },
    timeoutMs: config.ramps.timeout,
    stallAfterMs: config.ramps.stallAfter
  })
  metrics.watchRamps(() => driver.status(), RAMP_VIEW_STATES)
  return driver
}
