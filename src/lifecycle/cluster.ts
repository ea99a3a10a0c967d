/**
 * --workers N: a primary process and N workers (node:cluster) sharing the traffic
 * port. Workers forward, each keeping its own timeline, status and inventory; the
 * primary serves the admin port with their merged view (workers-view.ts: /metrics
 * summed by prom-client's AggregatorRegistry, /timeline, /status, /inventory, /guard,
 * /parity), and coordinates reload (file change, SIGHUP) and drain (SIGTERM).
 */
import { openAdminRefusal } from '../admin/access.js'
import { Errors, ProxyError } from '../errors.js'
import cluster, { type Worker } from 'node:cluster'
import { AggregatorRegistry } from 'prom-client'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Config } from '../config/config.js'
import { reloadConfig, type ReloadSource } from './reload.js'
import { Runtime } from './runtime.js'
import { buildAdminServer } from '../admin/server.js'
import { startInstance, configSource, listenOn, urlOf, type Instance, type StartOptions } from './instance.js'
import { watchConfigFile } from '../config/watch.js'
import { stateDir } from '../config/state-dir.js'
import { readConfigText } from '../config/config.js'
import { tracingSettings } from '../config/tracing.js'
import type { TimelineQuery } from '../timeline/timeline.js'
import { causeOf } from './migration.js'
import { Announcer, isMessage, Questions, workerName, type Message, type Question, type WorkerRef } from './questions.js'
import { workersView, type WorkerStatus } from './workers-view.js'

/** The slot a worker fills (1 to N), handed to it by the primary. */
const SLOT_ENV = 'STRANGLER_WORKER_SLOT'

/** In a worker: the forwarding instance, answering the primary over IPC. */
export async function runWorker (opts: StartOptions): Promise<Instance> {
  const slot = Number(process.env[SLOT_ENV])
  if (!Number.isInteger(slot) || slot < 1) throw new ProxyError(Errors.USAGE, `a worker is started by \`start --workers N\` (${SLOT_ENV} is not set)`)
  let text = await configFromPrimary()
  // Until the primary names it, no worker announces: two announcing is worse than a gap at start.
  let announces = false
  const instance = await startInstance({ ...opts, worker: slot, watch: false, configText: () => text, announcer: () => announces })
  // The primary's /metrics asks every worker for its registry.
  new AggregatorRegistry()
  AggregatorRegistry.setRegistries([instance.metrics.registry])
  process.on('message', (m: unknown) => {
    if (!isMessage(m)) return
    if (m.type === 'spx:reload') {
      text = m.text
      instance.reload(m.trigger)
    } else if (m.type === 'spx:rejected') instance.timeline.configRejected(m.problems, causeOf(m.trigger))
    else if (m.type === 'spx:announcer') announces = m.announces
    else if (m.type === 'spx:shutdown') void instance.shutdown(m.reason).then(() => process.exit(0))
    else if (m.type === 'spx:ask') {
      void answer(instance, m.what, m.args).then(
        (value) => process.send?.({ type: 'spx:answer', id: m.id, value } satisfies Message),
        (err: unknown) => opts.logger.error({ err, question: m.what }, 'could not answer the primary')
      )
    }
  })
  process.send?.({ type: 'spx:ready', proxy: instance.proxyUrl } satisfies Message)
  return instance
}

/** The routes.yaml the primary serves, which it sends first. */
async function configFromPrimary (): Promise<string> {
  return await new Promise((resolve) => {
    const take = (m: unknown): void => {
      if (!isMessage(m) || m.type !== 'spx:config') return
      process.off('message', take)
      resolve(m.text)
    }
    process.on('message', take)
    process.send?.({ type: 'spx:config?' } satisfies Message)
  })
}

/** A worker's answer to one of the primary's questions. */
async function answer (instance: Instance, what: Question, args: Record<string, unknown>): Promise<unknown> {
  const r = instance.runtime
  const text = (key: string): string | undefined => typeof args[key] === 'string' ? args[key] : undefined
  switch (what) {
    case 'guard': return r.guard.status()
    case 'parity': return r.shadow.report()
    case 'reset': return r.guard.reset(text('route'), text('by'))
    case 'unlearn': return r.shadow.unlearn(text('route') ?? '', text('path') ?? '')
    case 'timeline': return instance.timeline.query(args as TimelineQuery)
    case 'status': return { report: await instance.status.report(), flags: instance.metrics.flagsHash() } satisfies WorkerStatus
    case 'inventory': return instance.status.inventory()
    case 'coverage': return (await instance.status.coverage()) ?? null
    case 'exemplars': return [...instance.metrics.exemplars()]
  }
}

export interface Primary {
  readonly adminUrl: string
  reload (trigger: string): void
  shutdown (reason: string): Promise<void>
}

export async function runPrimary (opts: StartOptions & { workers: number, logger: Logger }): Promise<Primary> {
  const { logger } = opts
  const { source, served } = textKeepingSource(opts)
  const config = source.load()
  warnUndrivenRamps(config, logger)
  const open = await openAdminRefusal('the admin port', config.admin.host, opts.adminToken !== undefined || config.admin.operators.length > 0, opts.insecureAdmin === true)
  if (open !== undefined) throw new ProxyError(Errors.USAGE, open)
  // The workers keep their timelines and status there: checked once, before they start.
  if (config.state.dir !== undefined) stateDir(config, opts.env ?? {})
  // For /routes and /explain; the workers hold their own copies for traffic.
  const runtime = new Runtime(config, { logger, env: opts.env ?? {}, watchFlags: true, admin: { token: opts.adminToken } })
  await runtime.startFlags(opts.flagsStartWaitMs ?? 2000)
  const aggregator = new AggregatorRegistry()
  /** Slot → the worker filling it; a worker that dies is replaced in its slot. */
  const slots = new Map<number, Worker>()
  const ready = new Set<number>()
  let draining = false
  // Workers that die before listening (a port in use, a missing secret) are re-forked
  // with growing delays instead of in a tight loop.
  let earlyDeaths = 0
  const workers = (): WorkerRef[] => [...slots].filter(([, w]) => !w.isDead()).map(([slot, worker]) => ({ slot, worker }))
  const questions = new Questions(workers)
  const announcer = new Announcer(workers, (w) => ready.has(w.id))

  const fork = (slot: number): void => {
    const worker = cluster.fork({ [SLOT_ENV]: String(slot) })
    slots.set(slot, worker)
    worker.on('message', (m: unknown) => {
      if (!isMessage(m)) return
      // What the others serve, even when the file on disk has changed or is broken since.
      if (m.type === 'spx:config?') worker.send({ type: 'spx:config', text: served(runtime.snapshot.config.version) } satisfies Message)
      else if (m.type === 'spx:ready') {
        ready.add(worker.id)
        earlyDeaths = 0
        announcer.name()
        if (ready.size === opts.workers) logger.info({ proxy: m.proxy, workers: opts.workers }, 'all workers listening')
      } else if (m.type === 'spx:answer') {
        questions.answered(m.id, worker, m.value)
      }
    })
    worker.on('exit', (code, signal) => {
      const wasReady = ready.delete(worker.id)
      if (draining) return
      announcer.name()
      const delay = wasReady ? 0 : Math.min(30_000, 500 * 2 ** earlyDeaths++)
      logger.error({ pid: worker.process.pid, worker: workerName(slot), code, signal, restartInMs: delay }, 'worker exited; starting a new one')
      setTimeout(() => { if (!draining) fork(slot) }, delay).unref()
    })
  }
  cluster.setupPrimary({ args: ['worker', '--config', opts.configFile] })
  for (let slot = 1; slot <= opts.workers; slot++) fork(slot)

  const view = workersView({ questions, slots: opts.workers, aggregator, config: () => runtime.snapshot.config, traced: () => tracingSettings(runtime.snapshot.config.tracing, opts.env ?? {}) !== undefined })
  const admin: FastifyInstance = buildAdminServer(runtime, logger, {
    isListening: () => ready.size === opts.workers,
    sources: view.sources,
    timeline: view.timeline,
    status: view.status
  })
  await listenOn(admin, 'admin', config.admin)
  const adminUrl = urlOf(admin)
  logger.info({ admin: adminUrl, workers: opts.workers, config: opts.configFile, version: config.version }, 'primary listening')

  const tell = (m: Message): void => { for (const w of workers()) w.worker.send(m) }
  function reload (trigger: string): void {
    const result = reloadConfig(runtime, source, trigger, logger)
    if (!result.ok) tell({ type: 'spx:rejected', trigger, problems: result.error.split('\n') })
    if (!result.ok || !result.changed) return
    logger.info({ version: result.version, workers: workers().length }, 'config reloaded; telling workers')
    warnUndrivenRamps(runtime.snapshot.config, logger)
    tell({ type: 'spx:reload', trigger, text: served(runtime.snapshot.config.version) })
  }
  const stopWatching = opts.watch === false ? () => {} : watchConfigFile(opts.configFile, () => reload('file-change'))

  let closing: Promise<void> | undefined
  async function drain (reason: string): Promise<void> {
    draining = true
    runtime.draining = true
    stopWatching()
    const list = workers()
    logger.info({ reason, workers: list.length }, 'draining all workers')
    await stopWorkers(list, reason, runtime.snapshot.config.shutdown.timeout + 5000)
    await admin.close()
    await runtime.close(0)
    logger.info({ reason }, 'stopped')
  }
  return { adminUrl, reload, shutdown: (reason) => (closing ??= drain(reason)) }
}

/** Each worker drains and exits; one still there after `deadlineMs` is killed. */
async function stopWorkers (list: readonly WorkerRef[], reason: string, deadlineMs: number): Promise<void> {
  await Promise.all(list.map(({ worker }) => new Promise<void>((resolve) => {
    const timer = setTimeout(() => { worker.process.kill('SIGKILL'); resolve() }, deadlineMs)
    worker.once('exit', () => { clearTimeout(timer); resolve() })
    worker.send({ type: 'spx:shutdown', reason } satisfies Message)
  })))
}

/**
 * routes.yaml as the primary reads it, keeping the text of each version it loads:
 * workers are handed the text of the version the primary serves.
 */
function textKeepingSource (opts: StartOptions): { source: ReloadSource, served: (version: string) => string } {
  const texts = new Map<string, string>()
  let text = ''
  const source = configSource({ ...opts, configText: () => (text = readConfigText(opts.configFile)) })
  return {
    source: {
      configFile: opts.configFile,
      load: () => {
        const config = source.load()
        texts.set(config.version, text)
        return config
      }
    },
    served: (version) => {
      // Asked for after each reload: only the version served now is ever asked for again.
      for (const v of texts.keys()) if (v !== version) texts.delete(v)
      return texts.get(version) ?? text
    }
  }
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
