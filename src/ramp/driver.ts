/**
 * Drives every ramp plan of one config: once per interval it judges each running step
 * on its window (gates.ts), moves the step (machine.ts), writes the rollout where the
 * flag lives (targets.ts, each write read back before it counts) and saves where it
 * stands (store.ts). It never fights a person over a flag: a rollout changed outside
 * the ramp pauses that ramp. A person's action never waits behind a pass: passes hold
 * no lock across the network, and a pass whose ramp was changed by an action while it
 * waited drops its judgement.
 * One driver per fleet: a single proxy runs its own, a fleet runs `ramp run`.
 */
import type { WindowFigures } from './figures.js'
import { judge, withGates, type GateResult, type Judgement } from './gates.js'
import type { AlertAction } from '../config/config.js'
import { ALL_ROUTES, describeFreeze, type Freeze } from './freezes.js'
import { describeWindows, inWindow } from './windows.js'
import { fitToPlan, initialRecord, onAction, onAlertStepBack, onJudgement, percentOf, type Actor, type Outcome, type RampAction, type RampRecord, type Transition } from './machine.js'
import type { SavedRamp } from './store.js'
import { restore, toSaved } from './restore.js'
import { backoff, PendingWrite, withTimeout } from './write.js'
import { rampView, type RampRoute, type RampView } from './view.js'
import type { ActionResult, RampDriverDeps } from './driver-deps.js'

export type { ActionResult, RampDriverDeps }

/** How long a person's action may wait for its write to be confirmed before it answers. */
const ACTION_WAIT_MS = 900
/** How long a failed `when: before` check waits before it is called again: smoke tests are not free. */
const BEFORE_RETRY_MS = 15_000

export class RampDriver {
  readonly #deps: RampDriverDeps
  readonly #now: () => number
  #records = new Map<string, RampRecord>()
  #saved = new Map<string, SavedRamp>()
  /** The percentage last confirmed in the flag source, per route. */
  readonly #applied = new Map<string, number>()
  readonly #plans = new Map<string, RampRoute>()
  readonly #judgements = new Map<string, Judgement>()
  /** Route → when its step was written: until the step has settled, answers belong to the old step. */
  readonly #settling = new Map<string, number>()
  /** Per route, the last failed round of `when: before` checks: at which step, when, and the reason shown. */
  readonly #beforeFailed = new Map<string, { step: number, at: number, reason: string }>()
  /** Writes not yet confirmed by a read-back. */
  readonly #writes = new Map<string, PendingWrite>()
  readonly #noEvidence = new Map<string, number>()
  #loaded = false
  /** Why the saved state was refused: every ramp shows as paused, nothing is written or saved. */
  #refused: string | undefined
  #pass: Promise<void> | undefined
  #timer: NodeJS.Timeout | undefined

  constructor (deps: RampDriverDeps) {
    this.#deps = deps
    this.#now = deps.now ?? Date.now
  }

  /** Loads saved state and takes up every ramp; then ticks every intervalMs. */
  async start (intervalMs: number): Promise<void> {
    await this.tick()
    this.#timer = setInterval(() => { void this.tick() }, intervalMs)
    this.#timer.unref()
  }

  stop (): void {
    clearInterval(this.#timer)
  }

  /** One pass over every ramp; at most one runs at a time (a call during one joins it). */
  async tick (): Promise<void> {
    this.#pass ??= this.#runPass().finally(() => { this.#pass = undefined })
    await this.#pass
  }

  async #runPass (): Promise<void> {
    const ramps = this.#deps.ramps()
    if (!this.#loaded) {
      // Loaded when the first ramp appears (at start, or in a reload).
      if (ramps.length === 0) return
      try {
        this.#saved = this.#deps.store.load()
        if (this.#refused !== undefined) {
          // Fixed or removed: what was shown while refused gives way to the saved state.
          this.#records.clear()
          this.#applied.clear()
          this.#refused = undefined
        }
      } catch (err) {
        // Guessing a step is worse than standing still: the ramps wait, visibly, until the file is fixed.
        const why = (err as Error).message
        if (this.#refused !== why) this.#deps.logger.error({ error: why, file: this.#deps.store.file }, 'ramp state refused: every ramp stays paused where it is until the file is fixed or removed')
        this.#refused = why
        for (const ramp of ramps) await this.#showRefused(ramp, why).catch(() => {})
        return
      }
      this.#loaded = true
    }
    const live = new Set(ramps.map((r) => r.route))
    for (const route of [...this.#records.keys()]) {
      if (!live.has(route)) this.#forget(route)
    }
    for (const ramp of ramps) {
      try {
        await this.#tickOne(ramp)
      } catch (err) {
        this.#note(ramp.route, `ramp pass failed: ${(err as Error).message}`)
      }
    }
    // Writes this pass started end (confirmed, failed or timed out) before it does.
    await Promise.all([...this.#writes.values()].map(async (w) => { await w.settled(2 * (this.#deps.timeoutMs ?? 5_000)) }))
    this.#save()
  }

  async act (route: string, action: RampAction, actor: Actor): Promise<ActionResult> {
    const deadline = this.#now() + ACTION_WAIT_MS
    const ramp = this.#plans.get(route)
    if (ramp === undefined || !this.#records.has(route)) return { ok: false, status: 404, detail: `route "${route}" has no ramp plan` }
    if (this.#refused !== undefined) return { ok: false, status: 409, detail: `the saved ramp state was refused (${this.#refused}); fix or remove ${this.#deps.store.file} first` }
    // A write already on its way may land: wait for it (briefly) so the answer says what stands.
    await this.#writes.get(route)?.settled(deadline - this.#now())
    const record = this.#records.get(route) as RampRecord
    const held = action === 'approve' || action === 'skip' ? this.#held(ramp) : undefined
    if (held !== undefined) return { ok: false, status: 409, detail: `cannot ${action} now: ${held}` }
    const outcome = onAction(ramp.plan, record, action, this.#now(), actor)
    if (typeof outcome === 'string') return { ok: false, status: 409, detail: outcome }
    this.#apply(ramp, outcome, actor)
    this.#save()
    await this.#writes.get(route)?.settled(deadline - this.#now())
    const view = this.#view(ramp)
    if (view.write.status === 'applied') return { ok: true, ramp: view }
    const done = `${action} recorded (the ramp is ${view.planState} at ${view.targetPercent} %)`
    const detail = view.write.status === 'pending'
      ? `${done}, but ${this.#deps.target.where} has not confirmed the rollout of ${view.flag} at ${view.targetPercent} % within ${ACTION_WAIT_MS} ms: it still serves ${view.percent} % as far as the driver knows; the write goes on in the background`
      : `${done}, but the rollout of ${view.flag} could not be set to ${view.targetPercent} % in ${this.#deps.target.where}: ${view.write.error ?? 'unknown error'}; it still serves ${view.percent} %, retrying`
    return { ok: false, status: 502, detail, ramp: view }
  }

  /**
   * A firing alert named in ramps.alerts, on `route`: pause, step back (as a failed
   * gate) or abort, recorded with the alert as the actor. An error text when the ramp
   * is not in a state the action applies to.
   */
  async alert (route: string, action: AlertAction, actor: Actor): Promise<ActionResult> {
    if (action !== 'stepBack') return await this.act(route, action, actor)
    const ramp = this.#plans.get(route)
    const record = this.#records.get(route)
    if (ramp === undefined || record === undefined) return { ok: false, status: 404, detail: `route "${route}" has no ramp plan` }
    const outcome = onAlertStepBack(ramp.plan, record, this.#now(), `${actor.name} firing${actor.reason === undefined ? '' : `: ${actor.reason}`}`)
    if (typeof outcome === 'string') return { ok: false, status: 409, detail: outcome }
    this.#apply(ramp, outcome, actor)
    this.#save()
    return { ok: true, ramp: this.#view(ramp) }
  }

  /** Why `ramp` may not move forward now: a freeze, or outside its change windows. Step-backs and aborts are never held. */
  #held (ramp: RampRoute): string | undefined {
    const now = this.#now()
    const freeze = this.#deps.freezes?.holding(ramp.route, now)
    if (freeze !== undefined) return describeFreeze(freeze)
    return inWindow(ramp.plan.windows, now) ? undefined : `outside the change window ${describeWindows(ramp.plan.windows)}`
  }

  /** Declares a freeze of `route` (ALL_ROUTES: every ramp) until `until`. */
  freeze (route: string, until: number, actor: Actor): { ok: true, freeze: Freeze } | { ok: false, status: 404 | 409, detail: string } {
    const freezes = this.#deps.freezes
    if (freezes === undefined) return { ok: false, status: 409, detail: 'this driver keeps no freezes' }
    if (route !== ALL_ROUTES && !this.#plans.has(route)) return { ok: false, status: 404, detail: `route "${route}" has no ramp plan` }
    if (until <= this.#now()) return { ok: false, status: 409, detail: 'until is not in the future' }
    const freeze: Freeze = { route, until, by: actor.name, reason: actor.reason, at: this.#now() }
    freezes.set(freeze)
    this.#deps.logger.warn({ route, until: new Date(until).toISOString(), operator: actor.name, reason: actor.reason }, `ramps ${describeFreeze(freeze)}`)
    this.#deps.freezeChanged?.(route, freeze, actor)
    return { ok: true, freeze }
  }

  unfreeze (route: string, actor: Actor): boolean {
    const lifted = this.#deps.freezes?.clear(route, this.#now()) ?? false
    if (!lifted) return false
    this.#deps.logger.warn({ route, operator: actor.name, reason: actor.reason }, `ramp freeze of ${route === ALL_ROUTES ? 'every route' : route} lifted by ${actor.name}`)
    this.#deps.freezeChanged?.(route, undefined, actor)
    return true
  }

  freezes (): Freeze[] {
    return this.#deps.freezes?.list(this.#now()) ?? []
  }

  status (): RampView[] {
    return [...this.#plans.values()].flatMap((r) => this.#records.has(r.route) ? [this.#view(r)] : [])
  }

  view (route: string): RampView | undefined {
    const ramp = this.#plans.get(route)
    return ramp === undefined || !this.#records.has(route) ? undefined : this.#view(ramp)
  }

  async #timed<T> (what: Promise<T>): Promise<T> {
    return await withTimeout(what, this.#deps.timeoutMs ?? 5_000)
  }

  async #tickOne (ramp: RampRoute): Promise<void> {
    const { route, flag, plan } = ramp
    const target = this.#deps.target
    const previous = this.#plans.get(route)
    this.#plans.set(route, ramp)
    // A write not yet confirmed: retry it when due; nothing else moves meanwhile.
    const pending = this.#writes.get(route)
    if (pending !== undefined) {
      if (!pending.busy && this.#now() >= pending.nextAt) this.#startWrite(ramp, pending.percent)
      return
    }
    let record = this.#records.get(route)
    let current: number | string
    try {
      current = await this.#timed(target.read(flag))
    } catch (err) {
      this.#note(route, `could not read the rollout of ${flag} from ${target.where}: ${(err as Error).message}`)
      return
    }
    if (typeof current === 'string') {
      this.#note(route, current)
      return
    }
    // An action while the read was out decides; this pass does not.
    if (this.#records.get(route) !== record || this.#writes.has(route)) return
    if (record === undefined || record.flag !== flag) {
      this.#takeUp(ramp, current)
      return
    }
    if (previous !== undefined && JSON.stringify(previous.plan.steps) !== JSON.stringify(plan.steps)) {
      record = fitToPlan(plan, record, percentOf(previous.plan, record))
      this.#records.set(route, record)
    }
    if (!this.#applied.has(route)) {
      // First pass after a start: Unleash keeps the rollout; the file's is held in memory only.
      if (!target.persistent && record.owned) {
        this.#startWrite(ramp, percentOf(plan, record))
        return
      }
      if (record.owned && current !== percentOf(plan, record)) {
        this.#takeBack(ramp, record, current)
        return
      }
      this.#applied.set(route, current)
    }
    if (record.owned && current !== this.#applied.get(route)) {
      this.#takeBack(ramp, record, current)
      return
    }
    if (record.owned && this.#applied.get(route) !== percentOf(plan, record)) {
      this.#startWrite(ramp, percentOf(plan, record))
      return
    }
    if (record.state !== 'running') {
      this.#noEvidence.delete(route)
      return
    }
    const written = this.#settling.get(route)
    if (written !== undefined) {
      // The window starts one pass (and settleMs) after the step: answers still in
      // flight, or from replicas not yet refreshed, belong to the old step.
      if (this.#now() - written < (this.#deps.settleMs ?? 0)) return
      this.#settling.delete(route)
      this.#deps.figures.mark(ramp.sides, this.#now())
      this.#records.set(route, { ...record, since: this.#now() })
      return
    }
    await this.#judge(ramp, record)
  }

  async #judge (ramp: RampRoute, record: RampRecord): Promise<void> {
    const { route, plan } = ramp
    let j: Judgement
    try {
      const figures = await this.#timed(this.#deps.figures.read(ramp.sides, record.since))
      j = judge(plan, figures, this.#now() - record.since)
      if (plan.gates.queries.length > 0 && this.#deps.queries !== undefined) j = withGates(j, await this.#timed(this.#deps.queries(ramp, record.since)))
      // Smoke tests only for a step that would otherwise pass: one round of calls per passing judgement.
      const after = this.#checks(ramp, 'after')
      if (j.verdict === 'pass' && after !== undefined) j = withGates(j, await after())
      if (j.verdict === 'pass') j = await this.#beforeNext(ramp, record, j)
    } catch (err) {
      const why = (err as Error).message
      j = { verdict: 'wait', reason: `waiting: no usable evidence (${why})`, gates: [], figures: EMPTY, elapsedMs: this.#now() - record.since, noEvidence: why }
    }
    // A person acted while the figures were out: their decision stands.
    if (this.#records.get(route) !== record) return
    const held = j.verdict === 'pass' ? this.#held(ramp) : undefined
    if (held !== undefined) j = { ...j, verdict: 'wait', reason: `held: ${held}; ${j.reason}` }
    this.#judgements.set(route, j)
    if (j.noEvidence === undefined) this.#noEvidence.delete(route)
    else if (!this.#noEvidence.has(route)) {
      this.#noEvidence.set(route, this.#now())
      this.#deps.logger.warn({ route, why: j.noEvidence }, `ramp on route ${route} has no usable evidence: ${j.noEvidence}; it waits`)
    }
    this.#apply(ramp, onJudgement(plan, record, j, this.#now()))
  }

  /** The call of the plan's `when` checks; undefined when it has none (or the driver no runner). */
  #checks (ramp: RampRoute, when: 'before' | 'after'): (() => Promise<readonly GateResult[]>) | undefined {
    const run = this.#deps.checks
    return run === undefined || !ramp.plan.gates.checks.some((c) => c.when === when) ? undefined : async () => await run(ramp, when)
  }

  /**
   * `when: before` checks, for a step that passed: the next step is entered (or waits
   * for approval) only once they pass. A failure is not the current step's failure: the
   * ramp stays where it is, says why, and calls them again after BEFORE_RETRY_MS.
   */
  async #beforeNext (ramp: RampRoute, record: RampRecord, j: Judgement): Promise<Judgement> {
    const next = ramp.plan.steps[record.step + 1]
    const before = this.#checks(ramp, 'before')
    if (next === undefined || before === undefined) return j
    const failedBefore = this.#beforeFailed.get(ramp.route)
    if (failedBefore?.step === record.step && this.#now() - failedBefore.at < BEFORE_RETRY_MS) return { ...j, verdict: 'wait', reason: failedBefore.reason }
    const results = await before()
    const failed = results.filter((r) => r.pass !== true)
    if (failed.length === 0) {
      this.#beforeFailed.delete(ramp.route)
      return { ...j, gates: [...j.gates, ...results], reason: `${j.reason}; before ${next} %: ${results.map((r) => r.detail).join('; ')}` }
    }
    const reason = `waiting: before entering ${next} %, check failed: ${failed.map((r) => r.detail).join('; ')} (called again in ${BEFORE_RETRY_MS / 1000} s)`
    this.#beforeFailed.set(ramp.route, { step: record.step, at: this.#now(), reason })
    return { ...j, verdict: 'wait', reason, gates: [...j.gates, ...results] }
  }

  /** While the state file is refused: the ramp as paused where the flag stands, owning nothing. */
  async #showRefused (ramp: RampRoute, why: string): Promise<void> {
    this.#plans.set(ramp.route, ramp)
    const current = await this.#timed(this.#deps.target.read(ramp.flag))
    const base = initialRecord(ramp.plan, ramp.flag, this.#now())
    const at = typeof current === 'number' ? fitToPlan(ramp.plan, base, current) : base
    this.#records.set(ramp.route, { ...at, state: 'paused', owned: false, reason: `paused: the saved ramp state was refused (${why}); nothing is written until it is fixed or removed` })
    if (typeof current === 'number') this.#applied.set(ramp.route, current)
  }

  /** A ramp this driver has no record of yet: its saved state, or a new one that never takes users back. */
  #takeUp (ramp: RampRoute, current: number): void {
    const { route, flag, plan } = ramp
    const saved = this.#saved.get(route)
    let fresh: RampRecord
    if (saved !== undefined && saved.flag === flag) {
      fresh = restore(plan, saved, this.#now())
      this.#records.set(route, fresh)
      if (fresh.reason !== saved.reason) this.#deps.logger.warn({ route, flag, saved: { percent: saved.percent, state: saved.state } }, `ramp on route ${route}: ${fresh.reason}`)
      // The flags file's rollout is held in memory only: written again now. Unleash keeps what was written.
      if (!this.#deps.target.persistent) {
        if (fresh.owned) this.#startWrite(ramp, percentOf(plan, fresh))
        return
      }
      this.#applied.set(route, saved.percent)
      // Changed while the driver was down: the person's value stands.
      if (fresh.owned && current !== saved.percent) this.#takeBack(ramp, fresh, current)
      else this.#applied.set(route, current)
      return
    }
    fresh = initialRecord(plan, flag, this.#now())
    if (current > percentOf(plan, fresh)) fresh = { ...fitToPlan(plan, fresh, current), state: 'running', reason: `took over at ${current} % (the rollout already reached)` }
    this.#records.set(route, fresh)
    this.#applied.set(route, current)
    this.#deps.logger.info({ route, flag, ramp: { percent: percentOf(plan, fresh), state: fresh.state } }, `ramp on route ${route}: ${fresh.reason}`)
    this.#deps.transition?.(route, fresh.state === 'running' ? 'step_up' : fresh.state as Transition, fresh, undefined, percentOf(plan, fresh), undefined)
    if (percentOf(plan, fresh) !== current) this.#startWrite(ramp, percentOf(plan, fresh))
  }

  /** The rollout was changed outside the ramp: the person's value stands, the ramp pauses. */
  #takeBack (ramp: RampRoute, record: RampRecord, current: number): void {
    const expected = this.#applied.get(ramp.route) ?? percentOf(ramp.plan, record)
    const reason = `paused: the rollout of ${ramp.flag} is ${current} % in ${this.#deps.target.where}, the ramp had set ${expected} %; it was changed outside the ramp, so the ramp stopped instead of writing over it (resume to take over again at ${percentOf(ramp.plan, record)} %)`
    const next: RampRecord = { ...record, owned: false, state: record.state === 'running' || record.state === 'awaiting_approval' ? 'paused' : record.state, reason, updatedAt: this.#now() }
    this.#records.set(ramp.route, next)
    this.#applied.set(ramp.route, current)
    this.#deps.target.release(ramp.flag)
    this.#deps.logger.warn({ route: ramp.route, flag: ramp.flag, rollout: { expected, current } }, `ramp on route ${ramp.route} ${reason}`)
    if (next.state !== record.state) this.#deps.transition?.(ramp.route, 'paused', next, { state: record.state, percent: expected }, current, undefined)
  }

  /** Records an outcome at once; a rollout to write goes out in the background. */
  #apply (ramp: RampRoute, outcome: Outcome, actor?: Actor): void {
    const before = this.#records.get(ramp.route)
    this.#records.set(ramp.route, outcome.record)
    if (outcome.transition === undefined) return
    const from = before === undefined ? undefined : { state: before.state, percent: this.#applied.get(ramp.route) ?? percentOf(ramp.plan, before) }
    const percent = percentOf(ramp.plan, outcome.record)
    const level = outcome.transition === 'step_back' || outcome.transition === 'aborted' ? 'warn' : 'info'
    this.#deps.logger[level]({ route: ramp.route, flag: ramp.flag, ramp: { from: from?.percent, percent, state: outcome.record.state, transition: outcome.transition }, ...(actor === undefined ? {} : { operator: actor.name }) }, `ramp on route ${ramp.route}: ${outcome.record.reason}`)
    this.#deps.transition?.(ramp.route, outcome.transition, outcome.record, from, percent, actor)
    if (outcome.record.step !== before?.step || outcome.transition === 'running') this.#deps.figures.mark(ramp.sides, this.#now())
    if (outcome.record.owned && (this.#applied.get(ramp.route) !== percent || this.#writes.has(ramp.route))) this.#startWrite(ramp, percent)
  }

  /** Writes a rollout and reads it back; until they agree the write stays pending and is retried with backoff. */
  #startWrite (ramp: RampRoute, percent: number): void {
    const { route, flag } = ramp
    const previous = this.#writes.get(route)
    const w = new PendingWrite(percent, previous?.percent === percent ? previous.attempts : 0, previous?.percent === percent ? previous.error : undefined)
    this.#writes.set(route, w)
    const current = (): boolean => this.#writes.get(route) === w
    w.run((previous?.done ?? Promise.resolve()).then(async () => {
      if (!current()) return
      try {
        await this.#timed(this.#deps.target.write(flag, percent))
        const back = await this.#timed(this.#deps.target.read(flag))
        if (back !== percent) throw new Error(typeof back === 'string' ? back : `written, but it reads back as ${back} %`)
      } catch (err) {
        if (!current()) return
        w.failed((err as Error).message, this.#now() + backoff(w.attempts + 1, this.#deps.random ?? Math.random))
        this.#deps.logger.error({ route, flag, rollout: { wanted: percent, applied: this.#applied.get(route) }, attempts: w.attempts, error: w.error }, `ramp on route ${route}: could not set the rollout of ${flag} to ${percent} % in ${this.#deps.target.where}: ${w.error}; retrying`)
        this.#deps.writeFailed?.(route, flag, percent, this.#applied.get(route), w.error as string, w.attempts)
        return
      }
      if (!current()) return
      this.#writes.delete(route)
      if (w.attempts > 0) this.#deps.logger.warn({ route, flag, percent, attempts: w.attempts }, `ramp on route ${route}: the rollout of ${flag} is now ${percent} % in ${this.#deps.target.where}`)
      this.#applied.set(route, percent)
      this.#settling.set(route, this.#now())
      this.#deps.figures.mark(ramp.sides, this.#now())
    }))
  }

  #note (route: string, reason: string): void {
    const record = this.#records.get(route)
    if (record !== undefined && record.reason !== reason) {
      this.#records.set(route, { ...record, reason })
      this.#deps.logger.warn({ route }, `ramp on route ${route}: ${reason}`)
    }
  }

  #forget (route: string): void {
    const flag = this.#records.get(route)?.flag
    this.#records.delete(route)
    this.#plans.delete(route)
    this.#applied.delete(route)
    this.#judgements.delete(route)
    this.#settling.delete(route)
    this.#writes.delete(route)
    this.#noEvidence.delete(route)
    this.#saved.delete(route)
    if (flag !== undefined) this.#deps.target.release(flag)
  }

  #save (): void {
    const out = new Map(this.#saved)
    for (const [route, record] of this.#records) {
      const ramp = this.#plans.get(route)
      if (ramp !== undefined) out.set(route, toSaved(ramp.plan, record, percentOf(ramp.plan, record)))
    }
    this.#saved = out
    try {
      this.#deps.store.save(out)
    } catch (err) {
      this.#deps.logger.error({ error: (err as Error).message, file: this.#deps.store.file }, 'could not save the ramp state; a restart would resume from the last saved step')
    }
  }

  #view (ramp: RampRoute): RampView {
    return rampView({
      ramp,
      record: this.#records.get(ramp.route) as RampRecord,
      applied: this.#applied.get(ramp.route),
      write: this.#writes.get(ramp.route),
      noEvidenceSince: this.#noEvidence.get(ramp.route),
      stallAfterMs: this.#deps.stallAfterMs ?? Infinity,
      now: this.#now(),
      where: this.#deps.target.where,
      judgement: this.#judgements.get(ramp.route),
      held: this.#held(ramp)
    })
  }
}

const NO_SIDE = { requests: 0, errors: 0, clientErrors: 0, p99: undefined, sources: undefined }
const EMPTY: WindowFigures = { candidate: NO_SIDE, baseline: NO_SIDE, parity: undefined }
