/**
 * Webhooks for timeline events: a bounded queue per target, sent one at a time off
 * the request path, retried with backoff, signed with HMAC-SHA256 when a secret is
 * configured. A receiver that is down or slow only fills its own queue; what cannot
 * be sent is dropped and counted, never waited for.
 */
import { createHmac } from 'node:crypto'
import { request } from 'undici'
import type { Logger } from 'pino'
import type { NotifyTarget } from '../config/config.js'
import type { TimelineEvent } from './event.js'

/** Events waiting per target; more are dropped (and counted). */
export const QUEUE_LIMIT = 1000
/** Tries per event, with a pause of RETRY_BASE_MS × 4^n before each retry. */
const ATTEMPTS = 3
const RETRY_BASE_MS = 500

export type NotifyFailure = 'dropped' | 'failed'

interface Queue {
  target: NotifyTarget
  items: TimelineEvent[]
  busy: boolean
}

export class Notifier {
  readonly #log: Logger
  readonly #env: Readonly<Record<string, string | undefined>>
  readonly #failed: (target: string, reason: NotifyFailure) => void
  readonly #queues = new Map<string, Queue>()
  #closed = false

  constructor (log: Logger, env: Readonly<Record<string, string | undefined>>, failed: (target: string, reason: NotifyFailure) => void) {
    this.#log = log
    this.#env = env
    this.#failed = failed
  }

  /** The targets of the config being served; queues of removed targets are dropped. */
  configure (targets: readonly NotifyTarget[]): void {
    const keep = new Set(targets.map((t) => t.url))
    for (const url of this.#queues.keys()) if (!keep.has(url)) this.#queues.delete(url)
    for (const target of targets) {
      const q = this.#queues.get(target.url)
      if (q === undefined) this.#queues.set(target.url, { target, items: [], busy: false })
      else q.target = target
    }
  }

  send (event: TimelineEvent): void {
    if (this.#closed) return
    for (const q of this.#queues.values()) {
      if (q.target.kinds !== undefined && !q.target.kinds.has(event.kind)) continue
      if (q.items.length >= QUEUE_LIMIT) {
        this.#failed(hostOf(q.target.url), 'dropped')
        continue
      }
      q.items.push(event)
      if (!q.busy) void this.#drain(q)
    }
  }

  close (): void {
    this.#closed = true
  }

  async #drain (q: Queue): Promise<void> {
    q.busy = true
    while (q.items.length > 0 && !this.#closed) {
      const event = q.items.shift() as TimelineEvent
      await this.#deliver(q.target, event)
    }
    q.busy = false
  }

  async #deliver (target: NotifyTarget, event: TimelineEvent): Promise<void> {
    const body = JSON.stringify({ ...event, text: `strangler-proxy: ${event.summary}` })
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-strangler-event-id': event.id, 'x-strangler-event-kind': event.kind }
    const secret = target.secretEnv === undefined ? undefined : this.#env[target.secretEnv]
    if (secret !== undefined && secret !== '') headers['x-strangler-signature'] = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`
    let lastError = ''
    for (let attempt = 0; attempt < ATTEMPTS && !this.#closed; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, RETRY_BASE_MS * 4 ** (attempt - 1)).unref())
      try {
        const res = await request(target.url, { method: 'POST', headers, body, headersTimeout: target.timeout, bodyTimeout: target.timeout, signal: AbortSignal.timeout(target.timeout) })
        await res.body.dump()
        if (res.statusCode < 300) return
        lastError = `HTTP ${res.statusCode}`
        // A 4xx other than 429 will not get better by asking again.
        if (res.statusCode < 500 && res.statusCode !== 429) break
      } catch (err) {
        lastError = (err as Error).message
      }
    }
    this.#failed(hostOf(target.url), 'failed')
    this.#log.warn({ target: hostOf(target.url), event: event.id, kind: event.kind, error: lastError }, 'timeline webhook failed; the event stays in the timeline')
  }
}

/** Webhook URLs often carry tokens in their path: only the host is ever shown. */
function hostOf (url: string): string {
  return URL.canParse(url) ? new URL(url).host : 'invalid'
}
