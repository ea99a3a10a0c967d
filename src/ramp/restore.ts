/**
 * A saved ramp taken up again at start. Under the same plan it resumes where it was.
 * Under an edited plan it resumes at the highest step at or below the saved
 * percentage, never above it; when no step is that low it pauses, leaving the
 * rollout as it is, and says why.
 */
import type { RampConfig } from '../config/config.js'
import type { RampRecord } from './machine.js'
import { planHash, type SavedRamp } from './store.js'

export function restore (plan: RampConfig, saved: SavedRamp, now: number): RampRecord {
  const base = { flag: saved.flag, state: saved.state, since: saved.since, failures: saved.failures, reason: saved.reason, owned: saved.owned, updatedAt: saved.updatedAt }
  if (saved.state === 'aborted') return { ...base, step: -1 }
  let step = -1
  plan.steps.forEach((s, i) => { if (s <= saved.percent) step = i })
  const exact = step >= 0 && plan.steps[step] === saved.percent
  if (planHash(plan) === saved.plan && (exact || saved.percent === 0)) return { ...base, step }
  if (step < 0) {
    return { ...base, step, state: 'paused', owned: false, since: now, updatedAt: now, reason: `paused: the plan changed while the proxy was stopped and no step of [${plan.steps.join(', ')}] is at or below the saved ${saved.percent} %; the rollout stays as it is until a person resumes or aborts` }
  }
  const at = plan.steps[step] as number
  const state = saved.state === 'completed' && step < plan.steps.length - 1 ? 'running' : saved.state
  return { ...base, step, state, since: now, updatedAt: now, reason: `the plan changed while the proxy was stopped: resumed at ${at} %, the highest step at or below the saved ${saved.percent} %` }
}

export function toSaved (plan: RampConfig, record: RampRecord, percent: number): SavedRamp {
  return { flag: record.flag, percent, plan: planHash(plan), state: record.state, since: record.since, failures: record.failures, reason: record.reason, owned: record.owned, updatedAt: record.updatedAt }
}
