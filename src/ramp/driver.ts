/**
 * Drives every ramp plan of one config: once per interval it judges each running step
 * on its window (gates.ts), moves the step (machine.ts), writes the rollout where the
 * flag lives (targets.ts) and saves where it stands (store.ts). It never fights a
 * person over a flag: a rollout changed outside the ramp pauses that ramp.
 * One driver per fleet: a single proxy runs its own, a fleet runs `ramp run`.
 */
import type { Logger } from 'pino'
import type { RampConfig, RouteConfig } from '../config/config.js'
import type { FigureSource, WindowSides } from './figures.js'
import { judge, type Judgement } from './gates.js'
import { fitToPlan, initialRecord, onAction, onJudgement, percentOf, type Outcome, type RampAction, type RampRecord, type Transition } from './machine.js'
import type { RampStore } from './store.js'
import type { RolloutTarget } from './targets.js'

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

export interface RampView {
  readonly route: string
  readonly flag: string
  readonly steps: readonly number[]
  readonly approve: readonly number[]
  readonly percent: number
  readonly nextPercent: number | undefined
  readonly state: RampRecord['state']
  readonly owned: boolean
  readonly failures: number
  readonly maxFailures: number
  readonly stepStartedAt: string
  readonly reason: string
  readonly rolloutIn: string
  readonly lastJudgement: Omit<Judgement, 'figures'> & { figures: Judgement['figures'] } | undefined
}

export interface RampDriverDeps {
  readonly logger: Logger
  readonly store: RampStore
  readonly target: RolloutTarget
  readonly figures: FigureSource
  /** The ramps of the config being served now (changes on reload). */
  readonly ramps: () => readonly RampRoute[]
  /** Called after every transition, for metrics (and the timeline). */
  readonly transition?: (route: string, to: Transition, record: RampRecord) => void
  readonly now?: () => number
  /** Least time between writing a step and starting its window: a fleet's replicas must have refreshed their flags (default: one pass). */
  readonly settleMs?: number
}

export type ActionResult = { readonly ok: true, readonly ramp: RampView } | { readonly ok: false, readonly status: 404 | 409, readonly detail: string }

export class RampDriver {
  readonly #deps: RampDriverDeps
  readonly #now: () => number
  #records = new Map<string, RampRecord>()
  /** The percentage last written successfully, per route; unknown after a failed write. */
  readonly #applied = new Map<string, number>()
  readonly #plans = new Map<string, RampRoute>()
  readonly #judgements = new Map<string, Judgement>()
  /** Route → when its step was written: until the step has settled, answers belong to the old step. */
  readonly #settling = new Map<string, number>()
  #loaded = false
  #queue: Promise<unknown> = Promise.resolve()
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

  /** One pass over every ramp; serialized with actions. */
  async tick (): Promise<void> {
    await this.#serial(async () => {
      const ramps = this.#deps.ramps()
      if (!this.#loaded) {
        // Loaded when the first ramp appears (at start, or in a reload).
        if (ramps.length === 0) return
        try {
          this.#records = this.#deps.store.load()
        } catch (err) {
          // Guessing a step is worse than standing still: the ramps wait until the file is fixed.
          this.#deps.logger.error({ error: (err as Error).message }, 'ramp state unreadable: ramps stay where they are until it is fixed or removed')
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
          this.#note(ramp.route, `could not reach ${this.#deps.target.where}: ${(err as Error).message}`)
        }
      }
      this.#save()
    })
  }

  async act (route: string, action: RampAction, who: string): Promise<ActionResult> {
    return await this.#serial(async () => {
      const ramp = this.#plans.get(route)
      const record = this.#records.get(route)
      if (ramp === undefined || record === undefined) return { ok: false, status: 404, detail: `route "${route}" has no ramp plan` } as const
      const outcome = onAction(ramp.plan, record, action, this.#now(), who)
      if (typeof outcome === 'string') return { ok: false, status: 409, detail: outcome } as const
      await this.#apply(ramp, outcome)
      this.#save()
      return { ok: true, ramp: this.#view(ramp) } as const
    })
  }

  status (): RampView[] {
    return [...this.#plans.values()].flatMap((r) => this.#records.has(r.route) ? [this.#view(r)] : [])
  }

  view (route: string): RampView | undefined {
    const ramp = this.#plans.get(route)
    return ramp === undefined || !this.#records.has(route) ? undefined : this.#view(ramp)
  }

  async #serial<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn)
    this.#queue = run.catch(() => {})
    return await run
  }

  async #tickOne (ramp: RampRoute): Promise<void> {
    const { route, flag, plan } = ramp
    const target = this.#deps.target
    const previous = this.#plans.get(route)
    this.#plans.set(route, ramp)
    let record = this.#records.get(route)
    const current = await target.read(flag)
    if (typeof current === 'string') {
      this.#note(route, current)
      return
    }
    if (record === undefined || record.flag !== flag) {
      // A new ramp never takes users back: it starts at the highest step the rollout already reached.
      let fresh = initialRecord(plan, flag, this.#now())
      if (current > percentOf(plan, fresh)) fresh = { ...fitToPlan(plan, fresh, current), state: 'running', reason: `took over at ${current} % (the rollout already reached)` }
      this.#records.set(route, fresh)
      this.#applied.set(route, current)
      this.#deps.logger.info({ route, flag, ramp: { percent: percentOf(plan, fresh), state: fresh.state } }, `ramp on route ${route}: ${fresh.reason}`)
      this.#deps.transition?.(route, fresh.state === 'running' ? 'step_up' : fresh.state as Transition, fresh)
      await this.#write(ramp, fresh)
      return
    }
    if (previous !== undefined && JSON.stringify(previous.plan.steps) !== JSON.stringify(plan.steps)) {
      record = fitToPlan(plan, record, percentOf(previous.plan, record))
      this.#records.set(route, record)
    }
    if (!this.#applied.has(route)) {
      // First pass after a start: Unleash keeps the rollout; the file's is held in memory only.
      if (!target.persistent && record.owned) {
        await this.#write(ramp, record)
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
      await this.#write(ramp, record)
      return
    }
    if (record.state !== 'running') return
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
    const figures = await this.#deps.figures.read(ramp.sides, record.since)
    const j = judge(plan, figures, this.#now() - record.since)
    this.#judgements.set(route, j)
    await this.#apply(ramp, onJudgement(plan, record, j, this.#now()))
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
    if (next.state !== record.state) this.#deps.transition?.(ramp.route, 'paused', next)
  }

  async #apply (ramp: RampRoute, outcome: Outcome): Promise<void> {
    const before = this.#records.get(ramp.route)
    this.#records.set(ramp.route, outcome.record)
    if (outcome.transition === undefined) return
    const level = outcome.transition === 'step_back' || outcome.transition === 'aborted' ? 'warn' : 'info'
    this.#deps.logger[level]({ route: ramp.route, flag: ramp.flag, ramp: { from: before === undefined ? undefined : percentOf(ramp.plan, before), percent: percentOf(ramp.plan, outcome.record), state: outcome.record.state, transition: outcome.transition } }, `ramp on route ${ramp.route}: ${outcome.record.reason}`)
    this.#deps.transition?.(ramp.route, outcome.transition, outcome.record)
    if (outcome.record.step !== before?.step || outcome.transition === 'running') this.#deps.figures.mark(ramp.sides, this.#now())
    if (outcome.record.owned) await this.#write(ramp, outcome.record)
  }

  async #write (ramp: RampRoute, record: RampRecord): Promise<void> {
    const percent = percentOf(ramp.plan, record)
    try {
      await this.#deps.target.write(ramp.flag, percent)
      this.#applied.set(ramp.route, percent)
      this.#settling.set(ramp.route, this.#now())
    } catch (err) {
      // #applied keeps the last value written: the next pass sees the difference and tries again.
      this.#note(ramp.route, `could not set the rollout of ${ramp.flag} to ${percent} % in ${this.#deps.target.where}: ${(err as Error).message}; retrying`)
      return
    }
    this.#deps.figures.mark(ramp.sides, this.#now())
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
    if (flag !== undefined) this.#deps.target.release(flag)
  }

  #save (): void {
    try {
      this.#deps.store.save(this.#records)
    } catch (err) {
      this.#deps.logger.error({ error: (err as Error).message, file: this.#deps.store.file }, 'could not save the ramp state; a restart would resume from the last saved step')
    }
  }

  #view (ramp: RampRoute): RampView {
    const r = this.#records.get(ramp.route) as RampRecord
    const j = this.#judgements.get(ramp.route)
    return {
      route: ramp.route,
      flag: ramp.flag,
      steps: ramp.plan.steps,
      approve: [...ramp.plan.approve],
      percent: percentOf(ramp.plan, r),
      nextPercent: r.state === 'completed' ? undefined : ramp.plan.steps[r.step + 1],
      state: r.state,
      owned: r.owned,
      failures: r.failures,
      maxFailures: ramp.plan.maxFailures,
      stepStartedAt: new Date(r.since).toISOString(),
      reason: r.reason,
      rolloutIn: this.#deps.target.where,
      lastJudgement: j
    }
  }
}
