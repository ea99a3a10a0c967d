/** strangler_ramp_*: registered by a proxy that drives its ramps and by the fleet driver alike. */
import { Counter, Gauge, type Registry } from 'prom-client'

export interface RampGauge { readonly route: string, readonly percent: number, readonly state: string, readonly stalled: boolean }

export interface RampCounters {
  /** `dryRun`: a dry run's transition, labelled dry_run="true" (nothing was written). */
  transition (route: string, to: string, dryRun?: boolean): void
  /** A rollout write that failed or whose read-back disagreed. */
  writeFailure (route: string): void
}

/** Registers the ramp series, read at scrape time; returns the counters' increments. */
export function registerRampMetrics (registry: Registry, ramps: () => Iterable<RampGauge>, states: () => readonly string[]): RampCounters {
  const registers = [registry]
  const transitions = new Counter({ name: 'strangler_ramp_transitions_total', help: 'Ramp plan transitions by route and what happened (step_up, step_back, awaiting_approval, paused, running, completed, aborted); a dry run\'s carry dry_run="true".', labelNames: ['route', 'to', 'dry_run'], registers })
  const writeFailures = new Counter({ name: 'strangler_ramp_write_failures_total', help: 'Rollout writes of a ramp that failed or did not read back as written (the ramp retries with backoff).', labelNames: ['route'], registers })
  new Gauge({
    name: 'strangler_ramp_step_percent', aggregator: 'max',
    help: 'Per route with a ramp plan, the rollout percentage in effect, as last read back from the flag source.',
    labelNames: ['route'],
    registers,
    collect () {
      this.reset()
      for (const r of ramps()) this.set({ route: r.route }, r.percent)
    }
  })
  new Gauge({
    name: 'strangler_ramp_state', aggregator: 'max',
    help: 'Per route with a ramp plan, 1 for the state it is in (running, awaiting_approval, paused, completed, aborted, write_failed), 0 for the others.',
    labelNames: ['route', 'state'],
    registers,
    collect () {
      this.reset()
      for (const r of ramps()) {
        for (const state of states()) this.set({ route: r.route, state }, state === r.state ? 1 : 0)
      }
    }
  })
  new Gauge({
    name: 'strangler_ramp_stalled', aggregator: 'max',
    help: 'Per route with a ramp plan, 1 when it has had no usable figures for ramps.stallAfter (a bad, missing or late answer from Prometheus, or from the flag source).',
    labelNames: ['route'],
    registers,
    collect () {
      this.reset()
      for (const r of ramps()) this.set({ route: r.route }, r.stalled ? 1 : 0)
    }
  })
  return {
    transition: (route, to, dryRun) => transitions.inc(dryRun === true ? { route, to, dry_run: 'true' } : { route, to }),
    writeFailure: (route) => writeFailures.inc({ route })
  }
}
