/**
 * What a ramp shows people (GET /ramp, the status page, explain): the plan's state,
 * the rollout as read back, a write that failed, a stall, the last judgement.
 */
import type { RampConfig, RouteConfig } from '../config/config.js'
import type { WindowSides } from './figures.js'
import type { Judgement } from './gates.js'
import { describeWindows } from './windows.js'
import { percentOf, RAMP_STATES, type RampRecord } from './machine.js'
import type { PendingWrite } from './write.js'

export interface RampRoute {
  readonly route: string
  readonly flag: string
  readonly plan: RampConfig
  readonly sides: WindowSides
}

/** The ramps of a config: routes with ramp: and a flag backend. */
export function rampRoutes (routes: readonly RouteConfig[]): RampRoute[] {
  return routes.flatMap((r) => {
    if (r.ramp === undefined || r.flag?.backend === undefined) return []
    const candidate = r.flag.backend
    return [{ route: r.name, flag: r.flag.name, plan: r.ramp, sides: { route: r.name, baseline: r.backend, candidate, shadowed: r.shadow !== undefined && (r.shadow.backend === candidate || candidate === r.backend) } }]
  })
}

/** Every state a ramp's view can show: the plan's, and write_failed. */
export const RAMP_VIEW_STATES: readonly string[] = [...RAMP_STATES, 'write_failed']

/** What the status shows of a write: applied (read back), pending, or failed and retrying. */
export interface WriteView {
  readonly status: 'applied' | 'pending' | 'failed'
  readonly percent: number
  readonly error: string | undefined
  readonly attempts: number
  readonly nextRetryAt: string | undefined
}

export interface RampView {
  readonly route: string
  readonly flag: string
  readonly steps: readonly number[]
  readonly approve: readonly number[]
  /** The rollout in effect as last read back from the flag source (not what the ramp wants). */
  readonly percent: number
  /** What the ramp wants the rollout to be. */
  readonly targetPercent: number
  readonly nextPercent: number | undefined
  /** The plan's state, or write_failed while the rollout it wants could not be written. */
  readonly state: RampRecord['state'] | 'write_failed'
  /** The plan's state even while a write fails. */
  readonly planState: RampRecord['state']
  readonly owned: boolean
  readonly failures: number
  readonly maxFailures: number
  readonly stepStartedAt: string
  readonly reason: string
  readonly rolloutIn: string
  readonly write: WriteView
  /** Since when the ramp has had no usable figures, if it has none now. */
  readonly noEvidenceSince: string | undefined
  /** True once that has lasted ramps.stallAfter. */
  readonly stalled: boolean
  readonly lastJudgement: Judgement | undefined
  /** Why the ramp may not move forward now (a freeze, or outside its change windows); null when it may. */
  readonly held: string | null
  /** The plan's change windows, in words; null without windows. */
  readonly windows: string | null
  /** A dry run: every transition judged and recorded, nothing written. */
  readonly dryRun: boolean
}

/** What the driver knows of one ramp at the moment it is shown. */
export interface ViewInput {
  readonly ramp: RampRoute
  readonly record: RampRecord
  /** The rollout last read back; undefined when the wanted one stands. */
  readonly applied: number | undefined
  readonly write: PendingWrite | undefined
  readonly noEvidenceSince: number | undefined
  readonly stallAfterMs: number
  readonly now: number
  readonly where: string
  readonly judgement: Judgement | undefined
  readonly held: string | undefined
}

export function rampView (v: ViewInput): RampView {
  const { ramp, record: r } = v
  const wanted = percentOf(ramp.plan, r)
  const applied = v.applied ?? wanted
  const w = v.write
  const write: WriteView = w === undefined
    ? { status: 'applied', percent: applied, error: undefined, attempts: 0, nextRetryAt: undefined }
    : { status: w.error === undefined ? 'pending' : 'failed', percent: w.percent, error: w.error, attempts: w.attempts, nextRetryAt: w.error === undefined ? undefined : new Date(w.nextAt).toISOString() }
  const since = v.noEvidenceSince
  const stalled = since !== undefined && v.now - since >= v.stallAfterMs
  const failedReason = `WRITE FAILED: the ramp is ${r.state} at ${wanted} %, but the rollout of ${ramp.flag} in ${v.where} is still ${applied} % (${write.error}); retrying. ${r.reason}`
  return {
    route: ramp.route,
    flag: ramp.flag,
    steps: ramp.plan.steps,
    approve: [...ramp.plan.approve],
    percent: applied,
    targetPercent: wanted,
    nextPercent: r.state === 'completed' ? undefined : ramp.plan.steps[r.step + 1],
    state: write.status === 'failed' ? 'write_failed' : r.state,
    planState: r.state,
    owned: r.owned,
    failures: r.failures,
    maxFailures: ramp.plan.maxFailures,
    stepStartedAt: new Date(r.since).toISOString(),
    reason: write.status === 'failed' ? failedReason : stalled ? `STALLED: ${r.reason}` : r.reason,
    rolloutIn: v.where,
    write,
    noEvidenceSince: since === undefined ? undefined : new Date(since).toISOString(),
    stalled,
    lastJudgement: v.judgement,
    held: v.held ?? null,
    windows: ramp.plan.windows.length === 0 ? null : describeWindows(ramp.plan.windows),
    dryRun: ramp.plan.dryRun
  }
}
