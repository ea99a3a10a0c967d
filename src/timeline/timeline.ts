/**
 * The migration timeline of one proxy (or fleet driver): every change to where traffic
 * goes, recorded with its cause, kept on disk, sent to webhooks, counted in metrics,
 * and, impactDelay later, given its measured impact. Failovers are recorded as bursts
 * and parity as threshold crossings, never per request.
 */
import { ALL_ROUTES, describeFreeze, type Freeze } from '../ramp/freezes.js'
import { hostname } from 'node:os'
import type { Logger } from 'pino'
import type { Config } from '../config/config.js'
import { NO_ROUTE } from '../observe/metrics.js'
import { TIMELINE_KINDS } from '../config/schema.js'
import { diffConfig, routesTouched, type ConfigDiff } from '../config/diff.js'
import type { FlagChange } from '../flags/diff.js'
import type { ImpactMeter, Pending } from './impact.js'
import type { EventCause, EventKind, TimelineEvent } from './event.js'
import type { TimelineStore } from './store.js'
import type { Notifier } from './notify.js'

/** Events kept in memory for queries; older ones stay on disk until rotated away. */
const MEMORY_LIMIT = 10_000
/** A failover burst ends after this long without a failover on the route. */
export const FAILOVER_QUIET_MS = 10_000
/** Bursts and parity crossings are looked at this often; counters are sampled as the impact window needs. */
const TICK_MS = 1000

export interface TimelineDeps {
  readonly logger: Logger
  readonly store: TimelineStore
  readonly impact: ImpactMeter
  readonly notifier: Notifier
  readonly config: () => Config
  readonly counted: (kind: EventKind, route: string, by?: number) => void
  readonly parity?: () => ReadonlyMap<string, number>
  readonly now?: () => number
  /**
   * Whether this process sends the event to webhooks and counts it (default: every
   * event): in a --workers worker, a change all workers observe is announced by one.
   */
  readonly announces?: (e: TimelineEvent) => boolean
  /** Who last changed a flag in Unleash, as its event API names them (needs UNLEASH_ADMIN_TOKEN); none without. */
  readonly flagEditor?: (flag: string) => Promise<string | undefined>
}

export interface TimelineQuery {
  readonly since?: number
  readonly route?: string
  readonly kind?: string
  readonly limit?: number
}

/** What a producer says; the timeline adds id, time, config version and instance. */
export type NewEvent = Pick<TimelineEvent, 'kind' | 'routes' | 'flag' | 'before' | 'after' | 'cause' | 'summary' | 'actor' | 'actorReason'>

export class Timeline {
  readonly #deps: TimelineDeps
  readonly #now: () => number
  readonly #events: TimelineEvent[] = []
  readonly #pending = new Map<string, { pending: Pending, timer: NodeJS.Timeout }>()
  readonly #failovers = new Map<string, { started: number, last: number, count: number }>()
  readonly #parityLow = new Set<string>()
  readonly #instance = { host: hostname(), pid: process.pid }
  #seq = 0
  #sampled = 0
  #timer: NodeJS.Timeout | undefined

  constructor (deps: TimelineDeps) {
    this.#deps = deps
    this.#now = deps.now ?? Date.now
  }

  /** Reads history back; then samples counters and watches bursts and crossings. */
  start (): void {
    try {
      this.#events.push(...this.#deps.store.load().slice(-MEMORY_LIMIT))
    } catch (err) {
      this.#deps.logger.error({ error: (err as Error).message }, 'timeline history unreadable; recording new events only')
    }
    this.#prime(this.#deps.config())
    this.#deps.impact.sample(this.#now())
    this.#timer = setInterval(() => this.#tick(), Math.min(TICK_MS, this.#deps.impact.sampleEveryMs))
    this.#timer.unref()
  }

  stop (): void {
    clearInterval(this.#timer)
    for (const p of this.#pending.values()) clearTimeout(p.timer)
    this.#pending.clear()
    this.#deps.notifier.close()
  }

  record (e: NewEvent): TimelineEvent {
    const now = this.#now()
    const config = this.#deps.config()
    const event: TimelineEvent = {
      id: `${now.toString(36)}-${process.pid.toString(36)}-${(this.#seq++).toString(36)}`,
      time: new Date(now).toISOString(),
      kind: e.kind,
      routes: [...e.routes],
      ...(e.flag === undefined ? {} : { flag: e.flag }),
      ...(e.before === undefined ? {} : { before: e.before }),
      ...(e.after === undefined ? {} : { after: e.after }),
      cause: e.cause,
      ...(e.actor === undefined ? {} : { actor: e.actor }),
      ...(e.actorReason === undefined ? {} : { actorReason: e.actorReason }),
      summary: e.summary,
      configVersion: config.version,
      instance: this.#instance
    }
    this.#events.push(event)
    if (this.#events.length > MEMORY_LIMIT) this.#events.shift()
    try {
      this.#deps.store.appendEvent(event)
    } catch (err) {
      this.#deps.logger.error({ error: (err as Error).message }, 'could not write the timeline file; the event is kept in memory only')
    }
    this.#deps.logger.info({ timeline: { id: event.id, kind: event.kind, routes: event.routes, cause: event.cause } }, `timeline: ${event.summary}`)
    if (this.#deps.announces?.(event) !== false) {
      for (const route of event.routes.length === 0 ? [NO_ROUTE] : event.routes) this.#deps.counted(event.kind, route)
      this.#deps.notifier.send(event)
    }
    if (event.routes.length > 0) this.#measure(event, now)
    return event
  }

  /** Every route's backends over the last impactDelay, from the same samples as impacts. */
  recent (): ReturnType<ImpactMeter['recent']> {
    return this.#deps.impact.recent(this.#now())
  }

  query (q: TimelineQuery): TimelineEvent[] {
    const out = this.#events.filter((e) =>
      (q.since === undefined || Date.parse(e.time) >= q.since) &&
      (q.route === undefined || e.routes.includes(q.route)) &&
      (q.kind === undefined || e.kind === q.kind))
    return out.slice(-Math.min(q.limit ?? 100, 1000))
  }

  // Producers: each turns what happened into one event with its cause and summary.

  configApplied (before: Config, after: Config, cause: EventCause): void {
    this.#deps.notifier.configure(after.notify)
    this.#prime(after)
    const d = diffConfig(before, after)
    this.record({ kind: 'config_applied', routes: routesTouched(d, after), cause, before: { version: before.version }, after: { version: after.version, ...d }, summary: `config ${before.version} → ${after.version}: ${describeDiff(d)}` })
  }

  configRejected (problems: readonly string[], cause: EventCause): void {
    this.record({ kind: 'config_rejected', routes: [], cause, after: { problems }, summary: `config rejected, still serving ${this.#deps.config().version}: ${problems[0] ?? ''}${problems.length > 1 ? ` (and ${problems.length - 1} more)` : ''}` })
  }

  /** Recorded at once, or, where Unleash's event API can say who made the change, once it has (a bounded wait). */
  flagsChanged (changes: readonly FlagChange[], source: 'file' | 'unleash'): void {
    const routes = this.#deps.config().routes
    const editor = source === 'unleash' ? this.#deps.flagEditor : undefined
    for (const c of changes) {
      const using = routes.filter((r) => r.flag?.name === c.flag).map((r) => r.name)
      const what = c.changed.map((k) => k === 'rollout' ? `rollout ${c.before?.rollout ?? '-'} → ${c.after?.rollout ?? '-'} %` : k === 'enabled' ? (c.after?.enabled === true ? 'enabled' : 'disabled') : k).join(', ')
      const record = (actor: string | undefined): void => {
        this.record({ kind: 'flag_changed', routes: using, flag: c.flag, cause: 'flag-source', before: c.before, after: c.after, ...(actor === undefined ? {} : { actor }), summary: `flag ${c.flag} changed in ${source === 'file' ? 'the flags file' : 'Unleash'}${actor === undefined ? '' : ` by ${actor}`}: ${what}` })
      }
      if (editor === undefined) record(undefined)
      else {
        editor(c.flag).then(record, (err: Error) => {
          this.#deps.logger.warn({ flag: c.flag, error: err.message }, 'could not ask Unleash who changed a flag; the timeline event names no one')
          record(undefined)
        })
      }
    }
  }

  guardChanged (route: string, from: string, to: string, why: string): void {
    if (to === 'open' && from !== 'open') this.record({ kind: 'guard_tripped', routes: [route], cause: 'guard', before: { state: from }, after: { state: to }, summary: `rollback guard on ${route} ${why}; flagged traffic goes to the baseline` })
    else if (to === 'closed') this.record({ kind: 'guard_recovered', routes: [route], cause: 'guard', before: { state: from }, after: { state: to }, summary: `rollback guard on ${route} closed: ${why}` })
  }

  failover (route: string): void {
    const now = this.#now()
    const burst = this.#failovers.get(route)
    if (burst !== undefined) {
      burst.last = now
      burst.count++
      return
    }
    this.#failovers.set(route, { started: now, last: now, count: 1 })
    this.record({ kind: 'failover_started', routes: [route], cause: 'failover', summary: `failover started on ${route}: the new backend cannot be reached, requests go to the baseline` })
  }

  drainStarted (reason: string): void {
    this.record({ kind: 'drain_started', routes: [], cause: 'shutdown', after: { reason }, summary: `draining on ${reason}` })
  }

  /** `actor`: the operator behind a person's action (cause admin-api), undefined for the ramp's own steps. */
  rampTransition (route: string, to: string, before: { state: string, percent: number } | undefined, after: { state: string, percent: number }, reason: string, actor?: { readonly name: string, readonly reason?: string | undefined }): void {
    this.record({ kind: 'ramp_transition', routes: [route], cause: actor === undefined ? 'ramp' : 'admin-api', ...(actor === undefined ? {} : { actor: actor.name, ...(actor.reason === undefined ? {} : { actorReason: actor.reason }) }), ...(before === undefined ? {} : { before }), after: { transition: to, ...after }, summary: `ramp on ${route}: ${reason}` })
  }

  /** A freeze declared (`freeze`) or lifted (undefined) by a person. */
  rampFreeze (route: string, freeze: Freeze | undefined, actor: { readonly name: string, readonly reason?: string | undefined }): void {
    const routes = route === ALL_ROUTES ? [] : [route]
    const what = route === ALL_ROUTES ? 'every ramp' : `the ramp on ${route}`
    this.record({ kind: 'ramp_freeze', routes, cause: 'admin-api', actor: actor.name, ...(actor.reason === undefined ? {} : { actorReason: actor.reason }), after: freeze === undefined ? { frozen: false } : { frozen: true, until: new Date(freeze.until).toISOString() }, summary: freeze === undefined ? `${what} unfrozen by ${actor.name}` : `${what} ${describeFreeze(freeze)}` })
  }

  /** A rollout the ramp could not write: said loudly, since the flag still serves the old value. */
  rampWriteFailed (route: string, flag: string, percent: number, applied: number | undefined, error: string): void {
    this.record({ kind: 'ramp_write_failed', routes: [route], flag, cause: 'ramp', before: { percent: applied }, after: { percent }, summary: `ramp on ${route} could not set the rollout of ${flag} to ${percent} %: ${error}; it still serves ${applied ?? 'an unknown'} %, retrying` })
  }

  /** Every route's event series exist from the start: a dashboard's increase() then sees each route's first event. */
  #prime (config: Config): void {
    for (const route of [NO_ROUTE, ...config.routes.map((r) => r.name)]) {
      for (const kind of TIMELINE_KINDS) this.#deps.counted(kind, route, 0)
    }
  }

  #tick (): void {
    const now = this.#now()
    if (now - this.#sampled >= this.#deps.impact.sampleEveryMs) {
      this.#deps.impact.sample(now)
      this.#sampled = now
    }
    for (const [route, b] of this.#failovers) {
      if (now - b.last < FAILOVER_QUIET_MS) continue
      this.#failovers.delete(route)
      this.record({ kind: 'failover_ended', routes: [route], cause: 'failover', after: { requests: b.count, durationMs: b.last - b.started }, summary: `failover ended on ${route} after ${b.count} request(s) in ${Math.round((b.last - b.started) / 1000)} s` })
    }
    const threshold = this.#deps.config().timeline.parityThreshold
    for (const [route, parity] of this.#deps.parity?.() ?? []) {
      const low = parity < threshold
      if (low === this.#parityLow.has(route)) continue
      if (low) this.#parityLow.add(route)
      else this.#parityLow.delete(route)
      this.record({ kind: low ? 'parity_low' : 'parity_recovered', routes: [route], cause: 'shadow', after: { parity, threshold }, summary: `shadow parity on ${route} ${low ? 'fell below' : 'is back at'} ${(threshold * 100).toFixed(1)} %: ${(parity * 100).toFixed(2)} %` })
    }
  }

  #measure (event: TimelineEvent, now: number): void {
    const pending = this.#deps.impact.start(event.routes, now)
    const timer = setTimeout(() => {
      this.#pending.delete(event.id)
      event.impact = this.#deps.impact.finish(pending, this.#now())
      try {
        this.#deps.store.appendImpact(event.id, event.impact)
      } catch (err) {
        this.#deps.logger.error({ error: (err as Error).message }, 'could not write the timeline file')
      }
    }, this.#deps.impact.delayMs)
    timer.unref()
    this.#pending.set(event.id, { pending, timer })
  }
}

function describeDiff (d: ConfigDiff): string {
  const parts: string[] = []
  for (const [what, x] of [['route', d.routes], ['backend', d.backends]] as const) {
    if (x.added.length > 0) parts.push(`${what}s added: ${x.added.join(', ')}`)
    if (x.removed.length > 0) parts.push(`${what}s removed: ${x.removed.join(', ')}`)
    for (const c of x.changed) parts.push(`${what} ${c.name}: ${c.fields.map((f) => f.field).join(', ')} changed`)
  }
  return parts.length === 0 ? 'no route or backend changed' : parts.join('; ')
}
