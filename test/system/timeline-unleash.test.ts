/** The timeline with a real Unleash: a rollout edited there is one flag_changed event from the Unleash source. */
import t from 'tap'
import { request } from 'undici'
import { startUpstream } from '../helpers/backends.js'
import { startProxy, sleep, type TestProxy } from '../helpers/proxy.js'
import { rollout } from '../helpers/flags.js'
import { unleashOrSkip, CLIENT_TOKEN } from '../helpers/unleash-server.js'
import { putFeature, firstStrategyId } from '../helpers/unleash-admin.js'

// Its own flag: the Unleash server is shared with the other system tests.
const FLAG = 'orders-on-django-timeline'

interface Event { kind: string, routes: string[], flag?: string, cause: string, summary: string, before?: Record<string, unknown>, after?: Record<string, unknown> }

async function events (p: TestProxy): Promise<Event[]> {
  return ((await (await request(`${p.adminUrl}/timeline`)).body.json()) as { events: Event[] }).events
}

async function waitFor (p: TestProxy, what: (e: Event[]) => boolean, ms: number): Promise<Event[]> {
  const end = Date.now() + ms
  let e = await events(p)
  while (!what(e) && Date.now() < end) { await sleep(100); e = await events(p) }
  return e
}

t.test('a rollout edited in a real Unleash is a flag_changed event from the Unleash source', async (t) => {
  const u = await unleashOrSkip(t, 'the Unleash source')
  if (u === undefined) return
  await putFeature(u, { name: FLAG, enabled: true, strategies: [rollout(30, FLAG)] })
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const p = await startProxy(t, `listen: { host: 127.0.0.1 }
backends:
  legacy: { url: "${legacy.url}" }
  django: { url: "${django.url}" }
flags:
  unleash: { url: "${u.url}", appName: spx-timeline, environment: development, refreshInterval: 500ms }
cohort: { userId: { header: x-user-id } }
routes:
  - { name: orders, match: { path: /api/orders/* }, backend: legacy, flag: { name: ${FLAG}, backend: django } }
`, { env: { UNLEASH_API_TOKEN: CLIENT_TOKEN }, flagsStartWaitMs: 10_000 })
  const id = await firstStrategyId(u, FLAG)
  await u.admin('PUT', `/projects/default/features/${FLAG}/environments/development/strategies/${id}`, { name: 'flexibleRollout', parameters: { rollout: '45', stickiness: 'default', groupId: FLAG }, constraints: [] })
  // This test's flag only: the server is shared, and the timeline records every flag's changes.
  const mine = (e: Array<{ kind: string, flag?: string }>): typeof e => e.filter((x) => x.kind === 'flag_changed' && x.flag === FLAG)
  const got = mine(await waitFor(p, (e) => mine(e).length > 0, 8000))
  t.equal(got.length, 1)
  t.match(got[0], { routes: ['orders'], flag: FLAG, cause: 'flag-source', before: { rollout: 30 }, after: { rollout: 45 }, summary: `flag ${FLAG} changed in Unleash: rollout 30 → 45 %` })
  await u.admin('POST', `/projects/default/features/${FLAG}/environments/development/off`)
  const off = mine(await waitFor(p, (e) => mine(e).length === 2, 8000))
  t.match(off[1], { before: { enabled: true }, after: { enabled: false }, summary: /: disabled$/ })
})
