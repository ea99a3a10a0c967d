/** GET /status (HTML), /status.json, /inventory and the status page's sign-in. */
import type { FastifyInstance } from 'fastify'
import { Errors } from '../errors.js'
import { sendProblem } from '../problem.js'
import type { StatusReport } from '../status/report.js'
import type { Inventory } from '../status/inventory.js'
import { statusPage, loginPage } from '../status/html.js'
import { LOGIN_PATH, secretMatches } from './access.js'
import type { ReadSessions } from './session.js'

export interface StatusHost {
  readonly report: () => StatusReport
  readonly inventory: () => ReturnType<Inventory['report']>
}

export function registerStatusRoutes (app: FastifyInstance, host: () => StatusHost | undefined, token: string | undefined, sessions: ReadSessions): void {
  const missing = 'this process keeps no migration status: a --workers primary does not (see docs/status-page.md)'
  app.get('/status', async (_request, reply) => {
    const h = host()
    if (h === undefined) return sendProblem(reply, Errors.ADMIN_NOT_FOUND, missing)
    return reply.header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').send(statusPage(h.report()))
  })
  app.get('/status.json', async (_request, reply) => {
    const h = host()
    return h === undefined ? sendProblem(reply, Errors.ADMIN_NOT_FOUND, missing) : h.report()
  })
  app.get('/inventory', async (_request, reply) => {
    const h = host()
    return h === undefined ? sendProblem(reply, Errors.ADMIN_NOT_FOUND, missing) : h.inventory()
  })

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)))
  })
  app.post(LOGIN_PATH, async (request, reply) => {
    const given = (request.body as { token?: unknown } | null)?.token
    if (token === undefined) return reply.redirect('/status', 303)
    if (typeof given !== 'string' || !secretMatches(token, given)) {
      return reply.code(401).header('content-type', 'text/html; charset=utf-8').send(loginPage(true))
    }
    return reply.header('set-cookie', sessions.issue().cookie).redirect('/status', 303)
  })
}
