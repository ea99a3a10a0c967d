/**
 * What an Unleash SDK tells its server, sent by the proxy itself on Unleash's
 * documented client API: a registration (POST /client/register) at start, and every
 * interval the per flag yes/no and variant counts of the decisions made
 * (POST /client/metrics). Never on the request path. A bucket Unleash does not take
 * is kept and sent with the next; counts older than MAX_UNSENT are dropped and
 * counted, so a long outage costs a known number of evaluations, never memory.
 */
import { createRequire } from 'node:module'
import { hostname } from 'node:os'
import { randomUUID } from 'node:crypto'
import { request } from 'undici'
import type { Logger } from 'pino'
import { version } from '../version.js'
import { defaultStrategies } from './unleash-internals.js'
import type { FlagUsage } from './usage.js'

/** The client specification version these payloads follow (unleash-client's SUPPORTED_SPEC_VERSION). */
const SPEC_VERSION = '5.2.0'
const SDK_VERSION = `unleash-client-node:${(createRequire(import.meta.url)('unleash-client/package.json') as { version: string }).version}`

export interface MetricsReporterOptions {
  readonly url: string
  readonly appName: string
  readonly environment: string
  readonly token: string | undefined
  readonly interval: number
  readonly timeout: number
  readonly usage: FlagUsage
  readonly logger: Logger
}

export interface UsageSends { readonly sent: number, readonly failed: number, readonly dropped: number }

export class UnleashMetricsReporter {
  readonly instanceId = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`
  readonly #connectionId = randomUUID()
  readonly #o: MetricsReporterOptions
  readonly #started = new Date().toISOString()
  #timer: NodeJS.Timeout | undefined
  #sending: Promise<void> | undefined
  #sent = 0
  #failed = 0
  #dropped = 0

  constructor (o: MetricsReporterOptions) {
    this.#o = o
  }

  get counts (): UsageSends {
    return { sent: this.#sent, failed: this.#failed, dropped: this.#dropped }
  }

  /** Unsent counts older than this are dropped: ten intervals, at least 10 minutes. */
  get maxUnsentMs (): number {
    return Math.max(10 * this.#o.interval, 600_000)
  }

  start (): void {
    void this.#post('client/register', {
      appName: this.#o.appName,
      instanceId: this.instanceId,
      connectionId: this.#connectionId,
      sdkVersion: SDK_VERSION,
      strategies: defaultStrategies.map((s) => s.name),
      started: this.#started,
      interval: this.#o.interval,
      ...this.#platform()
    }).then((ok) => {
      if (ok) this.#o.logger.info({ appName: this.#o.appName, instanceId: this.instanceId }, 'registered with Unleash as a client application')
    })
    this.#timer = setInterval(() => { void this.send() }, this.#o.interval)
    this.#timer.unref()
  }

  /** Sends what was counted since the last send; one send at a time. */
  async send (now = Date.now()): Promise<void> {
    this.#sending ??= this.#send(now).finally(() => { this.#sending = undefined })
    await this.#sending
  }

  async #send (now: number): Promise<void> {
    const taken = this.#o.usage.take(now)
    if (taken === undefined) return
    const ok = await this.#post('client/metrics', { appName: this.#o.appName, instanceId: this.instanceId, connectionId: this.#connectionId, environment: this.#o.environment, bucket: taken.bucket, ...this.#platform() })
    if (ok) {
      this.#sent++
      return
    }
    this.#failed++
    this.#o.usage.restore(taken)
    if (now - this.#o.usage.since > this.maxUnsentMs) {
      const dropped = this.#o.usage.take(now)
      this.#dropped += dropped?.evaluations ?? 0
      this.#o.logger.warn({ evaluations: dropped?.evaluations, since: taken.bucket.start }, 'Unleash has not taken usage metrics for too long; the oldest counts are dropped (strangler_unleash_metrics_dropped_total)')
    }
  }

  #platform (): Record<string, unknown> {
    return { platformName: 'node', platformVersion: process.versions.node, yggdrasilVersion: null, specVersion: SPEC_VERSION, sdkFlavor: 'strangler-proxy', sdkFlavorVersion: version() }
  }

  /** True when Unleash took it; failures are logged, never thrown. */
  async #post (path: string, body: Record<string, unknown>): Promise<boolean> {
    const url = new URL(path, this.#o.url.endsWith('/') ? this.#o.url : this.#o.url + '/')
    try {
      const res = await request(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'unleash-appname': this.#o.appName,
          'unleash-instanceid': this.instanceId,
          'unleash-connection-id': this.#connectionId,
          'unleash-interval': String(this.#o.interval),
          'unleash-sdk': SDK_VERSION,
          ...(this.#o.token === undefined ? {} : { authorization: this.#o.token })
        },
        body: JSON.stringify(body),
        headersTimeout: this.#o.timeout,
        bodyTimeout: this.#o.timeout
      })
      await res.body.dump()
      if (res.statusCode < 300) return true
      this.#o.logger.warn({ url: url.href, status: res.statusCode }, `Unleash refused ${path}`)
    } catch (err) {
      this.#o.logger.warn({ url: url.href, error: (err as Error).message }, `could not send ${path} to Unleash`)
    }
    return false
  }

  /** A last send of what was counted (bounded by the timeout), then nothing more. */
  async close (): Promise<void> {
    clearInterval(this.#timer)
    await this.send()
  }
}
