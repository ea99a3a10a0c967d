/**
 * Evaluation shared by both sources: unleash-client's own engine (strategies,
 * constraints, segments, variants, dependencies) over a repository. The proxy
 * never re-implements any of it.
 */
import { UnleashClient, defaultStrategies, type UnleashClientInstance, type Context, type FeatureInterface, type Segment, type RepositoryInterface } from './sdk.js'
import type { FlagResult } from './source.js'

const UNAVAILABLE: FlagResult = Object.freeze({ available: false, enabled: false, variant: undefined })
const OFF: FlagResult = Object.freeze({ available: true, enabled: false, variant: undefined })
const ON: FlagResult = Object.freeze({ available: true, enabled: true, variant: undefined })
const never = (): boolean => false

export class Evaluator {
  readonly #client: UnleashClientInstance
  readonly #repository: RepositoryInterface

  constructor (repository: RepositoryInterface, onError: (err: Error) => void) {
    this.#repository = repository
    this.#client = new UnleashClient(repository, defaultStrategies)
    this.#client.on('error', onError)
  }

  evaluate (flag: string, context: Context, withVariant: boolean): FlagResult {
    const feature = this.#repository.getToggle(flag)
    if (feature === undefined) return UNAVAILABLE
    if (!withVariant) return this.#client.isEnabled(flag, context, never) ? ON : OFF
    const v = this.#client.getVariant(flag, context)
    if (v.feature_enabled !== true) return OFF
    return v.enabled ? { available: true, enabled: true, variant: v.name } : ON
  }

  definition (flag: string): FeatureInterface | undefined {
    return this.#repository.getToggle(flag)
  }

  segment (id: number): Segment | undefined {
    return this.#repository.getSegment(id)
  }

  strategyEnabled (feature: FeatureInterface, index: number, context: Context): boolean {
    const strategy = feature.strategies?.[index]
    if (strategy === undefined) return false
    return this.#client.isFeatureEnabled({ ...feature, dependencies: [], strategies: [strategy] }, context, never).enabled
  }

  count (): number {
    return this.#repository.getToggles().length
  }
}
