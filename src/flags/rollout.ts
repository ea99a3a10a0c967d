/**
 * The rollout percentage of a flag: the parameter Unleash's gradual strategies keep
 * it in, and the bucket (1–100) a context falls in. A user is in the rollout when
 * their bucket is at most the percentage, so raising it only ever adds users.
 */
import { normalizedStrategyValue, resolveContextValue, type Context, type FeatureInterface } from './unleash-internals.js'

/** Strategy name → the parameter holding its percentage. */
export const ROLLOUT_PARAMETER: Readonly<Record<string, string>> = {
  flexibleRollout: 'rollout',
  gradualRolloutUserId: 'percentage',
  gradualRolloutSessionId: 'percentage',
  gradualRolloutRandom: 'percentage'
}

type Strategy = NonNullable<FeatureInterface['strategies']>[number]

function gradualIndex (feature: FeatureInterface): number {
  return feature.strategies?.findIndex((s) => ROLLOUT_PARAMETER[s.name] !== undefined) ?? -1
}

/** The percentage of the flag's first gradual strategy; undefined when it has none. */
export function rolloutOf (feature: FeatureInterface): number | undefined {
  const s = feature.strategies?.[gradualIndex(feature)]
  if (s === undefined) return undefined
  const value = Number((s.parameters as Record<string, unknown> | undefined)?.[ROLLOUT_PARAMETER[s.name] as string])
  return Number.isFinite(value) ? value : undefined
}

/** A copy of the flag with every gradual strategy at `percent`. */
export function withRollout (feature: FeatureInterface, percent: number): FeatureInterface {
  const strategies = feature.strategies?.map((s): Strategy => {
    const key = ROLLOUT_PARAMETER[s.name]
    return key === undefined ? s : { ...s, parameters: { ...s.parameters, [key]: String(percent) } }
  })
  return { ...feature, ...(strategies === undefined ? {} : { strategies }) }
}

/** The stickiness, value, group and bucket a context gets in a gradual strategy. */
export interface StrategyBucket {
  readonly stickiness: string
  readonly value: string | undefined
  readonly groupId: string
  readonly bucket: number | undefined
}

function stickinessOf (name: string, params: Record<string, unknown>): string | undefined {
  if (name === 'flexibleRollout') return typeof params.stickiness === 'string' && params.stickiness !== '' ? params.stickiness : 'default'
  if (name === 'gradualRolloutUserId') return 'userId'
  if (name === 'gradualRolloutSessionId') return 'sessionId'
  return undefined
}

export function strategyBucket (feature: FeatureInterface, strategy: Strategy | undefined, context: Context): StrategyBucket | undefined {
  const params = (strategy?.parameters ?? {}) as Record<string, unknown>
  const stickiness = stickinessOf(strategy?.name ?? '', params)
  if (stickiness === undefined) return undefined
  const value = stickiness === 'default'
    ? context.userId ?? context.sessionId
    : stickiness === 'random' ? undefined : resolveContextValue(context, stickiness)
  const groupId = typeof params.groupId === 'string' && params.groupId !== '' ? params.groupId : feature.name
  return { stickiness, value, groupId, bucket: value === undefined ? undefined : normalizedStrategyValue(String(value), groupId) }
}

/** The bucket of a context in the flag's first gradual strategy. */
export function rolloutBucket (feature: FeatureInterface, context: Context): number | undefined {
  return strategyBucket(feature, feature.strategies?.[gradualIndex(feature)], context)?.bucket
}
