/**
 * --workers N: a primary process and N workers (node:cluster) sharing the traffic
 * port. Workers forward; the primary serves the admin port, with /metrics summed
 * across workers (prom-client's AggregatorRegistry), /guard and /parity collected from
 * each worker, and it coordinates reload (file change, SIGHUP) and drain (SIGTERM).
 */
import { openAdminRefusal } from '../admin/access.js'
import { Errors, ProxyError } from '../errors.js'
import cluster, { type Worker } from 'node:cluster'
import { AggregatorRegistry, type RegistryContentType } from 'prom-client'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Config } from '../config/config.js'
import { reloadConfig } from './reload.js'
import { Runtime } from './runtime.js'
import { buildAdminServer, type AdminSources } from '../admin/server.js'
import { startInstance, configSource, listenOn, urlOf, type Instance, type StartOptions } from './instance.js'
import { watchConfigFile } from '../config/watch.js'

type Message =
  | { type: 'spx:ready', proxy: string }
  | { type: 'spx:reload' }
  | { type: 'spx:shutdown', reason: string }
  | { type: 'spx:ask', id: number, what: 'guard' | 'parity' | 'reset' | 'unlearn', route?: string, path?: string }
  | { type: 'spx:answer', id: number, value: unknown }

function isMessage (m: unknown): m is Message {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string' && (m as { type: string }).type.startsWith('spx:')
}

/** In a worker: the forwarding instance, answering the primary over IPC. */
export async function runWorker (opts: StartOptions): Promise<Instance> {
  const instance = await startInstance({ ...opts, admin: false, watch: false })
  // The primary's /metrics asks every worker for its registry.
  new AggregatorRegistry()
  AggregatorRegistry.setRegistries([instance.metrics.registry])
  process.on('message', (m: unknown) => {
    if (!isMessage(m)) return
    if (m.type === 'spx:reload') instance.reload('primary')
    else if (m.type === 'spx:shutdown') void instance.shutdown(m.reason).then(() => process.exit(0))
    else if (m.type === 'spx:ask') {
      const r = instance.runtime
      const value = m.what === 'guard' ? r.guard.status() : m.what === 'parity' ? r.shadow.report() : m.what === 'unlearn' ? r.shadow.unlearn(m.route ?? '', m.path ?? '') : r.guard.reset(m.route, m.path)
      process.send?.({ type: 'spx:answer', id: m.id, value })
    }
  })
  process.send?.({ type: 'spx:ready', proxy: instance.proxyUrl })
  return instance
}

export interface Primary {
  readonly adminUrl: string
  reload (trigger: string): void
  shutdown (reason: string): Promise<void>
}

export async function runPrimary (opts: StartOptions & { workers: number, logger: Logger }): Promise<Primary> {
  const { logger } = opts
  const source = configSource(opts)
  const config = source.load()
  warnUndrivenRamps(config, logger)
  const open = await openAdminRefusal('the admin port', config.admin.host, opts.adminToken !== undefined || config.admin.operators.length > 0, opts.insecureAdmin === true)
  if (open !== undefined) throw new ProxyError(Errors.USAGE, open)
  // For /routes and /explain; the workers hold their own copies for traffic.
  const runtime = new Runtime(config, { logger, env: opts.env ?? {}, watchFlags: true, admin: { token: opts.adminToken } })
  await runtime.startFlags(opts.flagsStartWaitMs ?? 2000)
  const aggregator = new AggregatorRegistry()
  const ready = new Set<number>()
  let draining = false
  // Workers that die before listening (a port in use, a missing secret) are re-forked
  // with growing delays instead of in a tight loop.
  let earlyDeaths = 0
  const workers = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead())
  const questions = new Questions(workers)

  const fork = (): Worker => {
    const worker = cluster.fork()
    worker.on('message', (m: unknown) => {
      if (!isMessage(m)) return
      if (m.type === 'spx:ready') {
        ready.add(worker.id)
        earlyDeaths = 0
        if (ready.size === opts.workers) logger.info({ proxy: m.proxy, workers: opts.workers }, 'all workers listening')
      } else if (m.type === 'spx:answer') {
        questions.answered(m.id, worker.process.pid, m.value)
      }
    })
    worker.on('exit', (code, signal) => {
      const wasReady = ready.delete(worker.id)
      if (draining) return
      const delay = wasReady ? 0 : Math.min(30_000, 500 * 2 ** earlyDeaths++)
      logger.error({ pid: worker.process.pid, code, signal, restartInMs: delay }, 'worker exited; starting a new one')
      setTimeout(() => { if (!draining) fork() }, delay).unref()
    })
    return worker
  }
  cluster.setupPrimary({ args: ['worker', '--config', opts.configFile] })
  for (let i = 0; i < opts.workers; i++) fork()

  const sources = primarySources(questions, aggregator)
  const admin: FastifyInstance = buildAdminServer(runtime, logger, {
    isListening: () => ready.size === opts.workers,
    sources
  })
  await listenOn(admin, 'admin', config.admin)
  const adminUrl = urlOf(admin)
  logger.info({ admin: adminUrl, workers: opts.workers, config: opts.configFile, version: config.version }, 'primary listening')

  function reload (trigger: string): void {
    const result = reloadConfig(runtime, source, trigger, logger)
    if (!result.ok || !result.changed) return
    logger.info({ version: result.version, workers: workers().length }, 'config reloaded; telling workers')
    warnUndrivenRamps(runtime.snapshot.config, logger)
    for (const w of workers()) w.send({ type: 'spx:reload' })
  }
  const stopWatching = opts.watch === false ? () => {} : watchConfigFile(opts.configFile, () => reload('file-change'))

  let closing: Promise<void> | undefined
  async function drain (reason: string): Promise<void> {
    draining = true
    runtime.draining = true
    stopWatching()
    const deadline = runtime.snapshot.config.shutdown.timeout + 5000
    const list = workers()
    logger.info({ reason, workers: list.length }, 'draining all workers')
    await Promise.all(list.map((w) => new Promise<void>((resolve) => {
      const timer = setTimeout(() => { w.process.kill('SIGKILL'); resolve() }, deadline)
      w.once('exit', () => { clearTimeout(timer); resolve() })
      w.send({ type: 'spx:shutdown', reason })
    })))
    await admin.close()
    await runtime.close(0)
    logger.info({ reason }, 'stopped')
  }
  return { adminUrl, reload, shutdown: (reason) => (closing ??= drain(reason)) }
}

/**
 * Each worker sees a share of the traffic, so none drives a ramp on its own counters,
 * and the primary has none: plans left to `ramps.driver: proxy` would never move.
 */
function warnUndrivenRamps (config: Config, logger: Logger): void {
  if (config.ramps.driver !== 'proxy') return
  const routes = config.routes.filter((r) => r.ramp !== undefined).map((r) => r.name)
  if (routes.length === 0) return
  logger.warn({ routes, fix: 'set ramps.driver: fleet and run `strangler-proxy control` beside the proxy; it drives the ramps from Prometheus (docs/ramp-plans.md)' }, 'ramp plans are not driven with --workers')
}

type Answer = { pid: number | undefined, value: unknown }
type Question = 'guard' | 'parity' | 'reset' | 'unlearn'

/** Questions to every live worker, answered within 2 s; a worker that does not answer is left out. */
class Questions {
  #asked = 0
  readonly #pending = new Map<number, { answers: Answer[], left: number, done: () => void }>()
  constructor (private readonly workers: () => Worker[]) {}

  ask (what: Question, route?: string, path?: string): Promise<Answer[]> {
    const list = this.workers()
    if (list.length === 0) return Promise.resolve([])
    const id = ++this.#asked
    return new Promise((resolve) => {
      const answers: Answer[] = []
      const timer = setTimeout(() => { this.#pending.delete(id); resolve(answers) }, 2000)
      this.#pending.set(id, { answers, left: list.length, done: () => { clearTimeout(timer); this.#pending.delete(id); resolve(answers) } })
      for (const w of list) w.send({ type: 'spx:ask', id, what, ...(route === undefined ? {} : { route }), ...(path === undefined ? {} : { path }) })
    })
  }

  answered (id: number, pid: number | undefined, value: unknown): void {
    const p = this.#pending.get(id)
    if (p === undefined) return
    p.answers.push({ pid, value })
    if (--p.left === 0) p.done()
  }
}

/** The admin port's figures in --workers mode: metrics summed by prom-client, the rest per worker. */
function primarySources (questions: Questions, aggregator: AggregatorRegistry<RegistryContentType>): AdminSources {
  const perWorker = async (what: 'guard' | 'parity'): Promise<unknown> => ({ workers: (await questions.ask(what)).map((a) => ({ pid: a.pid, routes: a.value })) })
  return {
    metrics: async () => ({ contentType: aggregator.contentType, body: await aggregator.clusterMetrics() }),
    guard: () => perWorker('guard'),
    parity: () => perWorker('parity'),
    unlearn: async (route, path) => (await questions.ask('unlearn', route, path)).some((a) => a.value === true),
    resetGuard: async (route, by) => {
      // The actor rides in `path`: a reset names no path.
      const answers = await questions.ask('reset', route, by)
      return { reset: [...new Set(answers.flatMap((a) => a.value as string[]))], routes: await perWorker('guard') }
    }
  }
}
