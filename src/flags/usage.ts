/**
 * Per flag yes/no and variant counts of the decisions the proxy made, cached results
 * included, between two sends to Unleash. Bounded by the flags that exist: only
 * flags the source knows are counted, and a variant only by the names the flag defines.
 */

export interface ToggleCounts { yes: number, no: number, variants: Record<string, number> }

/** Unleash's client metrics bucket (POST /api/client/metrics). */
export interface UsageBucket {
  readonly start: string
  readonly stop: string
  readonly toggles: Record<string, ToggleCounts>
}

export class FlagUsage {
  #toggles = new Map<string, ToggleCounts>()
  #start = Date.now()
  #evaluations = 0

  /** `variant`: the variant assigned ("disabled" when none), when the route asked for one. */
  count (name: string, enabled: boolean, variant: string | undefined): void {
    let t = this.#toggles.get(name)
    if (t === undefined) {
      t = { yes: 0, no: 0, variants: {} }
      this.#toggles.set(name, t)
    }
    if (enabled) t.yes++
    else t.no++
    if (variant !== undefined) t.variants[variant] = (t.variants[variant] ?? 0) + 1
    this.#evaluations++
  }

  /** Evaluations counted since the oldest unsent bucket began. */
  get evaluations (): number {
    return this.#evaluations
  }

  /** When the oldest unsent count was made (ms). */
  get since (): number {
    return this.#start
  }

  /** The counts so far as a bucket, and a fresh start; undefined when nothing was counted. */
  take (now = Date.now()): { bucket: UsageBucket, evaluations: number } | undefined {
    if (this.#toggles.size === 0) return undefined
    const bucket = { start: new Date(this.#start).toISOString(), stop: new Date(now).toISOString(), toggles: Object.fromEntries(this.#toggles) }
    const evaluations = this.#evaluations
    this.#toggles = new Map()
    this.#evaluations = 0
    this.#start = now
    return { bucket, evaluations }
  }

  /** A bucket Unleash did not take goes back, to be sent with the next. */
  restore (taken: { bucket: UsageBucket, evaluations: number }): void {
    for (const [name, c] of Object.entries(taken.bucket.toggles)) {
      const t = this.#toggles.get(name) ?? { yes: 0, no: 0, variants: {} }
      t.yes += c.yes
      t.no += c.no
      for (const [v, n] of Object.entries(c.variants)) t.variants[v] = (t.variants[v] ?? 0) + n
      this.#toggles.set(name, t)
    }
    this.#evaluations += taken.evaluations
    this.#start = Math.min(this.#start, Date.parse(taken.bucket.start))
  }
}
