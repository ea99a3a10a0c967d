/**
 * Flags from an Unleash server, through unleash-client's own Repository (polling,
 * ETags, backup file) and evaluation engine. Outages never reach requests:
 *   - unreachable at start → the backup of the last fetched flags, else the
 *     bootstrap file, else nothing (routes use their baseline backend);
 *   - 5xx, timeouts, malformed answers → the last known flags stay;
 *   - 401/403 (unleash-client stops polling for good) → logged at error level,
 *     reported by /readyz, and a new client is created with backoff; the old flags
 *     keep serving until the new client has fetched.
 */
import { randomUUID } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { Logger } from 'pino'
import { Evaluator, logImpression } from './evaluator.js'
import { FlagUsage } from './usage.js'
import { UnleashMetricsReporter, type UsageSends } from './unleash-metrics.js'
import { readFlagsFile } from './features-file.js'
import { PrivateFileStorage, backupFile } from './private-storage.js'
import { Repository, type Context, type FeatureInterface, type ClientFeaturesResponse } from './unleash-internals.js'
import type { FlagChangeListener, FlagOrigin, FlagResult, FlagSource, FlagStatus } from './source.js'
import { diffFlags } from './diff.js'

export interface UnleashSourceOptions {
  url: string
  appName: string
  environment: string
  refreshInterval: number
  timeout: number
  token: string | undefined
  /** Private directory (0700) for the backup of the last fetched flags. */
  backupDir: string
  bootstrapFile: string | undefined
  projectName: string | undefined
  /** What changed, each time Unleash serves definitions that differ from the last seen. */
  onChange?: FlagChangeListener
  /** Registration and usage metrics sent to Unleash; none when absent. */
  metrics?: { readonly enabled: boolean, readonly interval: number }
}

type ApiSave = (response: unknown, fromApi: boolean) => Promise<void>

/** Repository that says when data came from the server rather than backup or bootstrap. */
class TrackingRepository extends Repository {
  onApiSave: (() => void) | undefined
  override async save (response: Parameters<ApiSave>[0], fromApi: boolean): Promise<void> {
    await (super.save as ApiSave).call(this, response, fromApi)
    if (fromApi) this.onApiSave?.()
  }
}

interface Generation {
  readonly repository: TrackingRepository
  readonly evaluator: Evaluator
}

const MAX_BACKOFF_MS = 60_000

/**
 * Repository.stop() removes every listener, but a fetch already in flight still
 * emits 'error' when it fails; without a listener that would crash the process.
 */
function stopRepository (repository: TrackingRepository): void {
  repository.stop()
  repository.on('error', () => {})
}

export class UnleashFlagSource implements FlagSource {
  readonly #opts: UnleashSourceOptions
  readonly #log: Logger
  /** The definitions last observed, for reporting what changed. */
  #seen: FeatureInterface[] | undefined
  readonly #instanceId = `strangler-proxy-${randomUUID()}`
  /** One count across client generations: a recreated client keeps counting where the last stopped. */
  readonly #usage: FlagUsage | undefined
  readonly #reporter: UnleashMetricsReporter | undefined
  #active: Generation
  #candidate: Generation | undefined
  #origin: FlagOrigin = 'none'
  #up = false
  #lastUpdate: Date | undefined
  #lastError: string | undefined
  #authFailed = false
  #failures = 0
  #retry: NodeJS.Timeout | undefined
  #closed = false
  #readyWaiters: Array<() => void> = []

  constructor (opts: UnleashSourceOptions, logger: Logger) {
    this.#opts = opts
    this.#log = logger.child({ flags: 'unleash' })
    if (opts.metrics?.enabled === true) {
      this.#usage = new FlagUsage()
      this.#reporter = new UnleashMetricsReporter({ url: opts.url, appName: opts.appName, environment: opts.environment, token: opts.token, interval: opts.metrics.interval, timeout: opts.timeout, usage: this.#usage, logger: this.#log })
      this.#reporter.start()
    }
    this.#active = this.#create()
  }

  /** Usage metrics sent to Unleash, refused and dropped; undefined when turned off. */
  get usage (): UsageSends | undefined {
    return this.#reporter?.counts
  }

  #backupFile (): string {
    return backupFile(this.#opts.backupDir, this.#opts.appName)
  }

  #hasBackup (): boolean {
    try {
      const data = JSON.parse(readFileSync(this.#backupFile(), 'utf8')) as { features?: unknown[] }
      return Array.isArray(data.features) && data.features.length > 0
    } catch {
      return false
    }
  }

  #create (): Generation {
    const o = this.#opts
    const backupFirst = this.#hasBackup()
    const repository = new TrackingRepository({
      // Resolved relative to this URL, so it needs its trailing slash (as the Unleash class adds).
      url: o.url.endsWith('/') ? o.url : o.url + '/',
      appName: o.appName,
      instanceId: this.#instanceId,
      connectionId: randomUUID(),
      refreshInterval: o.refreshInterval,
      timeout: o.timeout,
      headers: o.token === undefined ? {} : { Authorization: o.token },
      ...(o.projectName === undefined ? {} : { projectName: o.projectName }),
      // The backup is the last state Unleash itself served; the bootstrap file only
      // applies when there is none.
      bootstrapProvider: {
        readBootstrap: async (): Promise<ClientFeaturesResponse | undefined> =>
          backupFirst || o.bootstrapFile === undefined ? undefined : readFlagsFile(o.bootstrapFile)
      },
      bootstrapOverride: false,
      storageProvider: new PrivateFileStorage<ClientFeaturesResponse>(o.backupDir),
      mode: { type: 'polling', format: 'full' }
    })
    const generation: Generation = {
      repository,
      evaluator: new Evaluator(repository, (err) => this.#log.warn({ err }, 'flag evaluation problem'), { appName: o.appName, environment: o.environment }, { ...(this.#usage === undefined ? {} : { usage: this.#usage }), impression: logImpression(this.#log) })
    }
    repository.onApiSave = () => this.#onFetched(generation)
    repository.on('ready', () => {
      if (generation !== this.#active || this.#origin !== 'none') return
      this.#origin = backupFirst ? 'backup' : 'bootstrap'
      this.#log.warn({ origin: this.#origin, flags: generation.evaluator.count() }, `serving ${this.#origin} flags until Unleash answers`)
      this.#seen = generation.repository.getToggles()
      this.#wakeWaiters()
    })
    repository.on('unchanged', () => {
      if (generation !== this.#active) return
      this.#markUp()
    })
    repository.on('warn', (msg: unknown) => this.#onProblem(generation, String(msg)))
    repository.on('error', (err: Error) => this.#onProblem(generation, err.message))
    // start() can hang on a silent server or reject on a refused one; it is never awaited.
    repository.start().catch((err: Error) => this.#onProblem(generation, err.message))
    return generation
  }

  #markUp (): void {
    this.#up = true
    this.#lastUpdate = new Date()
    this.#lastError = undefined
  }

  #onFetched (generation: Generation): void {
    if (generation === this.#candidate) {
      const old = this.#active
      this.#active = generation
      this.#candidate = undefined
      stopRepository(old.repository)
      this.#log.info('Unleash accepted the credentials again; flags are live')
    }
    if (generation !== this.#active) return
    if (this.#origin !== 'live') this.#log.info({ flags: generation.evaluator.count() }, 'flags synchronized with Unleash')
    const seen = generation.repository.getToggles()
    if (this.#seen !== undefined) {
      const changes = diffFlags(this.#seen, seen)
      if (changes.length > 0) this.#opts.onChange?.(changes, 'unleash')
    }
    this.#seen = seen
    this.#origin = 'live'
    this.#authFailed = false
    this.#failures = 0
    this.#markUp()
    this.#wakeWaiters()
  }

  #onProblem (generation: Generation, message: string): void {
    if (this.#closed || (generation !== this.#active && generation !== this.#candidate)) return
    this.#up = false
    this.#lastError = message
    if (/responded (401|403)/.test(message)) {
      this.#authFailed = true
      this.#log.error({ error: message, origin: this.#origin }, 'Unleash refused the API token (UNLEASH_API_TOKEN); serving the last known flags and retrying with backoff')
      this.#scheduleRecreate()
      return
    }
    this.#log.warn({ error: message, origin: this.#origin }, 'flag service problem; keeping the last known flags')
  }

  #scheduleRecreate (): void {
    if (this.#retry !== undefined || this.#closed) return
    const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** this.#failures)
    this.#failures++
    this.#retry = setTimeout(() => {
      this.#retry = undefined
      if (this.#closed) return
      if (this.#candidate !== undefined) stopRepository(this.#candidate.repository)
      this.#candidate = this.#create()
    }, delay)
    this.#retry.unref()
  }

  #wakeWaiters (): void {
    for (const w of this.#readyWaiters.splice(0)) w()
  }

  evaluate (flag: string, context: Context, withVariant: boolean): FlagResult {
    return this.#active.evaluator.evaluate(flag, context, withVariant)
  }

  definition (flag: string): FeatureInterface | undefined { return this.#active.evaluator.definition(flag) }
  strategyEnabled (feature: FeatureInterface, index: number, context: Context): boolean {
    return this.#active.evaluator.strategyEnabled(feature, index, context)
  }

  status (): FlagStatus {
    return {
      source: 'unleash',
      origin: this.#origin,
      up: this.#up,
      ready: this.#origin !== 'none',
      lastUpdate: this.#lastUpdate,
      lastError: this.#lastError,
      authFailed: this.#authFailed,
      flags: this.#active.evaluator.count(),
      usage: this.#reporter?.counts
    }
  }

  async start (maxWaitMs: number): Promise<void> {
    if (this.#origin === 'live') return
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, maxWaitMs)
      timer.unref()
      // A backup or bootstrap is good enough to start, but a quick server answer is better.
      const waiter = (): void => {
        if (this.#origin === 'live' || this.#closed) {
          clearTimeout(timer)
          resolve()
        } else {
          this.#readyWaiters.push(waiter)
        }
      }
      this.#readyWaiters.push(waiter)
    })
  }

  async close (): Promise<void> {
    this.#closed = true
    clearTimeout(this.#retry)
    if (this.#candidate !== undefined) stopRepository(this.#candidate.repository)
    stopRepository(this.#active.repository)
    this.#wakeWaiters()
    await this.#reporter?.close()
  }
}
