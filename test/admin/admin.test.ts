import t from 'tap'
import { request } from 'undici'
import { startUpstream } from '../helpers/backends.js'
import { startProxy, yamlFor } from '../helpers/proxy.js'

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
  const proxy = await startProxy(t, yamlFor({ legacy: legacy.url }, '  - { name: all, match: { path: /* }, backend: legacy }'), { adminToken: 'an-admin-token-of-at-least-32-bytes' })
  const anon = await request(`${proxy.adminUrl}/routes`)
  t.equal(anon.statusCode, 401)
  t.equal(anon.headers['www-authenticate'], 'Bearer')
  t.match(await anon.body.json(), { code: 'SPX_ADMIN_UNAUTHORIZED' })
  const wrong = await request(`${proxy.adminUrl}/routes`, { headers: { authorization: 'Bearer nope' } })
  t.equal(wrong.statusCode, 401)
  await wrong.body.dump()
  const ok = await request(`${proxy.adminUrl}/routes`, { headers: { authorization: 'Bearer an-admin-token-of-at-least-32-bytes' } })
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

t.test('the admin port answers only to IP literals, localhost and admin.allowedHosts (DNS rebinding)', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const proxy = await startProxy(t, yamlFor({ legacy: legacy.url }, '  - { name: all, match: { path: /* }, backend: legacy }', 'admin: { allowedHosts: [admin.internal] }'))
  const as = async (host: string): Promise<number> => {
    const res = await request(`${proxy.adminUrl}/routes`, { headers: { host } })
    await res.body.dump()
    return res.statusCode
  }
  t.equal(await as('evil.example'), 403, 'a rebound name is refused')
  t.equal(await as('evil.example:8081'), 403, 'with a port too')
  const refused = await request(`${proxy.adminUrl}/metrics`, { headers: { host: 'attacker.test' } })
  t.match(await refused.body.json(), { code: 'SPX_ADMIN_FORBIDDEN', status: 403 })
  for (const host of ['127.0.0.1:8081', 'localhost', '[::1]:8081', '10.1.2.3:8081', 'admin.internal:8081', 'ADMIN.internal']) t.equal(await as(host), 200, host)

  // Bound to a name (this machine's, when it resolves to a local address): that name is answered too.
  const { hostname } = await import('node:os')
  const { lookup } = await import('node:dns/promises')
  const name = hostname().toLowerCase()
  const local = await lookup(name).then((a) => a.address.startsWith('127.') || a.address === '::1', () => false)
  if (!local || name === 'localhost') {
    t.pass('bound name', { skip: `${name} does not resolve to a loopback address here` })
    return
  }
  const named = await startProxy(t, yamlFor({ legacy: legacy.url }, '  - { name: all, match: { path: /* }, backend: legacy }', `admin: { host: ${name} }`))
  const port = new URL(named.adminUrl).port
  const res = await request(`http://127.0.0.1:${port}/routes`, { headers: { host: `${name}:${port}` } })
  t.equal(res.statusCode, 200, `the bound name ${name}`)
  await res.body.dump()
})

t.test('state-changing admin calls must be JSON and same-origin (no cross-site POST)', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const proxy = await startProxy(t, yamlFor({ legacy: legacy.url }, '  - { name: all, match: { path: /* }, backend: legacy }'))
  const host = new URL(proxy.adminUrl).host
  const post = async (headers: Record<string, string>, body = '{}'): Promise<{ status: number, code?: string }> => {
    const res = await request(`${proxy.adminUrl}/guard/reset`, { method: 'POST', headers, body })
    const json = await res.body.json() as { code?: string }
    return { status: res.statusCode, ...(json.code === undefined ? {} : { code: json.code }) }
  }
  t.same(await post({ 'content-type': 'text/plain' }), { status: 400, code: 'SPX_ADMIN_BAD_REQUEST' }, 'a form-style text/plain POST is refused')
  t.same(await post({ 'content-type': 'application/x-www-form-urlencoded' }, 'route=x'), { status: 400, code: 'SPX_ADMIN_BAD_REQUEST' })
  t.same(await post({ 'content-type': 'application/json', origin: 'https://evil.example' }), { status: 403, code: 'SPX_ADMIN_FORBIDDEN' }, 'another origin is refused')
  t.same(await post({ 'content-type': 'application/json', 'sec-fetch-site': 'cross-site' }), { status: 403, code: 'SPX_ADMIN_FORBIDDEN' })
  t.same(await post({ 'content-type': 'application/json' }), { status: 200 }, 'curl-style JSON works')
  t.same(await post({ 'content-type': 'application/json', origin: `http://${host}`, 'sec-fetch-site': 'same-origin' }), { status: 200 }, 'same origin works')
})

t.test('/readyz shows no URL, address or path even when the flag service fails', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const proxy = await startProxy(t, yamlFor({ legacy: legacy.url }, '  - { name: all, match: { path: /* }, backend: legacy }', 'flags: { unleash: { url: "http://127.0.0.1:1/api", refreshInterval: 1s, timeout: 1s } }'), { env: { UNLEASH_API_TOKEN: 'x' }, flagsStartWaitMs: 1500 })
  let text = ''
  for (let i = 0; i < 50 && !text.includes('lastError'); i++) {
    text = await (await request(`${proxy.adminUrl}/readyz`)).body.text()
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.match(text, /"lastError"/, 'the error is reported')
  t.notMatch(text, /127\.0\.0\.1|http:\/\/|\/tmp\//, `no URL, address or path: ${text}`)
})
