/**
 * The adapter to unleash-client's internals (src/flags/unleash-internals.ts) on two
 * consecutive minor versions: the one the proxy ships (6.12) and the one before (6.11,
 * installed as unleash-client-6-11). Each runs Unleash's whole client specification
 * through the entry points the proxy uses, so an upgrade that moves or changes them
 * fails here first.
 */
import t from 'tap'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { unleashInternals, type ClientFeaturesResponse, type Context } from '../../src/flags/unleash-internals.js'
import { MemoryRepository } from '../../src/flags/memory-repository.js'

const require = createRequire(import.meta.url)
const specDir = join(require.resolve('@unleash/client-specification/package.json'), '..', 'specifications')
const index = require(join(specDir, 'index.json')) as string[]

interface Spec {
  name: string
  state: { features?: unknown[] }
  tests?: Array<{ description: string, context: Context, toggleName: string, expectedResult: boolean }>
  variantTests?: Array<{ description: string, context: Context, toggleName: string, expectedResult: { name: string, enabled: boolean, feature_enabled?: boolean } }>
}

for (const pkg of ['unleash-client', 'unleash-client-6-11']) {
  const { version } = require(`${pkg}/package.json`) as { version: string }
  t.test(`the adapter on unleash-client ${version}`, async (t) => {
    const u = unleashInternals(pkg)
    t.equal(typeof u.Repository, 'function', 'Repository is a class')
    t.ok(['start', 'stop', 'getToggle'].every((m) => typeof (u.Repository.prototype as unknown as Record<string, unknown>)[m] === 'function'), 'with the methods the flag source calls')
    t.equal(u.normalizedStrategyValue('user-1', 'orders-on-django'), 93, 'the same bucket for the same user and group (a changed hash would move every user)')
    t.equal(u.safeName('a/b c'), 'a_b c', 'the backup file name the flag source uses')
    t.equal(u.resolveContextValue({ properties: { tenant: 'acme' } }, 'tenant'), 'acme')
    let cases = 0
    const wrong: string[] = []
    for (const file of index) {
      const spec = require(join(specDir, file)) as Spec
      if (!Array.isArray(spec.state.features)) continue
      const repo = new MemoryRepository()
      repo.replace(spec.state as ClientFeaturesResponse)
      const client = new u.UnleashClient(repo, u.defaultStrategies)
      client.on('error', () => {})
      for (const c of spec.tests ?? []) {
        cases++
        if (client.isEnabled(c.toggleName, c.context, () => false) !== c.expectedResult) wrong.push(`${spec.name}: ${c.description}`)
      }
      for (const c of spec.variantTests ?? []) {
        cases++
        const v = client.getVariant(c.toggleName, c.context)
        if (v.name !== c.expectedResult.name || v.enabled !== c.expectedResult.enabled) wrong.push(`${spec.name}: ${c.description}`)
      }
    }
    t.ok(cases > 250, `${cases} cases of the client specification`)
    t.same(wrong, [], 'every case as the specification says')
  })
}
