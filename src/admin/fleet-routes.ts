/**
 * The control plane's view of the fleet (`strangler-proxy control`, `ramp run`):
 * GET /fleet (replicas, versions, drift), /timeline (the replicas' timelines merged),
 * /status.json and the /status page (shares summed by Prometheus, each replica's
 * guard), /inventory (the replicas' legacy inventories added up) and /parity (the
 * replicas' shadow comparisons added up, each one's learned noise its own). Replicas are the
 * ones Prometheus scrapes; they are asked with the fleet's admin token, and one that
 * does not answer is named, never silently left out.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Errors } from '../errors.js'
import { sendProblem } from '../problem.js'
import { FleetWatch, askable, replicaError, type Discover, type FleetView } from '../ramp/fleet-view.js'
import type { PromQL } from '../ramp/promql.js'
import { mergeTimelines, type FleetEvent } from '../timeline/fleet.js'
import { fleetImpact, type FleetImpact } from '../timeline/fleet-impact.js'
import type { TimelineEvent } from '../timeline/event.js'
import { FLEET_SPLIT_QUERY, fleetStatus, type FleetStatus } from '../status/fleet.js'
import { fleetStatusPage } from '../status/fleet-html.js'
import { asInventory, mergeInventories, type FleetInventory } from '../status/fleet-inventory.js'
import { asParity, mergeParity, FLEET_PARITY_QUERY } from '../status/fleet-parity.js'
import type { StatusReport } from '../status/report.js'
import { callAdmin } from './client.js'

export interface FleetAccess {
  readonly prom: PromQL
  /** STRANGLER_ADMIN_TOKEN, which every replica of the fleet accepts. */
  readonly token: string | undefined
  readonly timeoutMs: () => number
  /** timeline.impactDelay: the windows before and after a change its impact compares. */
  readonly impactWindowMs: () => number
  /** ramps.replicas as it stands: replicas found besides Prometheus's targets. */
  readonly discover?: () => Discover | undefined
}

/** Each replica's answer to GET `path` that `usable` accepts, or why there is none. */
async function askReplicas<T> (replicas: readonly string[], path: string, access: FleetAccess, usable: (body: unknown) => T | undefined): Promise<{ answered: Map<string, T>, failed: Map<string, string> }> {
  const timeoutMs = access.timeoutMs()
  const answers = await Promise.all(replicas.map(async (replica): Promise<[string, T | string]> => {
    try {
      const a = await callAdmin({ url: `http://${replica}`, token: access.token }, 'GET', path, {}, timeoutMs)
      const value = a.status === 200 ? usable(a.body) : undefined
      const detail = (a.body as { detail?: unknown } | undefined)?.detail
      return [replica, value ?? `HTTP ${a.status}${typeof detail === 'string' ? `: ${detail}` : ''}`]
    } catch (err) {
      const e = err as Error
      return [replica, e.name === 'TimeoutError' || e.name === 'AbortError' ? `no answer within ${timeoutMs} ms` : e.message]
    }
  }))
  const answered = new Map<string, T>()
  const failed = new Map<string, string>()
  for (const [replica, a] of answers) {
    if (typeof a === 'string') failed.set(replica, a)
    else answered.set(replica, a)
  }
  return { answered, failed }
}

/** Every replica of the view, with whether it answered and why not. */
function whoAnswered (view: FleetView, failed: ReadonlyMap<string, string>): Array<{ replica: string, answered: boolean, error?: string }> {
  return view.replicas.map((r) => {
    const error = replicaError(r, failed)
    return error === undefined ? { replica: r.instance, answered: true } : { replica: r.instance, answered: false, error }
  })
}

export function registerFleetRoutes (server: FastifyInstance, access: FleetAccess): void {
  const fleet = new FleetWatch(access.prom, access.discover)
  // A change's impact does not change once its window has passed: asked of Prometheus once.
  const impacts = new Map<string, FleetImpact>()
  /** Changes several replicas saw get the fleet's impact from Prometheus; the others keep their own. */
  const withImpact = async (events: FleetEvent[]): Promise<FleetEvent[]> => await Promise.all(events.map(async (e) => {
    if (e.seenBy.length < 2 || e.routes.length === 0) return e
    const key = e.seenBy[0]?.id ?? e.id
    const known = impacts.get(key) ?? await fleetImpact(access.prom, e.routes, Date.parse(e.time), access.impactWindowMs(), Date.now()).catch(() => undefined)
    if (known === undefined) return e
    if (impacts.size >= 10_000) impacts.delete(impacts.keys().next().value as string)
    impacts.set(key, known)
    return { ...e, impact: known }
  }))
  /**
   * A GET that needs the fleet view: a Prometheus (or a query) without a usable answer
   * is a 502 problem naming it, never an empty view.
   */
  const withFleet = (path: string, answer: (view: FleetView, request: FastifyRequest, reply: FastifyReply) => Promise<unknown>): void => {
    server.get(path, async (request, reply) => {
      try {
        return await answer(await fleet.read(), request, reply)
      } catch (err) {
        return sendProblem(reply, Errors.FLEET_UNAVAILABLE, (err as Error).message)
      }
    })
  }

  withFleet('/fleet', async (view) => view)

  withFleet('/timeline', async (view, request) => {
    // The replicas answer the same query a single proxy's /timeline takes.
    const url = request.raw.url ?? ''
    const search = url.includes('?') ? url.slice(url.indexOf('?')) : ''
    const limit = Math.min(1000, Number(new URLSearchParams(search).get('limit') ?? 100) || 100)
    const { answered, failed } = await askReplicas(askable(view), `/timeline${search}`, access, (b) => {
      const events = (b as { events?: unknown } | undefined)?.events
      return Array.isArray(events) ? events as TimelineEvent[] : undefined
    })
    return { events: await withImpact(mergeTimelines(answered).slice(-limit)), replicas: whoAnswered(view, failed) }
  })

  /** The fleet's status: Prometheus's sums, each replica's /status.json. */
  const status = async (view: FleetView): Promise<FleetStatus> => {
    const [{ answered, failed }, split] = await Promise.all([
      askReplicas(askable(view), '/status.json', access, (b) => Array.isArray((b as { routes?: unknown } | undefined)?.routes) ? b as StatusReport : undefined),
      access.prom.series('requests by route and backend', FLEET_SPLIT_QUERY)
    ])
    return fleetStatus(view, answered, failed, split)
  }

  /** Every answering replica's inventory, added up; the replicas that did not answer are named. */
  const inventory = async (replicas: readonly string[]): Promise<FleetInventory & { unanswered: Record<string, string> }> => {
    const { answered, failed } = await askReplicas(replicas, '/inventory', access, asInventory)
    return { ...mergeInventories(answered.values()), unanswered: Object.fromEntries(failed) }
  }

  withFleet('/status.json', status)

  withFleet('/inventory', async (view) => await inventory(askable(view)))

  withFleet('/parity', async (view) => {
    const [{ answered, failed }, shares] = await Promise.all([
      askReplicas(askable(view), '/parity', access, asParity),
      access.prom.series('parity by route', FLEET_PARITY_QUERY).catch(() => [])
    ])
    return {
      routes: mergeParity(answered, new Map(shares.filter((s) => Number.isFinite(s.value)).map((s) => [s.labels.route ?? '', s.value]))),
      replicas: whoAnswered(view, failed)
    }
  })

  withFleet('/status', async (view, request, reply) => {
    const s = await status(view)
    const inv = await inventory(s.replicas.filter((r) => r.answered).map((r) => r.replica))
    return reply.header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').send(fleetStatusPage(s, inv.entries, 15, request.operator?.name))
  })
}
