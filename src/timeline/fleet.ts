/**
 * One timeline for a fleet, merged from every replica's own. A change every replica
 * observes for itself (a flag edited in Unleash, a routes.yaml rolled out) is one event
 * naming the replicas that saw it and when; what only one replica did (its guard
 * tripped, an action sent to it, its config rejected) stays its own event. Asking the
 * replicas is the control plane's (admin/fleet-routes.ts).
 */
import type { TimelineEvent, EventCause, Impact, SideImpact } from './event.js'

/** Causes a replica observes from outside, the same for all: merged across replicas. */
const SHARED: ReadonlySet<EventCause> = new Set(['flag-source', 'file-change', 'SIGHUP'])
/** A --workers primary also stops all its workers at once: one drain, not one per worker. */
const SHARED_BY_WORKERS: ReadonlySet<EventCause> = new Set([...SHARED, 'shutdown'])

/** A change every worker of one primary records for itself; one worker announces it. */
export function announcedByOne (e: Pick<TimelineEvent, 'cause'>): boolean {
  return SHARED_BY_WORKERS.has(e.cause)
}

export interface MergeOptions {
  /**
   * The sources are the workers of one process: they drain together, and their
   * impacts are shares of the same traffic, so they add up. A fleet's replicas' do not
   * (Prometheus gives the fleet's impact).
   */
  readonly workers?: boolean
}

/** Replicas poll and reload on their own clocks: the same change reaches them within this. */
const SAME_CHANGE_MS = 60_000

export interface FleetEvent extends TimelineEvent {
  /** The replicas that recorded it, with their own time and id. */
  readonly seenBy: ReadonlyArray<{ readonly replica: string, readonly time: string, readonly id: string }>
}

/** What makes two replicas' events the same change. */
function changeKey (e: TimelineEvent, shared: ReadonlySet<EventCause>): string | undefined {
  if (!shared.has(e.cause)) return undefined
  return JSON.stringify([e.kind, e.cause, e.flag, e.routes, e.before, e.after, e.configVersion])
}

/** Every replica's events as one list, oldest first; shared changes once, with who saw them. */
export function mergeTimelines (byReplica: ReadonlyMap<string, readonly TimelineEvent[]>, opts: MergeOptions = {}): FleetEvent[] {
  const shared = opts.workers === true ? SHARED_BY_WORKERS : SHARED
  const all = [...byReplica].flatMap(([replica, events]) => events.map((e) => ({ replica, e, at: Date.parse(e.time) })))
  all.sort((a, b) => a.at - b.at)
  const open = new Map<string, { first: number, event: { -readonly [K in keyof FleetEvent]: FleetEvent[K] }, seen: Array<FleetEvent['seenBy'][number]>, impacts: Array<Impact | undefined> }>()
  const out: FleetEvent[] = []
  for (const { replica, e, at } of all) {
    const key = changeKey(e, shared)
    const group = key === undefined ? undefined : open.get(key)
    if (group !== undefined && at - group.first <= SAME_CHANGE_MS && !group.seen.some((s) => s.replica === replica)) {
      group.seen.push({ replica, time: e.time, id: e.id })
      group.impacts.push(e.impact)
      // A replica's impact is its share of the traffic, not the fleet's: not shown as the fleet's.
      const summed = opts.workers === true ? sumImpacts(group.impacts) : undefined
      if (summed === undefined) delete group.event.impact
      else group.event.impact = summed
      continue
    }
    const seen = [{ replica, time: e.time, id: e.id }]
    const event: FleetEvent = { ...e, seenBy: seen }
    out.push(event)
    if (key !== undefined) open.set(key, { first: at, event, seen, impacts: [e.impact] })
  }
  return out
}

/**
 * Workers' impacts of one change as the process's: requests added, shares and error
 * ratios weighted by requests, p99 the highest worker's (percentiles do not add up; an
 * upper bound). Undefined until every worker has measured it.
 */
export function sumImpacts (impacts: ReadonlyArray<Impact | undefined>): Impact | undefined {
  if (impacts.length === 0 || impacts.some((i) => i === undefined)) return undefined
  const all = impacts as Impact[]
  const routes: Record<string, Record<string, { before: SideImpact, after: SideImpact }>> = {}
  for (const route of new Set(all.flatMap((i) => Object.keys(i.routes)))) {
    const backends = new Set(all.flatMap((i) => Object.keys(i.routes[route] ?? {})))
    const side = (which: 'before' | 'after'): Map<string, SideImpact> => {
      const sides = new Map([...backends].map((b) => [b, all.flatMap((i) => { const s = i.routes[route]?.[b]?.[which]; return s === undefined ? [] : [s] })]))
      const total = [...sides.values()].flat().reduce((n, s) => n + s.requests, 0)
      return new Map([...sides].map(([b, list]) => [b, addSides(list, total)]))
    }
    const before = side('before')
    const after = side('after')
    routes[route] = Object.fromEntries([...backends].map((b) => [b, { before: before.get(b) as SideImpact, after: after.get(b) as SideImpact }]))
  }
  return { windowMs: (all[0] as Impact).windowMs, routes }
}

function addSides (list: readonly SideImpact[], routeTotal: number): SideImpact {
  const requests = list.reduce((n, s) => n + s.requests, 0)
  const erring = list.filter((s) => s.errorRatio !== null)
  const counted = erring.reduce((n, s) => n + s.requests, 0)
  const p99s = list.flatMap((s) => s.p99 === null ? [] : [s.p99])
  return {
    requests,
    share: routeTotal === 0 ? 0 : requests / routeTotal,
    errorRatio: counted === 0 ? null : erring.reduce((n, s) => n + (s.errorRatio as number) * s.requests, 0) / counted,
    p99: p99s.length === 0 ? null : Math.max(...p99s)
  }
}
