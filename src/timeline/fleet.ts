/**
 * One timeline for a fleet, merged from every replica's own. A change every replica
 * observes for itself (a flag edited in Unleash, a routes.yaml rolled out) is one event
 * naming the replicas that saw it and when; what only one replica did (its guard
 * tripped, an action sent to it, its config rejected) stays its own event. A replica
 * that does not answer is named, never silently left out.
 */
import { request } from 'undici'
import type { TimelineEvent, EventCause } from './event.js'

/** Causes a replica observes from outside, the same for all: merged across replicas. */
const SHARED: ReadonlySet<EventCause> = new Set(['flag-source', 'file-change', 'SIGHUP'])
/** Replicas poll and reload on their own clocks: the same change reaches them within this. */
const SAME_CHANGE_MS = 60_000

export interface FleetEvent extends TimelineEvent {
  /** The replicas that recorded it, with their own time and id. */
  readonly seenBy: ReadonlyArray<{ readonly replica: string, readonly time: string, readonly id: string }>
}

export interface FleetTimeline {
  readonly events: readonly FleetEvent[]
  readonly replicas: ReadonlyArray<{ readonly replica: string, readonly answered: boolean, readonly error?: string }>
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

/** Asks each replica's admin API for its timeline (same query), in `timeoutMs`, with the fleet's admin token. */
export async function fleetTimeline (replicas: readonly string[], query: string, token: string | undefined, timeoutMs: number): Promise<FleetTimeline> {
  const answers = await Promise.all(replicas.map(async (replica) => {
    try {
      const res = await request(`http://${replica}/timeline${query}`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs) })
      const body = await res.body.json() as { events?: TimelineEvent[], detail?: string }
      if (res.statusCode !== 200 || !Array.isArray(body.events)) return { replica, events: undefined, error: `HTTP ${res.statusCode}${body.detail === undefined ? '' : `: ${body.detail}`}` }
      return { replica, events: body.events, error: undefined }
    } catch (err) {
      const e = err as Error
      return { replica, events: undefined, error: e.name === 'TimeoutError' || e.name === 'AbortError' ? `no answer within ${timeoutMs} ms` : e.message }
    }
  }))
  const byReplica = new Map(answers.filter((a) => a.events !== undefined).map((a) => [a.replica, a.events as TimelineEvent[]]))
  return {
    events: mergeTimelines(byReplica),
    replicas: answers.map((a) => a.error === undefined ? { replica: a.replica, answered: true } : { replica: a.replica, answered: false, error: a.error })
  }
}
