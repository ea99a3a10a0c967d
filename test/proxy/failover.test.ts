import t from 'tap'
import type { Test } from 'tap'
import { request } from 'undici'
import { startUpstream, closedPort } from '../helpers/backends.js'
import { startProxy, accessLines, sleep } from '../helpers/proxy.js'
import { flagsJson, rollout } from '../helpers/flags.js'

async function setup (t: Test, failover = '') {
  const legacy = await startUpstream(t, 'legacy')
  const down = await closedPort()
  const proxy = await startProxy(t, `listen: { host: 127.0.0.1 }
backends:
  legacy: { url: "${legacy.url}" }
  django: { url: "http://127.0.0.1:${down}" }
flags: { file: flags.json }
cohort: { userId: { header: x-user-id } }
routes:
  - { name: orders, match: { path: /api/orders/* }, backend: legacy, flag: { name: orders-on-django, backend: django } ${failover} }
  - { name: reports, match: { path: /reports/* }, backend: django }
`, { files: { 'flags.json': flagsJson([{ name: 'orders-on-django', enabled: true, strategies: [rollout(100)] }]) } })
  return { legacy, proxy }
}

t.test('a refused new backend: idempotent requests fail over to the baseline, counted', async (t) => {
  const { legacy, proxy } = await setup(t)
  for (const method of ['GET', 'HEAD', 'DELETE'] as const) {
    const res = await request(`${proxy.url}/api/orders/1`, { method, headers: { 'x-user-id': 'alice' } })
    t.equal(res.statusCode, 200, `${method} served`)
    await res.body.dump()
  }
  t.equal(legacy.seen.length, 3, 'the baseline served them')
  const post = await request(`${proxy.url}/api/orders`, { method: 'POST', body: '{"sku":"A"}', headers: { 'x-user-id': 'alice' } })
  t.equal(post.statusCode, 503, 'a POST is never failed over')
  t.match(await post.body.json(), { code: 'SPX_BACKEND_UNAVAILABLE' })
  const patch = await request(`${proxy.url}/api/orders/1`, { method: 'PATCH', body: '{}', headers: { 'x-user-id': 'alice' } })
  t.equal(patch.statusCode, 503, 'nor a PATCH')
  await patch.body.dump()
  const put = await request(`${proxy.url}/api/orders/1`, { method: 'PUT', body: '{"qty":2}', headers: { 'x-user-id': 'alice' } })
  t.equal(put.statusCode, 503, 'nor a request with a body')
  await put.body.dump()
  const report = await request(`${proxy.url}/reports/x`)
  t.equal(report.statusCode, 503, 'a static route has no baseline to fail over to')
  await report.body.dump()
  t.equal(legacy.seen.length, 3)
  await sleep(20)
  const lines = accessLines(proxy.logs)
  t.match(lines[0], { route: 'orders', backend: 'legacy', reason: 'failover', failoverFrom: 'django', status: 200 })
  const metrics = await (await request(`${proxy.adminUrl}/metrics`)).body.text()
  t.match(metrics, 'strangler_decisions_total{route="orders",backend="legacy",reason="failover"} 3')
  t.match(metrics, 'strangler_upstream_errors_total{route="orders",backend="django",kind="connect_refused"} 6', 'every failed attempt counts against django: 3 failed over, 3 answered 503')
})

t.test('failover: false leaves the 503', async (t) => {
  const { legacy, proxy } = await setup(t, ', failover: false')
  const res = await request(`${proxy.url}/api/orders/1`, { headers: { 'x-user-id': 'alice' } })
  t.equal(res.statusCode, 503)
  await res.body.dump()
  t.equal(legacy.seen.length, 0)
})
