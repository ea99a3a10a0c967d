/**
 * Evaluation shared by both sources: unleash-client's own engine (strategies,
 * constraints, segments, variants, dependencies) over a repository. The proxy
 * never re-implements any of it; results that depend on the request context alone
 * are remembered (result-cache.ts).
 */
import { UnleashClient, defaultStrategies, type UnleashClientInstance, type Context, type FeatureInterface, type RepositoryInterface } from './unleash-internals.js'
import type { FlagResult } from './source.js'
import { ResultCache } from './result-cache.js'
import type { FlagUsage } from './usage.js'

/** An Unleash impression event, for flags with impressionData: true (as the SDKs emit them). */
export interface Impression {
  readonly eventType: 'isEnabled' | 'getVariant'
  readonly featureName: string
  readonly enabled: boolean
  readonly variant?: string
  readonly context: Context
}

/** What is told about each decision: usage counts for Unleash, impressions. */
export interface EvaluationObservers {
  readonly usage?: FlagUsage
  readonly impression?: (event: Impression) => void
}

const UNAVAILABLE: FlagResult = Object.freeze({ available: false, enabled: false, variant: undefined })
const OFF: FlagResult = Object.freeze({ available: true, enabled: false, variant: undefined })
const ON: FlagResult = Object.freeze({ available: true, enabled: true, variant: undefined })
const never = (): boolean => false

export class Evaluator {
  readonly #client: UnleashClientInstance
  readonly #repository: RepositoryInterface
  readonly #fixed: Partial<Context> | undefined
  readonly #cache = new ResultCache()
  readonly #observers: EvaluationObservers

  /** fixed: context fields the same for every request (appName, environment). */
  constructor (repository: RepositoryInterface, onError: (err: Error) => void, fixed?: Partial<Context>, observers: EvaluationObservers = {}) {
    this.#repository = repository
    this.#fixed = fixed
    this.#observers = observers
    this.#client = new UnleashClient(repository, defaultStrategies)
    this.#client.on('error', onError)
  }

  evaluate (flag: string, context: Context, withVariant: boolean): FlagResult {
    const feature = this.#repository.getToggle(flag)
    if (feature === undefined) return UNAVAILABLE
    const result = this.#cache.get(feature, context, withVariant, this.#evaluate)
    const o = this.#observers
    if (o.usage !== undefined || (o.impression !== undefined && feature.impressionData === true)) this.#observe(feature, context, withVariant, result)
    return result
  }

  /** Usage counts and impressions: off the common path, which only checks that there are any. */
  #observe (feature: FeatureInterface, context: Context, withVariant: boolean, result: FlagResult): void {
    const variant = withVariant ? result.variant ?? 'disabled' : undefined
    this.#observers.usage?.count(feature.name, result.enabled, variant)
    if (feature.impressionData === true) this.#observers.impression?.({ eventType: withVariant ? 'getVariant' : 'isEnabled', featureName: feature.name, enabled: result.enabled, ...(variant === undefined ? {} : { variant }), context: this.#withFixed(context) })
  }

  readonly #evaluate = (feature: FeatureInterface, context: Context, withVariant: boolean): FlagResult => {
    const ctx = this.#withFixed(context)
    if (!withVariant) return this.#client.isEnabled(feature.name, ctx, never) ? ON : OFF
    const v = this.#client.getVariant(feature.name, ctx)
    if (v.feature_enabled !== true) return OFF
    return v.enabled ? { available: true, enabled: true, variant: v.name } : ON
  }

  #withFixed (context: Context): Context {
    return this.#fixed === undefined ? context : { ...context, ...this.#fixed }
  }

  definition (flag: string): FeatureInterface | undefined {
    return this.#repository.getToggle(flag)
  }

  strategyEnabled (feature: FeatureInterface, index: number, context: Context): boolean {
    const strategy = feature.strategies?.[index]
    if (strategy === undefined) return false
    return this.#client.isFeatureEnabled({ ...feature, dependencies: [], strategies: [strategy] }, this.#withFixed(context), never).enabled
  }

  count (): number {
    return this.#repository.getToggles().length
  }
}

/** Impressions as structured log lines, for teams that already consume Unleash's. */
export function logImpression (log: { info: (obj: object, msg: string) => void }): (event: Impression) => void {
  return (event) => { log.info({ impression: event }, 'flag impression') }
}
