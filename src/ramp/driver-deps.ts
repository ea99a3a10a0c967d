/** What a ramp driver (driver.ts) is given, and what a person's action on it answers. */
import type { Logger } from 'pino'
import type { FigureSource } from './figures.js'
import type { GateResult } from './gates.js'
import type { Freeze, Freezes } from './freezes.js'
import type { Actor, RampRecord, Transition } from './machine.js'
import type { RampStore } from './store.js'
import type { RolloutTarget } from './targets.js'
import type { RampRoute, RampView } from './view.js'

export interface RampDriverDeps {
  readonly logger: Logger
  readonly store: RampStore
  readonly target: RolloutTarget
  readonly figures: FigureSource
  /** The ramps of the config being served now (changes on reload). */
  readonly ramps: () => readonly RampRoute[]
  /** Called after every transition, for metrics (and the timeline); `actor` is the person behind it, undefined for the ramp's own. */
  readonly transition?: (route: string, to: Transition, record: RampRecord, before: { state: string, percent: number } | undefined, percent: number, actor: Actor | undefined) => void
  /** Freezes declared by people; none without. */
  readonly freezes?: Freezes
  /** Called when a freeze is declared or lifted (`freeze` undefined), for the timeline. */
  readonly freezeChanged?: (route: string, freeze: Freeze | undefined, actor: Actor) => void
  /** Called when a write of the rollout failed (or its read-back disagreed). */
  readonly writeFailed?: (route: string, flag: string, percent: number, applied: number | undefined, error: string, attempts: number) => void
  readonly now?: () => number
  /** Least time between writing a step and starting its window: a fleet's replicas must have refreshed their flags (default: one pass). */
  readonly settleMs?: number
  /** Each call to the flag source or the figures may take at most this long (ms). */
  readonly timeoutMs?: number
  /** No usable figures for this long is a stalled ramp (ms). */
  readonly stallAfterMs?: number
  readonly random?: () => number
  /** The plan's PromQL gates over the window since `since` (ramps.prometheus); none without. */
  readonly queries?: (ramp: RampRoute, since: number) => Promise<readonly GateResult[]>
  /** The plan's HTTP checks of one kind (gates.checks[].when); none without. */
  readonly checks?: (ramp: RampRoute, when: 'before' | 'after') => Promise<readonly GateResult[]>
}

export type ActionResult =
  | { readonly ok: true, readonly ramp: RampView }
  | { readonly ok: false, readonly status: 404 | 409, readonly detail: string }
  | { readonly ok: false, readonly status: 502, readonly detail: string, readonly ramp: RampView }
