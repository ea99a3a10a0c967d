/**
 * `strangler-proxy ramp run`: the single ramp driver of a fleet. It reads the gates
 * from Prometheus (sums over every replica), writes each step into Unleash through its
 * admin API, and serves GET /ramp, the ramp actions, GET /fleet (the replicas and
 * which of them drift), /metrics and /healthz on its own port. Exactly one runs per
 * fleet (docs/ramp-plans.md).
 */
import Fastify, { LogController, type FastifyInstance, type FastifyBaseLogger } from 'fastify'
import { Registry } from 'prom-client'
import type { Logger } from 'pino'
import type { Config } from '../config/config.js'
import { watchConfigFile } from '../config/watch.js'
import { stateDir } from '../config/state-dir.js'
import { registerRampMetrics } from '../observe/ramp-metrics.js'
import { RampDriver } from '../ramp/driver.js'
import { rampRoutes, RAMP_VIEW_STATES } from '../ramp/view.js'
import { PrometheusFigures } from '../ramp/prometheus-figures.js'
import { PromQL } from '../ramp/promql.js'
import { queryRunner } from '../ramp/query-gates.js'
import { DryRunTarget } from '../ramp/dry-run.js'
import { checkRunner } from '../ramp/checks.js'
import { RampStore } from '../ramp/store.js'
import { UnleashTarget } from '../ramp/targets.js'
import { unleashAdmin, type UnleashAdmin } from '../flags/unleash-admin.js'
import { openAdminRefusal, protectAdmin } from '../admin/access.js'
import { Freezes } from '../ramp/freezes.js'
import { Operators } from '../admin/operators.js'
import { redactUrl } from '../observe/redact.js'
import { registerRampRoutes } from '../admin/ramp-routes.js'
import { registerAlertRoutes } from '../admin/alerts.js'
import { registerFleetRoutes } from '../admin/fleet-routes.js'
import { discovery } from '../ramp/discovery.js'
import { registerSignIn } from '../admin/status-routes.js'
import { ReadSessions, servedOverHttps } from '../admin/session.js'
import proxyAddr from 'proxy-addr'
import { configSource, urlOf } from './instance.js'
import { reloadConfig, type ConfigHolder } from './reload.js'

export interface RampRunOptions {
  readonly configFile: string
  readonly logger: Logger
  readonly host: string
  readonly port: number
  readonly adminToken?: string
  /** Overrides ramps.prometheus. */
  readonly prometheus?: string
  /** UNLEASH_ADMIN_TOKEN, UNLEASH_URL, XDG_STATE_HOME. */
  readonly env: Readonly<Record<string, string | undefined>>
  /** Reload routes.yaml when it changes (default true). */
  readonly watch?: boolean
  /** --insecure-admin: allow a non-loopback listener without a token (a lab). */
  readonly insecureAdmin?: boolean
}

export interface RampRunner {
  readonly url: string
  readonly driver: RampDriver
  readonly server: FastifyInstance
  reload (trigger: string): void
  stop (): Promise<void>
}

/** Why this config cannot be driven by `ramp run`, or undefined. */
function refusal (config: Config, opts: RampRunOptions): string | undefined {
  if (config.ramps.driver !== 'fleet') return 'ramps.driver is not fleet: every proxy drives its own ramps, and a second driver would fight them; set ramps: { driver: fleet } in routes.yaml for a fleet'
  if (config.flags?.unleash === undefined) return 'ramp run writes the steps into Unleash: routes.yaml needs flags.unleash'
  if ((opts.prometheus ?? config.ramps.prometheus) === undefined) return 'ramp run reads the gates from Prometheus: set ramps.prometheus or --prometheus'
  if ((opts.env.UNLEASH_ADMIN_TOKEN ?? '') === '') return 'ramp run writes the steps through Unleash\'s admin API: set UNLEASH_ADMIN_TOKEN (an admin token)'
  return undefined
}

export async function runRampDriver (opts: RampRunOptions): Promise<RampRunner> {
  const { logger } = opts
  const source = configSource({ configFile: opts.configFile })
  let config = source.load()
  const operators = Operators.from(config.admin, opts.env, opts.adminToken)
  const why = refusal(config, opts) ?? (Array.isArray(operators) ? operators.join('; ') : undefined) ?? await openAdminRefusal('ramp run', opts.host, !(operators as Operators).open, opts.insecureAdmin === true)
  if (why !== undefined) throw new Error(why)
  const unleash = config.flags?.unleash as NonNullable<NonNullable<Config['flags']>['unleash']>
  const registry = new Registry()
  const views: { driver?: RampDriver } = {}
  const counters = registerRampMetrics(registry, () => views.driver?.status() ?? [], () => RAMP_VIEW_STATES)
  // One client for the gates, the PromQL gates and the fleet view: refusal() made sure of the URL.
  const prom = new PromQL(opts.prometheus ?? config.ramps.prometheus as string, config.ramps.timeout)
  const driver = new RampDriver({
    logger,
    store: new RampStore(() => stateDir(config, opts.env), opts.configFile),
    freezes: new Freezes(() => stateDir(config, opts.env), opts.configFile),
    // refusal() made sure of the admin token.
    target: new DryRunTarget(new UnleashTarget(unleashAdmin(unleash, opts.env) as UnleashAdmin), () => config.routes),
    figures: new PrometheusFigures(prom),
    checks: checkRunner(opts.env.STRANGLER_OVERRIDE_SECRET, () => config.override.header),
    queries: queryRunner(prom),
    ramps: () => config.ramps.driver === 'fleet' ? rampRoutes(config.routes) : [],
    transition: (route, to) => counters.transition(route, to),
    writeFailed: (route) => counters.writeFailure(route),
    timeoutMs: config.ramps.timeout,
    stallAfterMs: config.ramps.stallAfter,
    // Every replica must have fetched the new rollout before the window opens.
    settleMs: unleash.refreshInterval + config.ramps.interval
  })
  views.driver = driver

  const server = Fastify({ loggerInstance: logger.child({ server: 'ramp-driver' }) as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }) })
  // The fleet's status page signs a person in as a replica's does: a token once, then a read-only cookie.
  const sessions = new ReadSessions()
  protectAdmin(server, { operators: () => operators as Operators, admin: () => ({ host: opts.host, port: opts.port, allowedHosts: config.admin.allowedHosts, operators: config.admin.operators }), sessions })
  // Behind a TLS-terminating proxy listed in client.trustedProxies, its X-Forwarded-Proto counts, as on a replica.
  const trusted = (): ((addr: string) => boolean) => { const t = proxyAddr.compile([...config.client.trustedProxies]); return (addr) => t(addr, 0) }
  registerSignIn(server, { operators: () => operators as Operators, sessions, secure: (request) => servedOverHttps(request, trusted()) })
  server.get('/healthz', async () => ({ status: 'ok' }))
  server.get('/metrics', async (_request, reply) => reply.header('content-type', registry.contentType).send(await registry.metrics()))
  registerRampRoutes(server, () => ({ driver }))
  registerAlertRoutes(server, () => ({ driver }), () => config.ramps.alerts)
  registerFleetRoutes(server, { prom, token: opts.adminToken ?? opts.env.STRANGLER_ADMIN_TOKEN, timeoutMs: () => config.ramps.timeout, impactWindowMs: () => config.timeline.impactDelay, discover: () => discovery(config.ramps.replicas, config.ramps.timeout) })
  await server.listen({ host: opts.host, port: opts.port })

  const holder: ConfigHolder = {
    get snapshot () { return { config } },
    apply: (next) => { config = next; return [] }
  }
  const reload = (trigger: string): void => { reloadConfig(holder, source, trigger, logger) }
  const stopWatching = opts.watch === false ? () => {} : watchConfigFile(opts.configFile, () => reload('file-change'))
  await driver.start(config.ramps.interval)
  const url = urlOf(server)
  logger.info({ url, prometheus: redactUrl(opts.prometheus ?? config.ramps.prometheus as string), ramps: driver.status().length }, 'ramp driver running')
  return {
    url,
    driver,
    server,
    reload,
    stop: async () => {
      stopWatching()
      driver.stop()
      await server.close()
    }
  }
}
