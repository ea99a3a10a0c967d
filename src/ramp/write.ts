/**
 * A rollout write that has not been confirmed yet, its retries, and the time limit
 * on every call to a peer: a hung Unleash or Prometheus makes a call fail, never a
 * pass or a person's action wait.
 */

/** The next retry's delay: doubling from 1 s up to 60 s, with jitter so a fleet's drivers and retries never beat in step. */
export function backoff (attempt: number, random: () => number): number {
  const ceiling = Math.min(60_000, 1000 * 2 ** Math.max(0, attempt - 1))
  return Math.round(ceiling / 2 + random() * ceiling / 2)
}

export async function withTimeout<T> (work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)
  })
  try {
    return await Promise.race([work, late])
  } finally {
    clearTimeout(timer)
  }
}

export class PendingWrite {
  readonly percent: number
  attempts: number
  error: string | undefined
  /** Epoch ms of the next retry after a failure. */
  nextAt = 0
  busy = false
  /** Settles when the current attempt is over (confirmed or failed). */
  done: Promise<void> = Promise.resolve()

  constructor (percent: number, attempts: number, error: string | undefined) {
    this.percent = percent
    this.attempts = attempts
    this.error = error
  }

  run (attempt: Promise<void>): void {
    this.busy = true
    this.done = attempt.catch(() => {}).finally(() => { this.busy = false })
  }

  failed (error: string, nextAt: number): void {
    this.attempts++
    this.error = error
    this.nextAt = nextAt
  }

  /** Waits for the attempt under way, at most `ms`. */
  async settled (ms: number): Promise<void> {
    if (!this.busy || ms <= 0) return
    await withTimeout(this.done, ms).catch(() => {})
  }
}
