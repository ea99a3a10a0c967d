/** GET /status (HTML), /status.json, /inventory, /coverage, and the status page's sign-in and sign-out (also the control plane's). */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { Errors } from '../errors.js'
import { sendProblem } from '../problem.js'
import type { StatusReport } from '../status/report.js'
import type { Inventory } from '../status/inventory.js'
import type { CoverageReport } from '../coverage/reconcile.js'
import { statusPage, loginPage } from '../status/html.js'
import { LOGIN_PATH, LOGOUT_PATH } from './access.js'
import type { Operators } from './operators.js'
import type { ReadSessions } from './session.js'

export interface StatusHost {
  readonly report: () => Promise<StatusReport>
  readonly inventory: () => ReturnType<Inventory['report']>
  /** Undefined without coverage: in routes.yaml. */
  readonly coverage: () => Promise<CoverageReport | undefined>
}

export interface SignIn {
  readonly operators: () => Operators
  readonly sessions: ReadSessions
  /** The page reached over HTTPS: directly, or as a trusted proxy in front says. */
  readonly secure: (request: FastifyRequest) => boolean
}

export function registerStatusRoutes (app: FastifyInstance, host: () => StatusHost | undefined, signIn: SignIn): void {
  const missing = 'this process keeps no migration status: a --workers primary does not (see docs/status-page.md)'
  app.get('/status', async (request, reply) => {
    const h = host()
    if (h === undefined) return sendProblem(reply, Errors.ADMIN_NOT_FOUND, missing)
    return reply.header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').send(statusPage(await h.report(), 15, request.operator?.name))
  })
  app.get('/status.json', async (_request, reply) => {
    const h = host()
    return h === undefined ? sendProblem(reply, Errors.ADMIN_NOT_FOUND, missing) : await h.report()
  })
  app.get('/inventory', async (_request, reply) => {
    const h = host()
    return h === undefined ? sendProblem(reply, Errors.ADMIN_NOT_FOUND, missing) : h.inventory()
  })
  app.get('/coverage', async (_request, reply) => {
    const h = host()
    if (h === undefined) return sendProblem(reply, Errors.ADMIN_NOT_FOUND, missing)
    return (await h.coverage()) ?? sendProblem(reply, Errors.ADMIN_NOT_FOUND, 'no coverage: in routes.yaml: name where each backend declares its routes (docs/coverage.md)')
  })
  registerSignIn(app, signIn)
}

/** The status page's sign-in and sign-out: an operator's token exchanged once for a read-only session cookie. */
export function registerSignIn (app: FastifyInstance, signIn: SignIn): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)))
  })
  app.post(LOGIN_PATH, async (request, reply) => {
    const operators = signIn.operators()
    if (operators.open) return reply.redirect('/status', 303)
    if (!signIn.sessions.mayTry(request.ip)) {
      request.log.warn({ address: request.ip }, 'status page sign-in throttled')
      return reply.code(429).header('retry-after', '60').header('content-type', 'text/html; charset=utf-8').send(loginPage(true, 'Too many tries from this address; wait a minute.'))
    }
    const given = (request.body as { token?: unknown } | null)?.token
    const operator = typeof given === 'string' ? operators.identify(given) : undefined
    if (operator === undefined) {
      signIn.sessions.failed(request.ip)
      request.log.warn({ address: request.ip }, 'status page sign-in refused')
      return reply.code(401).header('content-type', 'text/html; charset=utf-8').send(loginPage(true))
    }
    request.log.info({ operator: operator.name, address: request.ip }, 'status page sign-in')
    return reply.header('set-cookie', signIn.sessions.issue(operator, signIn.secure(request)).cookie).redirect('/status', 303)
  })
  app.post(LOGOUT_PATH, async (request, reply) => {
    return reply.header('set-cookie', signIn.sessions.end(request.headers.cookie, signIn.secure(request))).redirect('/status', 303)
  })
}
