/**
 * One running strangler-proxy: both servers, the runtime, reload and graceful
 * shutdown. Used by the CLI and by tests that need a real proxy in-process.
 */
import { openAdminRefusal } from '../admin/access.js'
import { Errors, ProxyError } from '../errors.js'
import type { FastifyInstance } from 'fastify'
import type { Server } from 'node:http'
import { loadConfigFile, parseConfig, type Config } from '../config/config.js'
import { reloadConfig, type ReloadResult, type ReloadSource } from './reload.js'
import { Runtime } from './runtime.js'
import { buildProxyServer, type ProxyServer } from '../proxy/server.js'
import { buildAdminServer, localSources } from '../admin/server.js'
import { localStatus, type StatusHost } from '../admin/status-routes.js'
import { watchConfigFile } from '../config/watch.js'
import { Metrics } from '../observe/metrics.js'
import { tracingSettings } from '../config/tracing.js'
import { version } from '../version.js'
import type { RampDriver } from '../ramp/driver.js'
import type { Timeline } from '../timeline/timeline.js'
import { createRampDriver, createStatus, createTimeline, eventRelay, causeOf } from './migration.js'
import type { StartOptions } from './start-options.js'
import { stateDir } from '../config/state-dir.js'


export type { ReloadResult }
export type { StartOptions }

export interface Instance {
  readonly runtime: Runtime
  readonly metrics: Metrics
  /** Drives the config's ramp plans; undefined in a --workers worker. */
  readonly ramp: RampDriver | undefined
  /** The migration timeline (a --workers worker keeps its own; the primary merges them). */
  readonly timeline: Timeline
  /** The status page's data, the inventory and coverage. */
  readonly status: StatusHost
  readonly proxy: ProxyServer
  readonly admin: FastifyInstance | undefined
  readonly proxyUrl: string
  readonly adminUrl: string | undefined
  reload (trigger: string): ReloadResult
  /** Drain and close everything; resolves when done. Safe to call twice. */
  shutdown (reason: string): Promise<void>
}

function withOverrides (config: Config, opts: Pick<StartOptions, 'port' | 'adminPort'>): Config {
  return Object.freeze({
    ...config,
    listen: opts.port === undefined ? config.listen : Object.freeze({ ...config.listen, port: opts.port }),
    admin: opts.adminPort === undefined ? config.admin : Object.freeze({ ...config.admin, port: opts.adminPort })
  })
}

/** routes.yaml as this process serves it: PORT / ADMIN_PORT take precedence over the file, on start and on every reload. */
export function configSource (opts: Pick<StartOptions, 'configFile' | 'port' | 'adminPort' | 'configText'>): ReloadSource {
  const text = opts.configText
  return { configFile: opts.configFile, load: () => withOverrides(text === undefined ? loadConfigFile(opts.configFile) : parseConfig(text(), opts.configFile), opts) }
}

/** Where a server listens, as a URL (IPv6 in brackets). */
export function urlOf (app: { readonly server: Server }): string {
  const addr = app.server.address()
  if (addr === null || typeof addr === 'string') return String(addr)
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
  return `http://${host}:${addr.port}`
}

/** Loads and validates the config; throws ConfigError (with every problem) before anything listens. */
export async function startInstance (opts: StartOptions): Promise<Instance> {
  const { logger } = opts
  const source = configSource(opts)
  const config = source.load()
  const worker = opts.worker !== undefined
  const open = worker ? undefined : await openAdminRefusal('the admin port', config.admin.host, opts.adminToken !== undefined || config.admin.operators.length > 0, opts.insecureAdmin === true)
  if (open !== undefined) throw new ProxyError(Errors.USAGE, open)
  // A state.dir someone chose is checked before anything listens; the default one
  // only once something is kept, so a proxy that keeps nothing needs no home directory.
  // (A --workers primary checks it once for its workers.)
  if (!worker && config.state.dir !== undefined) stateDir(config, opts.env ?? {})
  const relay = eventRelay()
  // A worker's routes.yaml is reloaded when the primary says; a flags file it watches itself.
  const runtime = new Runtime(config, { logger, env: opts.env ?? {}, watchFlags: worker || (opts.watch ?? true), events: relay, ...(worker ? {} : { admin: { token: opts.adminToken } }) })
  await runtime.startFlags(opts.flagsStartWaitMs ?? 2000)
  await startTracing(runtime, config, opts)
  let listening = false
  const metrics = instanceMetrics(runtime)
  const timeline = createTimeline(runtime, metrics, opts)
  relay.to = timeline
  // A --workers worker drives no ramp (each sees a share of the traffic) and serves no admin port.
  const ramp = worker ? undefined : createRampDriver(runtime, metrics, opts, timeline)
  const status = createStatus(runtime, metrics, timeline, ramp, opts)
  relay.watch = status.watch
  const proxy = buildProxyServer(runtime, logger, metrics)
  const admin = worker
    ? undefined
    : buildAdminServer(runtime, logger, {
      isListening: () => listening,
      sources: localSources(runtime, metrics),
      ...(ramp === undefined ? {} : { ramp }),
      timeline: (q) => ({ events: timeline.query(q) }),
      status: localStatus(status.host)
    })

  await listenBoth(runtime, proxy, admin)
  listening = true
  timeline.start()
  await ramp?.start(config.ramps.interval)
  const proxyUrl = urlOf(proxy)
  const adminUrl = admin === undefined ? undefined : urlOf(admin)
  logger.info({ proxy: proxyUrl, admin: adminUrl, config: opts.configFile, version: config.version, routes: config.routes.length }, 'listening')

  function reload (trigger: string): ReloadResult {
    const before = runtime.snapshot.config
    const result = reloadConfig(runtime, source, trigger, logger)
    metrics.reload(result.ok)
    if (result.ok && result.changed) {
      metrics.configApplied(runtime.snapshot.config)
      timeline.configApplied(before, runtime.snapshot.config, causeOf(trigger))
    }
    if (!result.ok) timeline.configRejected(result.error.split('\n'), causeOf(trigger))
    return result
  }

  const stopWatching = opts.watch === false ? () => {} : watchConfigFile(opts.configFile, () => reload('file-change'))

  // Node ends the process on a rejection nobody handles; one request's failure must
  // never drop every other request in flight.
  const onRejection = (reason: unknown): void => {
    metrics.unhandledRejection()
    logger.error({ err: reason }, 'unhandled promise rejection; the process keeps serving')
  }
  process.on('unhandledRejection', onRejection)

  let closing: Promise<void> | undefined
  const parts: Parts = { runtime, logger, proxy, admin, timeline, ramp, status, stopWatching, onRejection }
  return {
    runtime,
    metrics,
    ramp,
    timeline,
    status: status.host,
    proxy,
    admin,
    proxyUrl,
    adminUrl,
    reload,
    shutdown: (reason) => (closing ??= drain(parts, reason))
  }
}

/** The SDK is loaded only when tracing is on: off, it costs neither memory nor time. */
async function startTracing (runtime: Runtime, config: Config, opts: StartOptions): Promise<void> {
  const traced = tracingSettings(config.tracing, opts.env ?? {})
  if (traced === undefined) return
  runtime.tracing = (await import('../observe/otel.js')).createOtelTracing(traced, version())
  opts.logger.info({ tracing: { endpoint: traced.endpoint, sampler: traced.sampler, ratio: traced.ratio, service: traced.serviceName } }, 'tracing on')
}

function instanceMetrics (runtime: Runtime): Metrics {
  const metrics = new Metrics(() => runtime.snapshot)
  metrics.configApplied(runtime.snapshot.config)
  runtime.evidence.register(metrics.registry)
  runtime.registerMetrics(metrics.registry)
  metrics.watchTracing(() => runtime.tracing?.dropped() ?? 0)
  return metrics
}

/** Both ports, admin first; a port that will not bind closes what was opened. */
async function listenBoth (runtime: Runtime, proxy: ProxyServer, admin: FastifyInstance | undefined): Promise<void> {
  const config = runtime.snapshot.config
  try {
    if (admin !== undefined) await listenOn(admin, 'admin', config.admin)
    await listenOn(proxy, 'traffic', config.listen)
  } catch (err) {
    await admin?.close()
    await runtime.close(0)
    throw err
  }
}

/** A port that will not open (in use, not permitted, no such address) is SPX_LISTEN_FAILED, naming it. */
export async function listenOn (app: ProxyServer | FastifyInstance, what: 'traffic' | 'admin', at: { readonly host: string, readonly port: number }): Promise<void> {
  try {
    // Fastify's listen and the traffic server's both take { host, port } and resolve once listening.
    await (app as ProxyServer).listen({ host: at.host, port: at.port })
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === undefined || !['EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL', 'ENOTFOUND'].includes(code)) throw err
    const key = what === 'admin' ? 'admin.port / ADMIN_PORT' : 'listen.port / PORT'
    throw new ProxyError(Errors.LISTEN_FAILED, `the ${what} port ${at.host}:${at.port} could not be opened (${code}); ${key} names another`, { cause: err })
  }
}

/** What a drain stops, in order. */
interface Parts {
  readonly runtime: Runtime
  readonly logger: StartOptions['logger']
  readonly proxy: ProxyServer
  readonly admin: FastifyInstance | undefined
  readonly timeline: Timeline
  readonly ramp: RampDriver | undefined
  readonly status: { stop (): void }
  readonly stopWatching: () => void
  readonly onRejection: (reason: unknown) => void
}

async function drain (parts: Parts, reason: string): Promise<void> {
  const { runtime, logger, proxy, admin, timeline, ramp, status, stopWatching, onRejection } = parts
  const started = performance.now()
  const deadline = runtime.snapshot.config.shutdown.timeout
  runtime.draining = true
  stopWatching()
  timeline.drainStarted(reason)
  ramp?.stop()
  process.off('unhandledRejection', onRejection)
  logger.info({ reason, deadlineMs: deadline }, 'draining: readiness is now failing, in-flight requests may finish')
  // Websocket clients reconnect, and will land on a ready replica; they do not
  // hold up the drain of ordinary requests.
  runtime.closeTunnels()
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'late'>((resolve) => { timer = setTimeout(resolve, deadline, 'late') })
  const result = await Promise.race([proxy.close().then(() => 'drained' as const), late])
  clearTimeout(timer)
  if (result === 'late') {
    logger.warn({ deadlineMs: deadline }, 'shutdown deadline reached, closing remaining connections')
    proxy.server.closeAllConnections()
  }
  await runtime.close(Math.max(0, deadline - (performance.now() - started)))
  await admin?.close()
  if (await runtime.tracing?.shutdown() === false) logger.warn('tracing: the last spans were not handed to the collector within 5 s; the drain goes on without them')
  timeline.stop()
  status.stop()
  logger.info({ durationMs: Math.round(performance.now() - started), result }, 'stopped')
}
