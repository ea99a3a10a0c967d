/** The rollback guard with a real Unleash: a confirmed trip switches the flag off there, for every replica. */
import t from 'tap'
import { request } from 'undici'
import { startUpstream } from '../helpers/backends.js'
import { startProxy, sleep } from '../helpers/proxy.js'
import { rollout } from '../helpers/flags.js'
import { guardYaml as yaml, send, untilOpen } from '../helpers/guard.js'
import { unleashOrSkip, CLIENT_TOKEN, ADMIN_TOKEN } from '../helpers/unleash-server.js'
import { putFeature } from '../helpers/unleash-admin.js'

// Its own flag: the Unleash server is shared with the other system tests.
const FLAG = 'orders-on-django-guard'

t.test('with disableFlag, a trip switches the flag off in a real Unleash', async (t) => {
  const u = await unleashOrSkip(t, 'disableFlag')
  if (u === undefined) return
  await putFeature(u, { name: FLAG, enabled: true, strategies: [rollout(100, FLAG)] })
  const legacy = await startUpstream(t, 'legacy', (_req, res) => { res.writeHead(200, { 'x-backend': 'legacy' }).end() })
  const django = await startUpstream(t, 'django', (_req, res) => { res.writeHead(500, { 'x-backend': 'django' }).end() })
  const proxy = await startProxy(t, yaml(legacy.url, django.url, ', disableFlag: true',
    `flags: { unleash: { url: "${u.url}", environment: development, refreshInterval: 500ms } }`).replace('name: orders-on-django,', `name: ${FLAG},`), {
    env: { UNLEASH_API_TOKEN: CLIENT_TOKEN, UNLEASH_ADMIN_TOKEN: ADMIN_TOKEN },
    flagsStartWaitMs: 10_000
  })
  t.same(await send(proxy, 10), { '500 django': 10 })
  await untilOpen(proxy)
  await sleep(300)
  let feature = await u.admin('GET', `/projects/default/features/${FLAG}`) as { environments: Array<{ name: string, enabled: boolean }> }
  t.equal(feature.environments.find((e) => e.name === 'development')?.enabled, true, 'one trip alone leaves the flag on in Unleash')
  t.match(proxy.logs.find((l) => String(l.msg).includes('will be switched off in Unleash if the probe')), { route: 'orders', flag: FLAG })
  // The cool-down passes and the probe fails too: the trip holds.
  await sleep(1100)
  await send(proxy, 20)
  for (let i = 0; i < 100 && !proxy.logs.some((l) => String(l.msg).includes(`switched flag ${FLAG} off`)); i++) await sleep(50)
  feature = await u.admin('GET', `/projects/default/features/${FLAG}`) as { environments: Array<{ name: string, enabled: boolean }> }
  t.equal(feature.environments.find((e) => e.name === 'development')?.enabled, false, 'the flag is off in Unleash for every replica')
  // Once the proxy fetches the change, the flag itself says off, guard or not.
  for (let i = 0; i < 100; i++) {
    const res = await request(`${proxy.adminUrl}/explain?path=/api/orders/1&header=x-user-id:u1`)
    if (((await res.body.json()) as { reason: string }).reason === 'flag_off') break
    await sleep(100)
  }
  t.match(await (await request(`${proxy.adminUrl}/explain?path=/api/orders/1&header=x-user-id:u1`)).body.json(), { reason: 'flag_off', backend: 'legacy' })
})
