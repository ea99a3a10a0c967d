/**
 * A flag server speaking Unleash's client API for another environment: the proxy is
 * pointed at it with that environment's backend (client) token, as it would be at
 * Unleash Edge serving production, and routes by that environment's strategies; the
 * usage it reports is counted there. Run against the real Unleash server.
 */
import t from 'tap'
import { request } from 'undici'
import { startUpstream } from '../helpers/backends.js'
import { startProxy, sleep } from '../helpers/proxy.js'
import { rollout, usersByBucket } from '../helpers/flags.js'
import { unleashOrSkip, CLIENT_TOKEN } from '../helpers/unleash-server.js'
import { untilMetricsAccepted, putFeature } from '../helpers/unleash-admin.js'

// Its own flag: the Unleash server is shared with the other system tests.
const FLAG = 'orders-on-django-env'
const USERS = usersByBucket(FLAG).slice(0, 40)

t.test('a production backend token routes by production\'s strategies, development\'s by development\'s', async (t) => {
  const u = await unleashOrSkip(t, 'another environment\'s token')
  if (u === undefined) return
  await putFeature(u, { name: FLAG, enabled: true, strategies: [rollout(0, FLAG)] }, 'development')
  await u.admin('POST', '/projects/default/environments', { environment: 'production' }).catch(() => {})
  await putFeature(u, { name: FLAG, enabled: true, strategies: [rollout(100, FLAG)] }, 'production')
  await untilMetricsAccepted(u, FLAG)
  const created = await u.admin('POST', '/api-tokens', { tokenName: 'spx-production', type: 'client', environment: 'production', projects: ['*'] }) as { secret: string }
  t.match(created.secret, /^\*:production\./, 'a backend token for production')

  const named = (name: string) => (_req: unknown, res: import('node:http').ServerResponse) => { res.writeHead(200, { 'x-backend': name }).end() }
  const legacy = await startUpstream(t, 'legacy', named('legacy'))
  const django = await startUpstream(t, 'django', named('django'))
  const proxyFor = async (environment: string, token: string): Promise<string> => (await startProxy(t, `listen: { host: 127.0.0.1 }
backends:
  legacy: { url: "${legacy.url}" }
  django: { url: "${django.url}" }
flags:
  unleash: { url: "${u.url}", appName: spx-env, environment: ${environment}, refreshInterval: 500ms, metrics: { interval: 1s } }
cohort: { userId: { header: x-user-id } }
routes:
  - { name: orders, match: { path: /api/orders/* }, backend: legacy, flag: { name: ${FLAG}, backend: django } }
  - { name: default, match: { path: /* }, backend: legacy }
`, { env: { UNLEASH_API_TOKEN: token }, flagsStartWaitMs: 10_000 })).url
  const seen = async (url: string): Promise<Record<string, number>> => {
    const out: Record<string, number> = {}
    for (const user of USERS) {
      const res = await request(`${url}/api/orders/1`, { headers: { 'x-user-id': user } })
      await res.body.dump()
      const b = String(res.headers['x-backend'])
      out[b] = (out[b] ?? 0) + 1
    }
    return out
  }
  t.same(await seen(await proxyFor('production', created.secret)), { django: 40 }, 'production\'s 100 %: every user on django')
  t.same(await seen(await proxyFor('development', CLIENT_TOKEN)), { legacy: 40 }, 'development\'s 0 %: every user on legacy')

  // Unleash counts the production proxy's decisions under production.
  let yes = 0
  for (const end = Date.now() + 15_000; yes < 40 && Date.now() < end; await sleep(500)) {
    const m = await u.admin('GET', `/client-metrics/features/${FLAG}/raw`).catch(() => undefined) as { data?: Array<{ environment: string, yes: number }> } | undefined
    yes = (m?.data ?? []).filter((d) => d.environment === 'production').reduce((a, d) => a + d.yes, 0)
  }
  t.equal(yes, 40, 'Unleash counts the 40 yes decisions under production')
})
