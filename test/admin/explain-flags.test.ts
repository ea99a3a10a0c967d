import t from 'tap'
import { request } from 'undici'
import { startUpstream } from '../helpers/backends.js'
import { startProxy, writeConfig, tempDir } from '../helpers/proxy.js'
import { runCli } from '../helpers/cli.js'
import { flagsJson, flaggedYaml, rollout } from '../helpers/flags.js'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { normalizedStrategyValue } from '../../src/flags/unleash-internals.js'

const FLAGS = flagsJson([{ name: 'orders-on-django', enabled: true, strategies: [rollout(30)] }])

t.test('explain shows strategy, stickiness value and bucket versus rollout', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const proxy = await startProxy(t, flaggedYaml(legacy.url, django.url), { files: { 'flags.json': FLAGS } })
  // Find one user below and one above the 30 % line, with unleash-client's own hash.
  const users = Array.from({ length: 50 }, (_, i) => `u${i}`)
  const inside = users.find((u) => normalizedStrategyValue(u, 'orders-on-django') <= 30) as string
  const outside = users.find((u) => normalizedStrategyValue(u, 'orders-on-django') > 30) as string
  const explain = async (user: string): Promise<Record<string, unknown>> =>
    (await (await request(`${proxy.adminUrl}/explain?method=GET&path=/api/orders/9&header=x-user-id:${user}`)).body.json()) as Record<string, unknown>
  const yes = await explain(inside)
  t.match(yes, {
    route: 'orders',
    backend: 'django',
    reason: 'flag_on',
    context: { userId: inside, remoteAddress: '127.0.0.1' },
    contextFrom: { userId: 'header x-user-id' },
    flag: {
      name: 'orders-on-django',
      source: 'file',
      origin: 'file',
      found: true,
      enabledInEnvironment: true,
      strategies: [{ name: 'flexibleRollout', enabled: true, stickiness: 'default', stickinessValue: inside, groupId: 'orders-on-django', rollout: 30, bucket: normalizedStrategyValue(inside, 'orders-on-django') }]
    },
    outgoing: { url: `${django.url}/api/orders/9` }
  })
  const no = await explain(outside)
  t.match(no, { backend: 'legacy', reason: 'flag_off', flag: { strategies: [{ enabled: false, bucket: normalizedStrategyValue(outside, 'orders-on-django') }] } })
  // Explain agrees with what traffic does.
  const res = await request(`${proxy.url}/api/orders/9`, { headers: { 'x-user-id': inside } })
  t.match(await res.body.json(), { backend: 'django' })
})

t.test('explain from the CLI uses the flags file too', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'flags.json'), FLAGS)
  const file = writeConfig(t, flaggedYaml('http://127.0.0.1:8000', 'http://127.0.0.1:8001'), dir)
  const user = Array.from({ length: 50 }, (_, i) => `u${i}`).find((u) => normalizedStrategyValue(u, 'orders-on-django') <= 30) as string
  const res = await runCli(['explain', '--config', file, 'GET', '/api/orders/1', '--header', `x-user-id:${user}`])
  t.equal(res.code, 0)
  t.match(JSON.parse(res.stdout), { route: 'orders', backend: 'django', reason: 'flag_on', flag: { origin: 'file' } })
  const anon = await runCli(['explain', '--config', file, 'GET', '/api/orders/1', '--cookie', `spx_sid=${user}`])
  t.match(JSON.parse(anon.stdout), { backend: 'django', context: { sessionId: user }, contextFrom: { sessionId: 'cookie spx_sid' } }, 'the session cookie is a stickiness source')
})
