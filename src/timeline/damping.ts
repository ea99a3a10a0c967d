/**
 * At most one webhook per event kind and route per interval. A flapping signal (parity
 * crossing its threshold, a guard opening and closing) sends its first event at once
 * and its latest at the end of the interval, saying how many that one stands for; the
 * timeline itself keeps every event. The receiver always ends on the latest state.
 */
import type { TimelineEvent } from './event.js'

/** Keys tracked at most; past it, quiet ones are forgotten (a forgotten key sends at once). */
const MAX_KEYS = 10_000

interface Slot {
  /** When the last delivery of this kind and route went out. */
  at: number
  latest: TimelineEvent | undefined
  /** Events folded into `latest`, itself included. */
  count: number
  timer: NodeJS.Timeout | undefined
}

export class Damper {
  readonly #interval: number
  readonly #send: (event: TimelineEvent, stands: number) => void
  readonly #slots = new Map<string, Slot>()

  /** `send(event, stands)`: deliver `event`, which stands for `stands` events (1 when not damped). */
  constructor (interval: number, send: (event: TimelineEvent, stands: number) => void) {
    this.#interval = interval
    this.#send = send
  }

  offer (event: TimelineEvent, now = Date.now()): void {
    if (this.#interval <= 0) return this.#send(event, 1)
    const key = `${event.kind}\u0000${event.routes.join(',')}`
    const slot = this.#slots.get(key)
    if (slot === undefined || (slot.latest === undefined && now - slot.at >= this.#interval)) {
      if (slot === undefined && this.#slots.size >= MAX_KEYS) this.#forgetQuiet(now)
      this.#slots.set(key, { at: now, latest: undefined, count: 0, timer: undefined })
      return this.#send(event, 1)
    }
    slot.latest = event
    slot.count++
    slot.timer ??= setTimeout(() => this.#flush(slot), Math.max(0, slot.at + this.#interval - now)).unref()
  }

  close (): void {
    for (const slot of this.#slots.values()) clearTimeout(slot.timer)
    this.#slots.clear()
  }

  #flush (slot: Slot): void {
    const event = slot.latest
    slot.timer = undefined
    slot.latest = undefined
    if (event === undefined) return
    const stands = slot.count
    slot.count = 0
    slot.at = Date.now()
    this.#send(event, stands)
  }

  #forgetQuiet (now: number): void {
    for (const [key, slot] of this.#slots) if (slot.latest === undefined && now - slot.at >= this.#interval) this.#slots.delete(key)
  }
}
