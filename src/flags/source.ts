/**
 * What every flag source offers the proxy. Evaluation is synchronous and
 * in-memory: a slow or dead flag service can never slow a request down.
 */
import type { Context, FeatureInterface } from './unleash-internals.js'
import type { FlagChange } from './diff.js'

/** Where the flags in memory came from. */
export type FlagOrigin = 'live' | 'backup' | 'bootstrap' | 'file' | 'none'

export interface FlagStatus {
  readonly source: 'file' | 'unleash'
  readonly origin: FlagOrigin
  /** The last fetch (or file read) succeeded. */
  readonly up: boolean
  /** The flags in memory can be evaluated (some origin other than none). */
  readonly ready: boolean
  readonly lastUpdate: Date | undefined
  readonly lastError: string | undefined
  /** Credentials refused (401/403): the source is recreating its client with backoff. */
  readonly authFailed: boolean
  readonly flags: number
  /** Unleash only, with flags.unleash.metrics on: usage metrics sent, refused or failed, and evaluations dropped. */
  readonly usage?: { readonly sent: number, readonly failed: number, readonly dropped: number } | undefined
}

export interface FlagResult {
  /** False when no flag data is loaded or the flag does not exist: the route's baseline applies. */
  readonly available: boolean
  readonly enabled: boolean
  /** Variant name when the flag has variants and one was assigned. */
  readonly variant: string | undefined
}

/** Called with what changed each time the source observes new definitions (not at the first load). */
export type FlagChangeListener = (changes: readonly FlagChange[], source: FlagStatus['source']) => void

export interface FlagSource {
  evaluate (flag: string, context: Context, withVariant: boolean): FlagResult
  definition (flag: string): FeatureInterface | undefined
  /** Evaluates one strategy of a flag on its own, for explain. */
  strategyEnabled (feature: FeatureInterface, strategyIndex: number, context: Context): boolean
  status (): FlagStatus
  /** Resolves once flags are loaded or after a bounded wait; never hangs and never rejects. */
  start (maxWaitMs: number): Promise<void>
  close (): Promise<void>
}
