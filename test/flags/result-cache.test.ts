import t from 'tap'
import { Evaluator } from '../../src/flags/evaluator.js'
import { MemoryRepository } from '../../src/flags/memory-repository.js'
import { contextDecides } from '../../src/flags/result-cache.js'
import { UnleashClient, defaultStrategies, type FeatureInterface, type ClientFeaturesResponse } from '../../src/flags/unleash-internals.js'

const rollout = (percent: number, extra: Record<string, unknown> = {}): FeatureInterface => ({
  name: 'orders-on-new',
  enabled: true,
  strategies: [{ name: 'flexibleRollout', parameters: { rollout: String(percent), stickiness: 'default', groupId: 'orders-on-new' }, constraints: [] }],
  ...extra
} as unknown as FeatureInterface)

function evaluatorWith (...features: FeatureInterface[]): { evaluator: Evaluator, repository: MemoryRepository } {
  const repository = new MemoryRepository()
  repository.replace({ version: 2, features } as unknown as ClientFeaturesResponse)
  return { evaluator: new Evaluator(repository, () => {}), repository }
}

t.test('cached results are unleash-client\'s own, user by user, on every call', async (t) => {
  const { evaluator, repository } = evaluatorWith(rollout(50))
  const reference = new UnleashClient(repository, defaultStrategies)
  let differ = 0
  let on = 0
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 2000; i++) {
      const context = { userId: `user-${i}`, remoteAddress: '10.0.0.1', properties: { tenant: `t${i % 7}` } }
      const ours = evaluator.evaluate('orders-on-new', context, false).enabled
      if (ours !== reference.isEnabled('orders-on-new', context, () => false)) differ++
      if (round === 0 && ours) on++
    }
  }
  t.equal(differ, 0, 'no cached result differs from a fresh evaluation')
  t.ok(on > 900 && on < 1100, `about half the users are on (${on} of 2000)`)
})

t.test('a user and an address alone (the cache\'s fast path): unleash-client\'s own results and variants, per address', async (t) => {
  const withVariants = rollout(50, { variants: [{ name: 'blue', weight: 500, stickiness: 'default' }, { name: 'green', weight: 500, stickiness: 'default' }] })
  const { evaluator, repository } = evaluatorWith(withVariants)
  const reference = new UnleashClient(repository, defaultStrategies)
  let differ = 0
  const variants = new Set<string>()
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 1000; i++) {
      const context = { userId: `user-${i}`, remoteAddress: `10.0.${i % 3}.1`, properties: {} }
      if (evaluator.evaluate('orders-on-new', context, false).enabled !== reference.isEnabled('orders-on-new', context, () => false)) differ++
      const ours = evaluator.evaluate('orders-on-new', context, true)
      const theirs = reference.getVariant('orders-on-new', context)
      if (ours.enabled !== theirs.feature_enabled || (ours.enabled && ours.variant !== theirs.name)) differ++
      if (ours.variant !== undefined) variants.add(ours.variant)
    }
  }
  t.equal(differ, 0, 'no cached result or variant differs from a fresh evaluation')
  t.same([...variants].sort(), ['blue', 'green'], 'both variants handed out')
})

t.test('new flag definitions are used at once: nothing stale is served from the cache', async (t) => {
  const { evaluator, repository } = evaluatorWith(rollout(0))
  const context = { userId: 'user-7', remoteAddress: '10.0.0.1', properties: {} }
  t.equal(evaluator.evaluate('orders-on-new', context, false).enabled, false)
  repository.replace({ version: 2, features: [rollout(100)] } as unknown as ClientFeaturesResponse)
  t.equal(evaluator.evaluate('orders-on-new', context, false).enabled, true)
  repository.replace({ version: 2, features: [rollout(100, { enabled: false })] } as unknown as ClientFeaturesResponse)
  t.equal(evaluator.evaluate('orders-on-new', context, false).enabled, false)
})

t.test('random stickiness, and default stickiness without user or session, are evaluated on every call', async (t) => {
  const random = rollout(50)
  ;(random.strategies?.[0] as { parameters: Record<string, string> }).parameters.stickiness = 'random'
  const outcomes = (evaluator: Evaluator, context: Record<string, unknown>): Set<boolean> => {
    const seen = new Set<boolean>()
    for (let i = 0; i < 200; i++) seen.add(evaluator.evaluate('orders-on-new', context as never, false).enabled)
    return seen
  }
  t.equal(outcomes(evaluatorWith(random).evaluator, { userId: 'user-7', remoteAddress: '10.0.0.1', properties: {} }).size, 2, 'random stickiness stays random for one user')
  t.equal(outcomes(evaluatorWith(rollout(50)).evaluator, { remoteAddress: '10.0.0.1', properties: {} }).size, 2, 'no user, no session: random, not frozen')
  t.equal(outcomes(evaluatorWith(rollout(50)).evaluator, { userId: 'user-7', remoteAddress: '10.0.0.1', properties: {} }).size, 1, 'sticky for a user')
})

t.test('which definitions may be cached', async (t) => {
  const strategy = (s: Record<string, unknown>): FeatureInterface => ({ name: 'f', enabled: true, strategies: [{ name: 'flexibleRollout', parameters: { rollout: '50' }, constraints: [], ...s }] } as unknown as FeatureInterface)
  t.ok(contextDecides(rollout(50)), 'flexible rollout, default stickiness')
  t.ok(contextDecides(strategy({ constraints: [{ contextName: 'tenant', operator: 'IN', values: ['a'] }] })), 'constraints on context fields')
  t.ok(contextDecides(strategy({ parameters: { rollout: '50', stickiness: 'tenant' } })), 'rollout sticky to a custom field (off when it is missing)')
  t.notOk(contextDecides(strategy({ parameters: { rollout: '50', stickiness: 'random' } })), 'random stickiness')
  t.notOk(contextDecides(strategy({ name: 'gradualRolloutRandom' })), 'gradualRolloutRandom')
  t.notOk(contextDecides(strategy({ segments: [1] })), 'segments (updated apart from the flag)')
  t.notOk(contextDecides(strategy({ constraints: [{ contextName: 'currentTime', operator: 'DATE_AFTER', value: '2026-01-01T00:00:00Z' }] })), 'date constraints read the clock')
  t.notOk(contextDecides(strategy({ variants: [{ name: 'a', weight: 1000, stickiness: 'tenant' }] })), 'strategy variants sticky to a custom field')
  t.notOk(contextDecides(rollout(50, { variants: [{ name: 'a', weight: 1000, stickiness: 'tenant' }] })), 'flag variants sticky to a custom field')
  t.notOk(contextDecides(rollout(50, { dependencies: [{ feature: 'parent' }] })), 'dependencies on other flags')
})

t.test('clients choosing huge identities cannot grow the cache: long keys are not remembered, the rest is bounded in size', async (t) => {
  const { ResultCache } = await import('../../src/flags/result-cache.js')
  const cache = new ResultCache()
  const feature = rollout(50)
  const { evaluator } = evaluatorWith(feature)
  const evaluate = (_f: FeatureInterface, c: Parameters<Evaluator['evaluate']>[1], v: boolean) => evaluator.evaluate('orders-on-new', c, v)
  for (let i = 0; i < 16_000; i++) cache.get(feature, { userId: `${i}-`.padEnd(15_000, 'u'), properties: {} }, false, evaluate)
  t.same(cache.footprint(feature), { entries: 0, chars: 0 }, '15 KB user ids are evaluated, never kept')
  for (let i = 0; i < 40_000; i++) cache.get(feature, { userId: `${i}-`.padEnd(400, 'u'), properties: {} }, false, evaluate)
  const { entries, chars } = cache.footprint(feature)
  t.ok(chars <= 1_048_576, `key characters stay under 1 Mi (${chars} in ${entries} entries)`)
  t.ok(entries > 0, 'ordinary-sized keys are still remembered')
})

t.test('a remoteAddress strategy behind the cache: the same user from two addresses gets two answers, every time', async (t) => {
  const byAddress = { name: 'orders-on-new', enabled: true, strategies: [{ name: 'remoteAddress', parameters: { IPs: '203.0.113.0/24' }, constraints: [] }] } as unknown as FeatureInterface
  const { evaluator } = evaluatorWith(byAddress)
  for (let round = 0; round < 3; round++) {
    t.equal(evaluator.evaluate('orders-on-new', { userId: 'user-7', remoteAddress: '203.0.113.9', properties: {} }, false).enabled, true, `round ${round}: inside the range`)
    t.equal(evaluator.evaluate('orders-on-new', { userId: 'user-7', remoteAddress: '198.51.100.9', properties: {} }, false).enabled, false, `round ${round}: outside it`)
  }
})
