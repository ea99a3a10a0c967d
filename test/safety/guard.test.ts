import t from 'tap'
import { request } from 'undici'
import { startUpstream } from '../helpers/backends.js'
import { startProxy, sleep, accessLines, type TestProxy } from '../helpers/proxy.js'
import { flagsJson, rollout } from '../helpers/flags.js'
import { guardYaml as yaml, send, untilOpen } from '../helpers/guard.js'

t.test('through the proxy: a failing new backend is rolled back, probed and released', async (t) => {
  const legacy = await startUpstream(t, 'legacy', (_req, res) => { res.writeHead(200, { 'x-backend': 'legacy' }).end() })
  let djangoBroken = true
  const django = await startUpstream(t, 'django', (_req, res) => { res.writeHead(djangoBroken ? 500 : 200, { 'x-backend': 'django' }).end() })
  const proxy = await startProxy(t, yaml(legacy.url, django.url, ''), { files: { 'flags.json': flagsJson([{ name: 'orders-on-django', enabled: true, strategies: [rollout(100)] }]) } })

  const before = await send(proxy, 10)
  t.same(before, { '500 django': 10 }, 'the flag sends everyone to the broken backend')
  t.ok(await untilOpen(proxy) >= 0, 'failing for a few seconds trips it')
  const after = await send(proxy, 10)
  t.same(after, { '200 legacy': 10 }, 'tripped: flagged traffic is on the baseline')
  const guard = (await (await request(`${proxy.adminUrl}/guard`)).body.json()) as { routes: Record<string, { state: string, trips: number, lastTrip: { cause: string, rule: string } }> }
  t.match(guard.routes.orders, { state: 'open', trips: 1, lastTrip: { cause: 'error_ratio' } })
  await sleep(20)
  t.match(accessLines(proxy.logs).at(-1), { route: 'orders', backend: 'legacy', reason: 'guard' })
  t.match(proxy.logs.find((l) => String(l.msg).startsWith('rollback guard tripped')), { level: 40, route: 'orders' })
  const metrics = await (await request(`${proxy.adminUrl}/metrics`)).body.text()
  t.match(metrics, 'strangler_guard_state{route="orders"} 1')
  t.match(metrics, 'strangler_guard_trips_total{route="orders"} 1')
  t.match(metrics, 'strangler_decisions_total{route="orders",backend="legacy",reason="guard"} 10')
  const explained = await (await request(`${proxy.adminUrl}/explain?path=/api/orders/1&header=x-user-id:u1`)).body.json()
  t.match(explained, { backend: 'legacy', reason: 'guard', guard: 'open', guardEvidence: { clients: 1, errors: { regressed: true, detail: /^5xx 100\.00 % vs 0\.00 % \(z \d+\.\d, needs 4 and \+0\.5 points\)$/ } } }, 'explain shows the evidence as the rule saw it')
  t.match(guard.routes.orders, { lastTrip: { rule: /^5xx (19\.\d\d|20\.00) % vs 0\.00 %/ } }, 'the trip names the test: one address counts for at most 20 % of the span')

  // Fixed, and the cool-down passes: probing sends some through, then releases.
  djangoBroken = false
  await sleep(1100)
  const probing = await send(proxy, 40)
  t.ok((probing['200 django'] ?? 0) >= 6, `probe traffic reached django: ${JSON.stringify(probing)}`)
  t.equal(probing['500 django'] ?? 0, 0)
  const released = await send(proxy, 10)
  t.same(released, { '200 django': 10 }, 'released: the flag decides again')
  t.match((await (await request(`${proxy.adminUrl}/guard`)).body.json()) as object, { routes: { orders: { state: 'closed', trips: 1 } } })
})

t.test('POST /guard/reset closes a tripped guard; guard: false turns it off', async (t) => {
  const legacy = await startUpstream(t, 'legacy', (_req, res) => { res.writeHead(200, { 'x-backend': 'legacy' }).end() })
  const django = await startUpstream(t, 'django', (_req, res) => { res.writeHead(503, { 'x-backend': 'django' }).end() })
  const flags = { files: { 'flags.json': flagsJson([{ name: 'orders-on-django', enabled: true, strategies: [rollout(100)] }]) } }
  const proxy = await startProxy(t, yaml(legacy.url, django.url, ', cooldown: 10m'), flags)
  await untilOpen(proxy)
  t.same(await send(proxy, 3), { '200 legacy': 3 })
  const reset = await request(`${proxy.adminUrl}/guard/reset`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"route":"orders"}' })
  t.match(await reset.body.json(), { reset: ['orders'], routes: { orders: { state: 'closed' } } })
  t.same(await send(proxy, 3), { '503 django': 3 }, 'back on the flag\'s choice after a reset')
  const bad = await request(`${proxy.adminUrl}/guard/reset`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"route":"default"}' })
  t.equal(bad.statusCode, 400)
  await bad.body.dump()

  const off = await startProxy(t, yaml(legacy.url, django.url, '').replace(/^guard: .*$/m, 'guard: false'), flags)
  t.same(await send(off, 25), { '503 django': 25 }, 'no guard: the flag keeps deciding')
})

t.test('one address with a hundred user ids cannot trip the guard; ten addresses can', async (t) => {
  const legacy = await startUpstream(t, 'legacy', (_req, res) => { res.writeHead(200, { 'x-backend': 'legacy' }).end() })
  const django = await startUpstream(t, 'django', (_req, res) => { res.writeHead(500, { 'x-backend': 'django' }).end() })
  const flags = { files: { 'flags.json': flagsJson([{ name: 'orders-on-django', enabled: true, strategies: [rollout(100)] }]) } }
  // Behind a trusted load balancer, so X-Forwarded-For stands for distinct clients.
  const config = yaml(legacy.url, django.url, ', minClients: 5, cooldown: 10m').replace('cohort:', 'client: { trustedProxies: [loopback] }\ncohort:')
  const from = async (proxy: TestProxy, ip: (i: number) => string, n: number): Promise<Record<string, number>> => {
    const by: Record<string, number> = {}
    for (let i = 0; i < n; i++) {
      const res = await request(`${proxy.url}/api/orders/${i}`, { headers: { 'x-user-id': `u${i}`, 'x-forwarded-for': ip(i) } })
      const key = `${res.statusCode} ${String(res.headers['x-backend'] ?? '')}`
      by[key] = (by[key] ?? 0) + 1
      await res.body.dump()
    }
    return by
  }
  const one = await startProxy(t, config, flags)
  t.same(await from(one, () => '203.0.113.7', 100), { '500 django': 100 }, 'one address, 100 user ids, all failing: still on the flag')
  t.match((await (await request(`${one.adminUrl}/guard`)).body.json()) as object, { routes: { orders: { state: 'closed', trips: 0 } } })

  const ten = await startProxy(t, config, flags)
  await untilOpen(ten, (i) => ({ 'x-user-id': `u${i}`, 'x-forwarded-for': `203.0.113.${i % 10}` }))
  t.same(await from(ten, (i) => `203.0.113.${i % 10}`, 10), { '200 legacy': 10 }, 'ten addresses failing trip it; then the baseline serves')
  t.match((await (await request(`${ten.adminUrl}/guard`)).body.json()) as object, { routes: { orders: { state: 'open', trips: 1, lastTrip: { cause: 'error_ratio', clients: 10, consecutive: 1 } } } })
})
