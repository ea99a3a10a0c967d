/** GET /ramp and POST /ramp/ROUTE/ACTION, on the proxy's admin port and on the fleet driver's. */
import type { FastifyInstance } from 'fastify'
import { Errors, PROBLEM_CONTENT_TYPE, problemBody } from '../errors.js'
import { sendProblem } from '../problem.js'
import type { RampDriver } from '../ramp/driver.js'
import { RAMP_ACTIONS, type RampAction } from '../ramp/machine.js'
import { actorOf } from './access.js'
import { ALL_ROUTES, type Freeze } from '../ramp/freezes.js'
import { parseDuration } from '../config/units.js'

/** The driver to ask, or why this process has none. */
export type RampHost = { readonly driver: RampDriver } | { readonly unavailable: string }

export function registerRampRoutes (app: FastifyInstance, host: () => RampHost): void {
  app.get('/ramp', async (_request, reply) => {
    const h = host()
    return 'unavailable' in h ? sendProblem(reply, Errors.ADMIN_NOT_FOUND, h.unavailable) : { routes: h.driver.status(), freezes: h.driver.freezes().map(freezeView) }
  })

  // Before /ramp/:route/:action: "freeze" is no route.
  app.post('/ramp/freeze', async (request, reply) => {
    const h = host()
    if ('unavailable' in h) return sendProblem(reply, Errors.ADMIN_NOT_FOUND, h.unavailable)
    const body = (request.body ?? {}) as { until?: unknown, route?: unknown }
    const until = typeof body.until === 'string' ? untilOf(body.until) : NaN
    const route = body.route === undefined ? ALL_ROUTES : body.route
    const reason = reasonOf(request.body)
    if (!Number.isFinite(until) || typeof route !== 'string' || reason === false) return sendProblem(reply, Errors.ADMIN_BAD_REQUEST, 'send {"until": "2026-12-27T08:00:00Z" or "48h", "route": "orders" (default: every route), "reason": "…"}')
    const result = h.driver.freeze(route, until, { name: actorOf(request), reason })
    if (!result.ok) return sendProblem(reply, result.status === 404 ? Errors.ADMIN_NOT_FOUND : Errors.RAMP_CONFLICT, result.detail)
    return { freeze: freezeView(result.freeze), routes: h.driver.status() }
  })

  app.post('/ramp/unfreeze', async (request, reply) => {
    const h = host()
    if ('unavailable' in h) return sendProblem(reply, Errors.ADMIN_NOT_FOUND, h.unavailable)
    const route = ((request.body ?? {}) as { route?: unknown }).route ?? ALL_ROUTES
    const reason = reasonOf(request.body)
    if (typeof route !== 'string' || reason === false) return sendProblem(reply, Errors.ADMIN_BAD_REQUEST, 'send {"route": "orders"} (default: the freeze of every route) and optionally a "reason"')
    if (!h.driver.unfreeze(route, { name: actorOf(request), reason })) return sendProblem(reply, Errors.ADMIN_NOT_FOUND, `no freeze of ${route === ALL_ROUTES ? 'every route' : `route "${route}"`} is in force`)
    return { freezes: h.driver.freezes().map(freezeView), routes: h.driver.status() }
  })

  app.post('/ramp/:route/:action', async (request, reply) => {
    const { route, action } = request.params as { route: string, action: string }
    const h = host()
    if ('unavailable' in h) return sendProblem(reply, Errors.ADMIN_NOT_FOUND, h.unavailable)
    if (!(RAMP_ACTIONS as readonly string[]).includes(action)) return sendProblem(reply, Errors.ADMIN_NOT_FOUND, `ramp actions: ${RAMP_ACTIONS.join(', ')}; not "${action}"`)
    const reason = reasonOf(request.body)
    if (reason === false) return sendProblem(reply, Errors.ADMIN_BAD_REQUEST, 'reason: a line of text up to 500 characters, as in {"reason": "the dashboards look right"}')
    const result = await h.driver.act(route, action as RampAction, { name: actorOf(request), reason })
    if (result.ok) return result.ramp
    if (result.status === 502) {
      // The action is recorded, the flag does not show it yet: the problem carries the ramp as it stands.
      return reply.code(502).header('content-type', PROBLEM_CONTENT_TYPE).send({ ...problemBody(Errors.RAMP_WRITE_FAILED, result.detail, String(request.id)), ramp: result.ramp })
    }
    return sendProblem(reply, result.status === 404 ? Errors.ADMIN_NOT_FOUND : Errors.RAMP_CONFLICT, result.detail)
  })
}

/** The optional `reason` of an action's body; false when it is there but not one line of text up to 500 characters. */
export function reasonOf (body: unknown): string | undefined | false {
  const reason = (body as { reason?: unknown } | null | undefined)?.reason
  if (reason === undefined) return undefined
  if (typeof reason !== 'string' || reason.length > 500 || /[\u0000-\u001f\u007f]/.test(reason)) return false
  const trimmed = reason.trim()
  return trimmed === '' ? undefined : trimmed
}

/** An ISO time, or a duration from now ("48h"); NaN when it is neither. */
function untilOf (text: string): number {
  const ahead = parseDuration(text)
  return ahead !== undefined ? Date.now() + ahead : Date.parse(text)
}

function freezeView (f: Freeze): Record<string, unknown> {
  return { route: f.route === ALL_ROUTES ? null : f.route, until: new Date(f.until).toISOString(), by: f.by, reason: f.reason ?? null, at: new Date(f.at).toISOString() }
}
