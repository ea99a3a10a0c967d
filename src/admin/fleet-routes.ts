/**
 * The control plane's view of the fleet (`strangler-proxy control`, `ramp run`):
 * GET /fleet (replicas, versions, drift), /timeline (the replicas' timelines merged) and
 * /status.json (shares summed by Prometheus, each replica's guard). Replicas are the
 * ones Prometheus scrapes; they are asked with the fleet's admin token.
 */
import type { FastifyInstance } from 'fastify'
import { Errors } from '../errors.js'
import { sendProblem } from '../problem.js'
import { FleetWatch } from '../ramp/fleet-view.js'
import type { PromQL } from '../ramp/promql.js'
import { fleetTimeline } from '../timeline/fleet.js'
import { fleetStatus } from '../status/fleet.js'

export interface FleetAccess {
  readonly prom: PromQL
  /** STRANGLER_ADMIN_TOKEN, which every replica of the fleet accepts. */
  readonly token: string | undefined
  readonly timeoutMs: () => number
}

export function registerFleetRoutes (server: FastifyInstance, access: FleetAccess): void {
  const fleet = new FleetWatch(access.prom)
  const unavailable = (reply: Parameters<typeof sendProblem>[0], err: unknown): ReturnType<typeof sendProblem> => sendProblem(reply, Errors.FLEET_UNAVAILABLE, (err as Error).message)

  server.get('/fleet', async (_request, reply) => await fleet.read().catch((err: unknown) => unavailable(reply, err)))

  server.get('/timeline', async (request, reply) => {
    const view = await fleet.read().catch((err: Error) => err)
    if (view instanceof Error) return unavailable(reply, view)
    // The replicas answer the same query a single proxy's /timeline takes.
    const url = request.raw.url ?? ''
    const search = url.includes('?') ? url.slice(url.indexOf('?')) : ''
    const limit = Math.min(1000, Number(new URLSearchParams(search).get('limit') ?? 100) || 100)
    const merged = await fleetTimeline(view.replicas.filter((r) => r.up).map((r) => r.instance), search, access.token, access.timeoutMs())
    const down = view.replicas.filter((r) => !r.up).map((r) => ({ replica: r.instance, answered: false, error: 'Prometheus does not reach it' }))
    return { events: merged.events.slice(-limit), replicas: [...merged.replicas, ...down] }
  })

  server.get('/status.json', async (_request, reply) => {
    try {
      return await fleetStatus(await fleet.read(), access.prom, access.token, access.timeoutMs())
    } catch (err) {
      return unavailable(reply, err)
    }
  })
}
