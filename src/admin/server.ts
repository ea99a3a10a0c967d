/**
 * The admin server (127.0.0.1:8081 by default): health, readiness, the live route
 * table and explain. Never reachable from the traffic port. With
 * STRANGLER_ADMIN_TOKEN set, everything but the probes needs that bearer token.
 */
import { basename } from 'node:path'
import Fastify, { LogController, type FastifyInstance, type FastifyBaseLogger } from 'fastify'
import type { Operators } from './operators.js'
import type { IdentityBridge } from '../identity/bridge.js'
import type { Logger } from 'pino'
import type { RouteConfig } from '../config/config.js'
import type { Guard } from '../safety/guard.js'
import type { ShadowTraffic } from '../safety/shadow.js'
import type { Tracing } from '../observe/tracing.js'
import { Errors } from '../errors.js'
import { sendProblem } from '../problem.js'
import { describeRoutes, type ExplainScope } from './explain.js'
import { registerExplainRoutes } from './explain-routes.js'
import { registerTimelineRoute, type TimelineSource } from './timeline-route.js'
import { newRequestId } from '../proxy/headers.js'
import { actorOf, protectAdmin } from './access.js'
import { registerRampRoutes, type RampHost } from './ramp-routes.js'
import { registerAlertRoutes } from './alerts.js'
import { registerStatusRoutes, type StatusView } from './status-routes.js'
import { ReadSessions, servedOverHttps } from './session.js'
import type { Metrics } from '../observe/metrics.js'
import { OPENMETRICS_CONTENT_TYPE } from '../observe/openmetrics.js'
import type { RampDriver } from '../ramp/driver.js'

/** What the admin port needs of the live runtime (lifecycle/runtime.ts's Runtime is one). */
export interface AdminRuntime {
  readonly snapshot: ExplainScope & { readonly routesByName: ReadonlyMap<string, RouteConfig>, readonly operators: Operators, readonly isTrusted: (addr: string) => boolean, readonly identity: IdentityBridge | undefined }
  readonly draining: boolean
  readonly tracing: Tracing | undefined
  readonly guard: Pick<Guard, 'status' | 'reset'>
  readonly shadow: Pick<ShadowTraffic, 'report' | 'unlearn'>
}

/**
 * Where the per-process state behind /metrics, /guard and /parity comes from: this
 * process, or (with --workers) every worker, collected by the primary.
 */
export interface AdminSources {
  /** openMetrics: the OpenMetrics exposition with exemplars, when tracing is on and the scraper asks for it. */
  metrics (openMetrics?: boolean): Promise<{ contentType: string, body: string }>
  guard (): Promise<unknown>
  /** `by`: who asked, for the guard's log line and the timeline. */
  resetGuard (route: string | undefined, by: string): Promise<{ reset: string[], routes: unknown }>
  parity (): Promise<unknown>
  /** Forgets a learned noise pattern of a route; the routes (or workers) that had it. */
  unlearn (route: string, path: string): Promise<boolean>
}

export function localSources (runtime: AdminRuntime, metrics: Metrics): AdminSources {
  return {
    metrics: async (openMetrics) => openMetrics === true && runtime.tracing !== undefined
      ? { contentType: OPENMETRICS_CONTENT_TYPE, body: await metrics.openMetrics() }
      : { contentType: metrics.registry.contentType, body: await metrics.registry.metrics() },
    guard: async () => runtime.guard.status(),
    resetGuard: async (route, by) => ({ reset: runtime.guard.reset(route, by), routes: runtime.guard.status() }),
    parity: async () => runtime.shadow.report(),
    unlearn: async (route, path) => runtime.shadow.unlearn(route, path)
  }
}

export interface AdminOptions {
  /** True once the traffic listener is up. */
  isListening: () => boolean
  sources: AdminSources
  /** The ramp driver of this process; absent with --workers (a fleet runs `ramp run`). */
  ramp?: RampDriver
  /** The migration timeline: this process's, or a --workers primary's merge of its workers'. */
  timeline: TimelineSource
  /** The status page and its data, likewise. */
  status: StatusView
}

/** An error message fit for an unauthenticated probe: no URLs, addresses or paths. */
function withoutAddresses (message: string): string {
  return message
    .replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s'"]+/gi, '<url>')
    .replace(/\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b/g, '<address>')
    .replace(/\[?(?<![\w.:])[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}\]?(?::\d+)?/gi, '<address>')
    .replace(/'\/[^']*'|(?<=\s)\/\S+/g, '<path>')
}

export function buildAdminServer (runtime: AdminRuntime, logger: Logger, opts: AdminOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: logger.child({ server: 'admin' }) as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    genReqId: (req) => newRequestId(req.headers['x-request-id'])
  })

  const sessions = new ReadSessions()
  const operators = (): Operators => runtime.snapshot.operators
  protectAdmin(app, { operators, admin: () => runtime.snapshot.config.admin, sessions })
  registerStatusRoutes(app, opts.status, { operators, sessions, secure: (request) => servedOverHttps(request, runtime.snapshot.isTrusted) })

  app.get('/healthz', async () => ({ status: 'ok' }))

  app.get('/readyz', async (_request, reply) => {
    const snap = runtime.snapshot
    // Unauthenticated (probes need no token): the file's name, not its path.
    const config = { version: snap.config.version, file: basename(snap.config.file), loadedAt: snap.loadedAt.toISOString() }
    if (runtime.draining) return reply.code(503).send({ status: 'draining', config })
    // The flag source's state is reported but never fails readiness: an Unleash
    // outage must not take every replica out of its load balancer at once.
    const flags = snap.flags?.status()
    const lastError = flags?.lastError === undefined ? {} : { lastError: withoutAddresses(flags.lastError) }
    const body = { config, ...(flags === undefined ? {} : { flags: { ...flags, ...lastError, degraded: !flags.up || flags.authFailed || flags.origin !== (flags.source === 'file' ? 'file' : 'live') } }) }
    if (!opts.isListening()) return reply.code(503).send({ status: 'starting', ...body })
    return { status: 'ready', ...body }
  })

  app.get('/routes', async () => describeRoutes(runtime.snapshot))

  // The identity bridge's public key, for new backends to verify its tokens (no secret in it: no token needed).
  app.get('/.well-known/jwks.json', async (_request, reply) => {
    const bridge = runtime.snapshot.identity
    return bridge === undefined ? sendProblem(reply, Errors.ADMIN_NOT_FOUND, 'routes.yaml has no identity: (docs/identity.md)') : reply.header('cache-control', 'max-age=300').send(bridge.jwks)
  })

  // Legacy's logout hook: the session is asked about again on its next request.
  app.delete('/identity/sessions/:credential', async (request, reply) => {
    const bridge = runtime.snapshot.identity
    if (bridge === undefined) return sendProblem(reply, Errors.ADMIN_NOT_FOUND, 'routes.yaml has no identity: (docs/identity.md)')
    const { credential } = request.params as { credential: string }
    const purged = bridge.purge(credential)
    request.log.info({ operator: actorOf(request), purged }, 'identity session purged')
    return reply.code(purged ? 200 : 404).send({ purged })
  })

  app.get('/guard', async () => ({ routes: await opts.sources.guard() }))

  app.post('/guard/reset', async (request, reply) => {
    const body = request.body as { route?: unknown } | null
    const route = body?.route
    if (route !== undefined && typeof route !== 'string') return sendProblem(reply, Errors.ADMIN_BAD_REQUEST, 'send {"route": "name"} or nothing to reset every route')
    if (route !== undefined && runtime.snapshot.routesByName.get(route)?.guard === undefined) {
      return sendProblem(reply, Errors.ADMIN_BAD_REQUEST, `route "${route}" has no rollback guard`)
    }
    return opts.sources.resetGuard(route, actorOf(request))
  })

  app.get('/parity', async () => ({ routes: await opts.sources.parity() }))

  // Learned noise a person disagrees with: compared again from now on.
  app.post('/parity/:route/unlearn', async (request, reply) => {
    const { route } = request.params as { route: string }
    const path = (request.body as { path?: unknown } | null)?.path
    if (typeof path !== 'string' || path === '') return sendProblem(reply, Errors.ADMIN_BAD_REQUEST, 'send {"path": "$.field"}: a learned pattern from GET /parity')
    if (!await opts.sources.unlearn(route, path)) return sendProblem(reply, Errors.ADMIN_NOT_FOUND, `route "${route}" has no learned noise "${path}"`)
    request.log.info({ route, path, operator: actorOf(request) }, `parity: learned noise ${path} on route ${route} forgotten by ${actorOf(request)}; compared again`)
    return { unlearned: path, routes: await opts.sources.parity() }
  })

  const rampHost = (): RampHost => runtime.snapshot.config.ramps.driver === 'fleet'
    ? { unavailable: 'ramps.driver is fleet: `strangler-proxy ramp run` drives the ramps; ask it (ramp status --admin DRIVER_URL)' }
    : opts.ramp === undefined ? { unavailable: 'this process drives no ramps: a --workers primary does not (see docs/ramp-plans.md)' } : { driver: opts.ramp }
  registerRampRoutes(app, rampHost)
  registerAlertRoutes(app, rampHost, () => runtime.snapshot.config.ramps.alerts)

  app.get('/metrics', async (request, reply) => {
    // Prometheus asks for OpenMetrics first; only that format carries exemplars.
    const m = await opts.sources.metrics((request.headers.accept ?? '').includes('application/openmetrics-text'))
    return reply.header('content-type', m.contentType).send(m.body)
  })

  registerTimelineRoute(app, opts.timeline)
  registerExplainRoutes(app, runtime, opts.ramp)

  app.setNotFoundHandler((request, reply) => sendProblem(reply, Errors.NO_ROUTE, `admin endpoints: /healthz /readyz /routes /explain /guard /parity /ramp /timeline /status /status.json /inventory /coverage /metrics; not ${request.method} ${request.url.split('?')[0]}`))
  return app
}
