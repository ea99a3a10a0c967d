import t from 'tap'
import { request } from 'undici'
import { startUpstream } from '../helpers/backends.js'
import { startProxy, yamlFor, accessLines } from '../helpers/proxy.js'
import { rawRequest } from '../helpers/raw-http.js'

t.test('method, path and query reach the backend byte for byte', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const proxy = await startProxy(t, yamlFor({ legacy: legacy.url }, '  - { name: all, match: { path: /* }, backend: legacy }'))
  const target = '/a//b/%7Euser/caf%C3%A9;v=1/x%2Fy?q=a+b&q=%20c&empty=&flag#'
  const res = await rawRequest(proxy.url, `PATCH ${target.slice(0, -1)} HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`)
  t.equal(res.status, 200)
  t.equal(legacy.seen[0]?.method, 'PATCH')
  t.equal(legacy.seen[0]?.url, target.slice(0, -1))
})

t.test('the route picks the backend; rewrite and the backend URL path apply', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const proxy = await startProxy(t, yamlFor({ legacy: legacy.url, django: `${django.url}/app` }, `
  - { name: reports, match: { path: /reports/* }, backend: django, rewrite: { stripPrefix: /reports, addPrefix: /v2/reports } }
  - { name: default, match: { path: /* }, backend: legacy }`))
  const r1 = await request(`${proxy.url}/reports/2024/q1?format=csv`)
  t.equal(r1.statusCode, 200)
  t.match(await r1.body.json(), { backend: 'django', url: '/app/v2/reports/2024/q1?format=csv' })
  const r2 = await request(`${proxy.url}/orders/1`)
  t.match(await r2.body.json(), { backend: 'legacy', url: '/orders/1' })
  t.match(accessLines(proxy.logs).map((l) => [l.route, l.backend]), [['reports', 'django'], ['default', 'legacy']])
})

t.test('repeated Set-Cookie and other repeated headers are kept', async (t) => {
  const legacy = await startUpstream(t, 'legacy', (_req, res) => {
    res.setHeader('set-cookie', ['a=1; Path=/', 'b=2; HttpOnly', 'c=3'])
    res.setHeader('x-multi', ['one', 'two'])
    res.end('ok')
  })
  const proxy = await startProxy(t, yamlFor({ legacy: legacy.url }, '  - { name: all, match: { path: /* }, backend: legacy }'))
  const res = await rawRequest(proxy.url, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.same(res.head.split('\r\n').filter((l) => /^set-cookie:/i.test(l)), ['set-cookie: a=1; Path=/', 'set-cookie: b=2; HttpOnly', 'set-cookie: c=3'])
  t.same(res.head.split('\r\n').filter((l) => /^x-multi:/i.test(l)), ['x-multi: one', 'x-multi: two'])
})

t.test('request id: propagated when sane, generated otherwise, echoed to the client', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const proxy = await startProxy(t, yamlFor({ legacy: legacy.url }, '  - { name: all, match: { path: /* }, backend: legacy }'))
  const given = await request(`${proxy.url}/a`, { headers: { 'x-request-id': 'abc-123' } })
  await given.body.dump()
  t.equal(given.headers['x-request-id'], 'abc-123')
  t.equal(legacy.seen[0]?.headers['x-request-id'], 'abc-123')

  const generated = await request(`${proxy.url}/b`)
  await generated.body.dump()
  t.match(generated.headers['x-request-id'], /^[0-9a-f-]{36}$/)
  t.equal(legacy.seen[1]?.headers['x-request-id'], generated.headers['x-request-id'])

  const oversized = await request(`${proxy.url}/c`, { headers: { 'x-request-id': 'x'.repeat(500) } })
  await oversized.body.dump()
  t.match(oversized.headers['x-request-id'], /^[0-9a-f-]{36}$/, 'oversized id replaced')
  const spaced = await request(`${proxy.url}/d`, { headers: { 'x-request-id': 'a b\tc' } })
  await spaced.body.dump()
  t.match(spaced.headers['x-request-id'], /^[0-9a-f-]{36}$/, 'id with whitespace replaced')
  // A CR/LF in a header value is refused by the HTTP parser before any id is read.
  const injected = await rawRequest(proxy.url, 'GET /e HTTP/1.1\r\nHost: x\r\nX-Request-Id: a\rb\r\nConnection: close\r\n\r\n')
  t.equal(injected.status, 400)
  t.equal(legacy.seen.length, 4, 'the injected request never reached the backend')
  t.same(accessLines(proxy.logs).slice(0, 2).map((l) => l.reqId), ['abc-123', generated.headers['x-request-id']])
})

t.test('traceparent and tracestate pass through unchanged', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const proxy = await startProxy(t, yamlFor({ legacy: legacy.url }, '  - { name: all, match: { path: /* }, backend: legacy }'))
  const tp = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
  const res = await request(`${proxy.url}/`, { headers: { traceparent: tp, tracestate: 'congo=t61rcWkgMzE' } })
  await res.body.dump()
  t.equal(legacy.seen[0]?.headers.traceparent, tp)
  t.equal(legacy.seen[0]?.headers.tracestate, 'congo=t61rcWkgMzE')
})

t.test('Host is preserved by default and replaced with preserveHost: false', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const proxy = await startProxy(t, `listen: { host: 127.0.0.1 }
backends:
  legacy: { url: "${legacy.url}" }
  django: { url: "${django.url}", preserveHost: false }
routes:
  - { name: new, match: { path: /new/* }, backend: django }
  - { name: old, match: { path: /* }, backend: legacy }
`)
  await (await request(`${proxy.url}/x`, { headers: { host: 'shop.example' } })).body.dump()
  await (await request(`${proxy.url}/new/x`, { headers: { host: 'shop.example' } })).body.dump()
  t.equal(legacy.seen[0]?.headers.host, 'shop.example')
  t.equal(django.seen[0]?.headers.host, `127.0.0.1:${django.port}`)
  t.equal(django.seen[0]?.headers['x-forwarded-host'], 'shop.example')
})

t.test('no route → 404 problem; absolute-form and bad paths → 400, nothing forwarded', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const proxy = await startProxy(t, yamlFor({ legacy: legacy.url }, '  - { name: api, match: { path: /api/*, methods: [GET] }, backend: legacy }'))
  const none = await request(`${proxy.url}/other`)
  t.equal(none.statusCode, 404)
  t.equal(none.headers['content-type'], 'application/problem+json; charset=utf-8')
  const body = await none.body.json() as Record<string, unknown>
  t.same(body, {
    type: 'urn:strangler-proxy:error:SPX_NO_ROUTE',
    title: 'No route matches this request',
    status: 404,
    detail: 'no route matches GET on this host and path',
    code: 'SPX_NO_ROUTE',
    requestId: none.headers['x-request-id'] ?? body.requestId
  })
  const absolute = await rawRequest(proxy.url, 'GET http://evil.example/api/x HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n')
  t.equal(absolute.status, 400)
  t.match(JSON.parse(absolute.body), { code: 'SPX_BAD_REQUEST_TARGET' })
  const dots = await rawRequest(proxy.url, 'GET /api/%2e%2e/admin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.equal(dots.status, 400)
  t.match(JSON.parse(dots.body), { code: 'SPX_BAD_PATH', detail: 'dot segments are not allowed in paths' })
  const badEscape = await rawRequest(proxy.url, 'GET /api/%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.equal(badEscape.status, 400)
  t.match(JSON.parse(badEscape.body), { code: 'SPX_BAD_PATH' })
  const doubleSlash = await rawRequest(proxy.url, 'GET //evil.example/api/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.equal(doubleSlash.status, 404, '//host is a path, not an authority')
  t.equal(legacy.seen.length, 0)
})

t.test('HEAD, 204 and 304 keep their framing', async (t) => {
  const legacy = await startUpstream(t, 'legacy', (req, res) => {
    if (req.url === '/none') return void res.writeHead(204).end()
    if (req.url === '/same') return void res.writeHead(304, { etag: '"v1"' }).end()
    res.writeHead(200, { 'content-length': '11', 'content-type': 'text/plain' })
    res.end(req.method === 'HEAD' ? undefined : 'hello world')
  })
  const proxy = await startProxy(t, yamlFor({ legacy: legacy.url }, '  - { name: all, match: { path: /* }, backend: legacy }'))
  const head = await request(`${proxy.url}/doc`, { method: 'HEAD' })
  t.equal(head.statusCode, 200)
  t.equal(head.headers['content-length'], '11')
  t.equal(await head.body.text(), '')
  const none = await request(`${proxy.url}/none`)
  t.equal(none.statusCode, 204)
  t.equal(await none.body.text(), '')
  const same = await request(`${proxy.url}/same`, { headers: { 'if-none-match': '"v1"' } })
  t.equal(same.statusCode, 304)
  t.equal(same.headers.etag, '"v1"')
  await same.body.dump()
  const get = await request(`${proxy.url}/doc`)
  t.equal(await get.body.text(), 'hello world')
})

t.test('idle client connections close after client.keepAliveTimeout', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const proxy = await startProxy(t, yamlFor({ legacy: legacy.url }, '  - { name: all, match: { path: /* }, backend: legacy }', 'client: { keepAliveTimeout: 300ms }'))
  const res = await rawRequest(proxy.url, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', 5000)
  t.equal(res.status, 200)
  t.ok(res.elapsedMs >= 250 && res.elapsedMs < 2000, `server closed the idle connection after ${res.elapsedMs.toFixed(0)} ms`)
})
