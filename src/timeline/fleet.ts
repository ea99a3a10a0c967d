/**
 * One timeline for a fleet, merged from every replica's own. A change every replica
 * observes for itself (a flag edited in Unleash, a routes.yaml rolled out) is one event
 * naming the replicas that saw it and when; what only one replica did (its guard
 * tripped, an action sent to it, its config rejected) stays its own event. Asking the
 * replicas is the control plane's (admin/fleet-routes.ts).
 */
import type { TimelineEvent, EventCause } from './event.js'

/** Causes a replica observes from outside, the same for all: merged across replicas. */
const SHARED: ReadonlySet<EventCause> = new Set(['flag-source', 'file-change', 'SIGHUP'])
/** Replicas poll and reload on their own clocks: the same change reaches them within this. */
const SAME_CHANGE_MS = 60_000

export interface FleetEvent extends TimelineEvent {
  /** The replicas that recorded it, with their own time and id. */
  readonly seenBy: ReadonlyArray<{ readonly replica: string, readonly time: string, readonly id: string }>
}

/** What makes two replicas' events the same change. */
function changeKey (e: TimelineEvent): string | undefined {
  if (!SHARED.has(e.cause)) return undefined
  return JSON.stringify([e.kind, e.cause, e.flag, e.routes, e.before, e.after, e.configVersion])
}

/** Every replica's events as one list, oldest first; shared changes once, with who saw them. */
export function mergeTimelines (byReplica: ReadonlyMap<string, readonly TimelineEvent[]>): FleetEvent[] {
  const all = [...byReplica].flatMap(([replica, events]) => events.map((e) => ({ replica, e, at: Date.parse(e.time) })))
  all.sort((a, b) => a.at - b.at)
  const open = new Map<string, { first: number, event: { -readonly [K in keyof FleetEvent]: FleetEvent[K] }, seen: Array<FleetEvent['seenBy'][number]> }>()
  const out: FleetEvent[] = []
  for (const { replica, e, at } of all) {
    const key = changeKey(e)
    const group = key === undefined ? undefined : open.get(key)
    if (group !== undefined && at - group.first <= SAME_CHANGE_MS && !group.seen.some((s) => s.replica === replica)) {
      group.seen.push({ replica, time: e.time, id: e.id })
      // A replica's impact is its share of the traffic, not the fleet's: not shown as the fleet's.
      delete group.event.impact
      continue
    }
    const seen = [{ replica, time: e.time, id: e.id }]
    const event: FleetEvent = { ...e, seenBy: seen }
    out.push(event)
    if (key !== undefined) open.set(key, { first: at, event, seen })
  }
  return out
}
