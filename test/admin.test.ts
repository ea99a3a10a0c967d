import t from 'tap'
import { request } from 'undici'
import { startUpstream, startProxy, yamlFor } from './helper.js'

const ROUTES = `  - { name: reports, match: { path: /reports/* }, backend: django, rewrite: { stripPrefix: /reports } }
  - { name: default, match: { path: /* }, backend: legacy }`

t.test('healthz, readyz and routes describe the live table', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const proxy = await startProxy(t, yamlFor({ legacy: legacy.url, django: django.url }, ROUTES))
  const health = await request(`${proxy.adminUrl}/healthz`)
  t.equal(health.statusCode, 200)
  t.same(await health.body.json(), { status: 'ok' })
  const ready = await request(`${proxy.adminUrl}/readyz`)
  t.equal(ready.statusCode, 200)
  t.match(await ready.body.json(), { status: 'ready', config: { version: proxy.runtime.snapshot.config.version } })
  const routes = await (await request(`${proxy.adminUrl}/routes`)).body.json() as Record<string, unknown>
  t.equal(routes.version, proxy.runtime.snapshot.config.version)
  t.match(routes.routes, [
    { order: 0, name: 'reports', backend: 'django', match: { path: '/reports/*' }, rewrite: { stripPrefix: '/reports' } },
    { order: 1, name: 'default', backend: 'legacy' }
  ])
  t.match(routes.backends, { django: { url: django.url, timeouts: { connect: 5000, headers: 30000, bodyIdle: 30000 } } })
})

t.test('explain shows route, backend and outgoing URL without forwarding', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const proxy = await startProxy(t, yamlFor({ legacy: legacy.url, django: django.url }, ROUTES))
  const viaGet = await (await request(`${proxy.adminUrl}/explain?method=GET&path=${encodeURIComponent('/reports/q1?x=1')}&header=host:shop.example`)).body.json()
  t.match(viaGet, {
    method: 'GET',
    route: 'reports',
    backend: 'django',
    reason: 'static',
    outgoing: { url: `${django.url}/q1?x=1`, host: 'shop.example' }
  })
  const viaPost = await request(`${proxy.adminUrl}/explain`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ method: 'POST', path: '/orders' }) })
  t.match(await viaPost.body.json(), { route: 'default', backend: 'legacy', outgoing: { url: `${legacy.url}/orders` } })
  const bad = await request(`${proxy.adminUrl}/explain?method=GET&path=${encodeURIComponent('/a/../b')}`)
  t.match(await bad.body.json(), { route: null, error: { code: 'SPX_BAD_PATH' } })
  const invalid = await request(`${proxy.adminUrl}/explain`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"headers": 3}' })
  t.equal(invalid.statusCode, 400)
  t.match(await invalid.body.json(), { code: 'SPX_ADMIN_BAD_REQUEST' })
  t.equal(legacy.seen.length + django.seen.length, 0, 'explain never forwards')
})

t.test('with a token, admin endpoints need it; probes do not', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const proxy = await startProxy(t, yamlFor({ legacy: legacy.url }, '  - { name: all, match: { path: /* }, backend: legacy }'), { adminToken: 's3cret' })
  const anon = await request(`${proxy.adminUrl}/routes`)
  t.equal(anon.statusCode, 401)
  t.equal(anon.headers['www-authenticate'], 'Bearer')
  t.match(await anon.body.json(), { code: 'SPX_ADMIN_UNAUTHORIZED' })
  const wrong = await request(`${proxy.adminUrl}/routes`, { headers: { authorization: 'Bearer nope' } })
  t.equal(wrong.statusCode, 401)
  await wrong.body.dump()
  const ok = await request(`${proxy.adminUrl}/routes`, { headers: { authorization: 'Bearer s3cret' } })
  t.equal(ok.statusCode, 200)
  await ok.body.dump()
  const probe = await request(`${proxy.adminUrl}/readyz`)
  t.equal(probe.statusCode, 200)
  await probe.body.dump()
})

t.test('admin endpoints are not reachable on the traffic port', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const proxy = await startProxy(t, yamlFor({ legacy: legacy.url }, '  - { name: api, match: { path: /api/* }, backend: legacy }'))
  for (const path of ['/routes', '/readyz', '/explain?path=/']) {
    const res = await request(`${proxy.url}${path}`)
    t.equal(res.statusCode, 404, `${path} on the traffic port`)
    t.match(await res.body.json(), { code: 'SPX_NO_ROUTE' })
  }
  t.equal(new URL(proxy.adminUrl).hostname, '127.0.0.1', 'admin binds to loopback by default')
})
