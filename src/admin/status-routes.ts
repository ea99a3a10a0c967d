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

/** One process's migration status, inventory and coverage. */
export interface StatusHost {
  readonly report: () => Promise<StatusReport>
  readonly inventory: () => ReturnType<Inventory['report']>
  /** Undefined without coverage: in routes.yaml. */
  readonly coverage: () => Promise<CoverageReport | undefined>
}

/** What the admin port serves: this process's status, or a --workers primary's merged view of its workers. */
export interface StatusView {
  readonly page: (operator: string | undefined) => Promise<string>
  readonly json: () => Promise<unknown>
  readonly inventory: () => Promise<unknown>
  /** Undefined without coverage: in routes.yaml. */
  readonly coverage: () => Promise<unknown>
}

export function localStatus (host: StatusHost): StatusView {
  return {
    page: async (operator) => statusPage(await host.report(), 15, operator),
    json: host.report,
    inventory: async () => host.inventory(),
    coverage: host.coverage
  }
}

export interface SignIn {
  readonly operators: () => Operators
  readonly sessions: ReadSessions
  /** The page reached over HTTPS: directly, or as a trusted proxy in front says. */
  readonly secure: (request: FastifyRequest) => boolean
}

export function registerStatusRoutes (app: FastifyInstance, view: StatusView, signIn: SignIn): void {
  app.get('/status', async (request, reply) => {
    return reply.header('content-type', 'text/html; charset=utf-8').header('cache-control', 'no-store').send(await view.page(request.operator?.name))
  })
  app.get('/status.json', async () => await view.json())
  app.get('/inventory', async () => await view.inventory())
  app.get('/coverage', async (_request, reply) => {
    return (await view.coverage()) ?? sendProblem(reply, Errors.ADMIN_NOT_FOUND, 'no coverage: in routes.yaml: name where each backend declares its routes (docs/coverage.md)')
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
