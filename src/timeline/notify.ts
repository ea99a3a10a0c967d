/**
 * Webhooks for timeline events: a bounded queue per target, sent one at a time off
 * the request path, retried with backoff, damped per kind and route (damping.ts),
 * signed with HMAC-SHA256 over the timestamp and the body when a secret is
 * configured, so a receiver can refuse a replayed delivery. A receiver that is down or
 * slow only fills its own queue; what cannot be sent is dropped and counted, never
 * waited for.
 */
import { createHmac } from 'node:crypto'
import { request } from 'undici'
import type { Logger } from 'pino'
import type { NotifyTarget } from '../config/config.js'
import type { TimelineEvent } from './event.js'
import { Damper } from './damping.js'

/** Events waiting per target; more are dropped (and counted). */
export const QUEUE_LIMIT = 1000
/** Tries per event, with a pause of RETRY_BASE_MS × 4^n before each retry. */
const ATTEMPTS = 3
const RETRY_BASE_MS = 500

export type NotifyFailure = 'dropped' | 'failed'

interface Queue {
  target: NotifyTarget
  /** Each waiting event, and how many events it stands for after damping. */
  items: Array<[TimelineEvent, number]>
  busy: boolean
  damper: Damper
}

/** x-strangler-signature: HMAC-SHA256 of "<timestamp>.<body>", the timestamp in x-strangler-timestamp. */
export function signature (secret: string, timestamp: string, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`
}

/** Slack's control characters escaped as Slack asks: a name can carry no link, mention or markup. */
export function slackEscape (text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** The payload: the event, how many it stands for, and the one line Slack shows. */
export function payload (event: TimelineEvent, stands: number): string {
  const more = stands > 1 ? ` (the latest of ${stands} ${event.kind} events on ${event.routes.join(', ') || 'the proxy'} since the last notification)` : ''
  return JSON.stringify({ ...event, ...(stands > 1 ? { coalesced: stands } : {}), text: slackEscape(`strangler-proxy: ${event.summary}${more}`) })
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
    for (const [url, q] of this.#queues) {
      if (keep.has(url)) continue
      q.damper.close()
      this.#queues.delete(url)
    }
    for (const target of targets) {
      const q = this.#queues.get(target.url)
      if (q === undefined) {
        const queue: Queue = { target, items: [], busy: false, damper: this.#damper(target, () => queue) }
        this.#queues.set(target.url, queue)
      } else {
        if (q.target.damping !== target.damping) {
          q.damper.close()
          q.damper = this.#damper(target, () => q)
        }
        q.target = target
      }
    }
  }

  #damper (target: NotifyTarget, queue: () => Queue): Damper {
    return new Damper(target.damping, (event, stands) => this.#enqueue(queue(), event, stands))
  }

  send (event: TimelineEvent): void {
    if (this.#closed) return
    for (const q of this.#queues.values()) {
      if (q.target.kinds !== undefined && !q.target.kinds.has(event.kind)) continue
      q.damper.offer(event)
    }
  }

  close (): void {
    this.#closed = true
    for (const q of this.#queues.values()) q.damper.close()
  }

  #enqueue (q: Queue, event: TimelineEvent, stands: number): void {
    if (this.#closed || this.#queues.get(q.target.url) !== q) return
    if (q.items.length >= QUEUE_LIMIT) {
      this.#failed(hostOf(q.target.url), 'dropped')
      return
    }
    q.items.push([event, stands])
    if (!q.busy) void this.#drain(q)
  }

  async #drain (q: Queue): Promise<void> {
    q.busy = true
    while (q.items.length > 0 && !this.#closed) {
      const [event, stands] = q.items.shift() as [TimelineEvent, number]
      await this.#deliver(q.target, event, stands)
    }
    q.busy = false
  }

  async #deliver (target: NotifyTarget, event: TimelineEvent, stands: number): Promise<void> {
    const body = payload(event, stands)
    const secret = target.secretEnv === undefined ? undefined : this.#env[target.secretEnv]
    let lastError = ''
    for (let attempt = 0; attempt < ATTEMPTS && !this.#closed; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, RETRY_BASE_MS * 4 ** (attempt - 1)).unref())
      // Signed per attempt: a retry carries its own time, so receivers can keep their tolerance short.
      const headers: Record<string, string> = { 'content-type': 'application/json', 'x-strangler-event-id': event.id, 'x-strangler-event-kind': event.kind }
      if (secret !== undefined && secret !== '') {
        const timestamp = String(Math.floor(Date.now() / 1000))
        headers['x-strangler-timestamp'] = timestamp
        headers['x-strangler-signature'] = signature(secret, timestamp, body)
      }
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
