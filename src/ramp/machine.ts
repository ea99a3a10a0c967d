/**
 * A ramp's state and its transitions, pure: what a judgement or a person's action does
 * to the step. Steps only ever move the rollout percentage, and a rollout is monotonic
 * in the bucket, so stepping back returns only the newest cohort to the baseline.
 */
import type { RampConfig } from '../config/config.js'
import type { Judgement } from './gates.js'

export type RampState = 'running' | 'awaiting_approval' | 'paused' | 'completed' | 'aborted'
export const RAMP_STATES: readonly RampState[] = ['running', 'awaiting_approval', 'paused', 'completed', 'aborted']
export type RampAction = 'pause' | 'resume' | 'approve' | 'abort' | 'skip'
export const RAMP_ACTIONS: readonly RampAction[] = ['pause', 'resume', 'approve', 'abort', 'skip']

export interface RampRecord {
  readonly flag: string
  /** Index into the plan's steps; -1 is 0 % (before the first step, or aborted). */
  readonly step: number
  readonly state: RampState
  /** Epoch ms the current step's window started. */
  readonly since: number
  /** Gate failures so far in this ramp. */
  readonly failures: number
  /** Why the ramp is where it is, in words. */
  readonly reason: string
  /** False after the rollout was changed outside the ramp: the person's value stands until resume. */
  readonly owned: boolean
  readonly updatedAt: number
  /** Operators who approved the step waiting for approval, when it needs more than one. */
  readonly approvals?: readonly string[] | undefined
}

/** Who asked for an action, and why (recorded in the reason, the timeline and the log). */
export interface Actor {
  readonly name: string
  readonly reason?: string | undefined
}

function by (actor: Actor): string {
  return actor.reason === undefined ? actor.name : `${actor.name} ("${actor.reason}")`
}

/** What a transition did, for the metrics, the log and the timeline. */
export type Transition = 'step_up' | 'step_back' | 'awaiting_approval' | 'paused' | 'running' | 'completed' | 'aborted'

export interface Outcome {
  readonly record: RampRecord
  readonly transition: Transition | undefined
}

export function percentOf (plan: RampConfig, record: RampRecord): number {
  return record.step < 0 ? 0 : plan.steps[Math.min(record.step, plan.steps.length - 1)] as number
}

/** A new ramp: the first step, or waiting for its approval. */
export function initialRecord (plan: RampConfig, flag: string, now: number): RampRecord {
  const first = plan.steps[0] as number
  return plan.approve.has(first)
    ? { flag, step: -1, state: 'awaiting_approval', since: now, failures: 0, reason: `waits for approval to enter ${first} %`, owned: true, updatedAt: now }
    : { flag, step: 0, state: 'running', since: now, failures: 0, reason: `started at ${first} %`, owned: true, updatedAt: now }
}

/** The record for a plan that changed on reload: the same percentage if it is still a step, else the highest step below it. */
export function fitToPlan (plan: RampConfig, record: RampRecord, oldPercent: number): RampRecord {
  let step = -1
  plan.steps.forEach((s, i) => { if (s <= oldPercent) step = i })
  return step === record.step ? record : { ...record, step }
}

function enter (plan: RampConfig, record: RampRecord, step: number, now: number, reason: string): Outcome {
  const last = plan.steps.length - 1
  if (step >= last) return { record: { ...record, step: last, state: 'completed', since: now, reason, updatedAt: now, approvals: undefined }, transition: 'completed' }
  return { record: { ...record, step, state: 'running', since: now, reason, updatedAt: now, approvals: undefined }, transition: 'step_up' }
}

/** One judgement of the running step. */
export function onJudgement (plan: RampConfig, record: RampRecord, j: Judgement, now: number): Outcome {
  if (record.state !== 'running') return { record, transition: undefined }
  if (j.verdict === 'wait') return { record: { ...record, reason: j.reason }, transition: undefined }
  if (j.verdict === 'fail') {
    const failures = record.failures + 1
    const percent = percentOf(plan, record)
    if (plan.onFail === 'abort' || failures >= plan.maxFailures || record.step <= 0) {
      const why = plan.onFail === 'abort' ? 'onFail: abort' : failures >= plan.maxFailures ? `${failures} failures of ${plan.maxFailures}` : 'no step below the first'
      return { record: { ...record, step: -1, state: 'aborted', failures, since: now, reason: `aborted at ${percent} % (${why}): ${j.reason}`, updatedAt: now }, transition: 'aborted' }
    }
    const back = record.step - 1
    return { record: { ...record, step: back, failures, since: now, reason: `stepped back from ${percent} % to ${plan.steps[back] as number} %: ${j.reason}`, updatedAt: now }, transition: 'step_back' }
  }
  const next = plan.steps[record.step + 1]
  if (next === undefined) return { record: { ...record, state: 'completed', reason: j.reason, updatedAt: now }, transition: 'completed' }
  if (plan.approve.has(next)) {
    return { record: { ...record, state: 'awaiting_approval', reason: `waits for approval to enter ${next} %; ${j.reason}`, updatedAt: now, approvals: [] }, transition: 'awaiting_approval' }
  }
  return enter(plan, record, record.step + 1, now, `entered ${next} %; ${j.reason}`)
}

/** A person's action; an error text when it does not apply in the current state. */
export function onAction (plan: RampConfig, record: RampRecord, action: RampAction, now: number, actor: Actor): Outcome | string {
  const at = `${percentOf(plan, record)} %`
  const who = by(actor)
  switch (action) {
    case 'pause':
      if (record.state === 'completed' || record.state === 'aborted' || record.state === 'paused') return `cannot pause a ${record.state} ramp`
      return { record: { ...record, state: 'paused', reason: `paused at ${at} by ${who}`, updatedAt: now }, transition: 'paused' }
    case 'resume':
      if (record.state !== 'paused' && record.state !== 'aborted') return `only a paused or aborted ramp resumes; this one is ${record.state}`
      if (record.state === 'aborted') {
        const fresh = initialRecord(plan, record.flag, now)
        return { record: { ...fresh, reason: `restarted by ${who} after an abort: ${fresh.reason}` }, transition: fresh.state === 'running' ? 'step_up' : 'awaiting_approval' }
      }
      return { record: { ...record, state: 'running', owned: true, since: now, reason: `resumed at ${at} by ${who}`, updatedAt: now }, transition: 'running' }
    case 'approve': return approve(plan, record, now, actor)
    case 'skip': {
      if (record.state !== 'running' && record.state !== 'awaiting_approval' && record.state !== 'paused') return `cannot skip a ${record.state} ramp`
      const next = plan.steps[record.step + 1] as number
      return enter(plan, { ...record, owned: true }, record.step + 1, now, `skipped to ${next} % by ${who}, without judging the gates of ${at}`)
    }
    case 'abort':
      if (record.state === 'aborted') return 'the ramp is already aborted'
      return { record: { ...record, step: -1, state: 'aborted', owned: true, since: now, reason: `aborted at ${at} by ${who}`, updatedAt: now }, transition: 'aborted' }
  }
}

/** One operator's approval: the step is entered once as many different operators as it needs have approved. */
function approve (plan: RampConfig, record: RampRecord, now: number, actor: Actor): Outcome | string {
  if (record.state !== 'awaiting_approval') return `nothing to approve: the ramp is ${record.state}`
  const next = plan.steps[record.step + 1] as number
  const needed = plan.approvers.get(next) ?? 1
  const earlier = record.approvals ?? []
  if (earlier.includes(actor.name)) return `${actor.name} has already approved ${next} %; it needs ${needed} different operators (approved so far: ${earlier.join(', ')})`
  if (earlier.length + 1 < needed) {
    const approvals = [...earlier, actor.name]
    return { record: { ...record, approvals, reason: `waits for approval to enter ${next} %: approved by ${approvals.join(', ')}, ${approvals.length} of ${needed}${actor.reason === undefined ? '' : ` ("${actor.reason}")`}`, updatedAt: now }, transition: 'awaiting_approval' }
  }
  return enter(plan, record, record.step + 1, now, `entered ${next} %, approved by ${[...earlier, by(actor)].join(' and ')}`)
}

/**
 * A firing alert's step back: as a failed gate (it counts toward maxFailures, and from
 * the first step or with onFail: abort the ramp aborts), for a ramp that is moving or
 * waiting to move; an error text for one that is not.
 */
export function onAlertStepBack (plan: RampConfig, record: RampRecord, now: number, why: string): Outcome | string {
  if (record.state !== 'running' && record.state !== 'awaiting_approval') return `nothing to step back: the ramp is ${record.state}`
  return onJudgement(plan, { ...record, state: 'running', approvals: undefined }, { verdict: 'fail', reason: why, gates: [], figures: NO_FIGURES, elapsedMs: now - record.since }, now)
}

const NO_SIDE = { requests: 0, errors: 0, clientErrors: 0, p99: undefined, sources: undefined }
const NO_FIGURES = { candidate: NO_SIDE, baseline: NO_SIDE, parity: undefined }
