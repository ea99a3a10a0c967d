/**
 * Warnings that clients can cause at will (a wrong override token on every request)
 * logged at most once per interval and key; the line carries how many were
 * suppressed since the last one. The metric counts every occurrence.
 */
import type { Logger } from 'pino'

export class RateLimitedLog {
  readonly #log: Logger
  readonly #msg: string
  readonly #intervalMs: number
  readonly #last = new Map<string, { at: number, suppressed: number }>()

  constructor (logger: Logger, msg: string, intervalMs = 10_000) {
    this.#log = logger
    this.#msg = msg
    this.#intervalMs = intervalMs
  }

  warn (key: string, fields: Record<string, unknown>, now = Date.now()): void {
    const last = this.#last.get(key)
    if (last !== undefined && now - last.at < this.#intervalMs) {
      last.suppressed++
      return
    }
    this.#log.warn({ ...fields, suppressed: last?.suppressed ?? 0 }, this.#msg)
    // Keys are a small fixed set chosen by the caller, never client input.
    this.#last.set(key, { at: now, suppressed: 0 })
  }
}
