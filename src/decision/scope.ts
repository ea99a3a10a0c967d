/**
 * What deciding a backend needs of the live snapshot. Declared here, below the guard
 * and the lifecycle that provide it, so decision/ depends on nothing above it:
 * lifecycle/runtime.ts's Snapshot is one of these.
 */
import type { Config } from '../config/config.js'
import type { FlagSource } from '../flags/source.js'
import type { JwtVerifier } from './jwt.js'

/** The rollback guard as a decision sees it: may a flagged request of `route` go to the new backend? */
export interface Admission {
  admit (route: string): 'candidate' | 'baseline'
}

export interface DecisionScope {
  readonly config: Config
  readonly flags: FlagSource | undefined
  readonly jwt: JwtVerifier | undefined
  /** STRANGLER_OVERRIDE_SECRET; overrides are refused without it. */
  readonly overrideSecret: string | undefined
  readonly guard: Admission
  /** proxy-addr's trust function over client.trustedProxies. */
  readonly trust: (addr: string, i: number) => boolean
}
