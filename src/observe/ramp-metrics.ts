/** strangler_ramp_*: registered by a proxy that drives its ramps and by the fleet driver alike. */
import { Counter, Gauge, type Registry } from 'prom-client'

export interface RampGauge { readonly route: string, readonly percent: number, readonly state: string }

/** Registers the ramp series, read at scrape time; returns the transition counter's increment. */
export function registerRampMetrics (registry: Registry, ramps: () => Iterable<RampGauge>, states: () => readonly string[]): (route: string, to: string) => void {
  const registers = [registry]
  const transitions = new Counter({ name: 'strangler_ramp_transitions_total', help: 'Ramp plan transitions by route and what happened (step_up, step_back, awaiting_approval, paused, running, completed, aborted).', labelNames: ['route', 'to'], registers })
  new Gauge({
    name: 'strangler_ramp_step_percent', aggregator: 'max',
    help: 'Per route with a ramp plan, the rollout percentage of the step it is at.',
    labelNames: ['route'],
    registers,
    collect () {
      this.reset()
      for (const r of ramps()) this.set({ route: r.route }, r.percent)
    }
  })
  new Gauge({
    name: 'strangler_ramp_state', aggregator: 'max',
    help: 'Per route with a ramp plan, 1 for the state it is in (running, awaiting_approval, paused, completed, aborted), 0 for the others.',
    labelNames: ['route', 'state'],
    registers,
    collect () {
      this.reset()
      for (const r of ramps()) {
        for (const state of states()) this.set({ route: r.route, state }, state === r.state ? 1 : 0)
      }
    }
  })
  return (route, to) => transitions.inc({ route, to })
}
