import t from 'tap'
import { request } from 'undici'
import { startUpstream, startProxy, closedPort, accessLines, sleep } from './helper.js'

t.test('one access line per request with route, backend, status and timings', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const down = await closedPort()
  const proxy = await startProxy(t, `listen: { host: 127.0.0.1 }
backends:
  legacy: { url: "${legacy.url}" }
  django: { url: "http://127.0.0.1:${down}" }
routes:
  - { name: reports, match: { path: /reports/* }, backend: django }
  - { name: default, match: { path: /* }, backend: legacy }
`)
  await (await request(`${proxy.url}/orders/1?page=2`, { headers: { 'x-request-id': 'r-1' } })).body.dump()
  await (await request(`${proxy.url}/reports/x`, { headers: { 'x-request-id': 'r-2' } })).body.dump()
  await (await request(`${proxy.url}/orders/%zz`, { headers: { 'x-request-id': 'r-3' } })).body.dump()
  await sleep(20)
  const lines = accessLines(proxy.logs)
  t.equal(lines.length, 3, 'exactly one line per request, no Fastify request lines')
  t.notOk(proxy.logs.some((l) => l.msg === 'incoming request' || l.msg === 'request completed'))
  t.match(lines[0], { level: 30, reqId: 'r-1', route: 'default', backend: 'legacy', method: 'GET', path: '/orders/1', status: 200, durationMs: Number, upstreamMs: Number })
  t.ok((lines[0]?.durationMs as number) >= (lines[0]?.upstreamMs as number))
  t.match(lines[1], { reqId: 'r-2', route: 'reports', backend: 'django', status: 503, upstreamError: 'connect_refused', code: 'SPX_BACKEND_UNAVAILABLE', upstreamMs: null })
  t.match(lines[2], { reqId: 'r-3', route: null, backend: null, status: 400 })
})

t.test('credentials and query strings never reach the log', async (t) => {
  const legacy = await startUpstream(t, 'legacy', (_req, res) => {
    res.setHeader('set-cookie', 'session=SECRET-SET-COOKIE; HttpOnly')
    res.end('ok')
  })
  const down = await closedPort()
  const proxy = await startProxy(t, `listen: { host: 127.0.0.1 }
backends:
  legacy: { url: "${legacy.url}" }
  gone: { url: "http://127.0.0.1:${down}" }
routes:
  - { name: gone, match: { path: /gone/* }, backend: gone }
  - { name: default, match: { path: /* }, backend: legacy }
`)
  const headers = { authorization: 'Bearer SECRET-AUTH', cookie: 'sid=SECRET-COOKIE', 'proxy-authorization': 'Basic SECRET-PROXY' }
  await (await request(`${proxy.url}/a?token=SECRET-QUERY`, { headers })).body.dump()
  await (await request(`${proxy.url}/gone/b?token=SECRET-QUERY`, { headers })).body.dump()
  await (await request(`${proxy.url}/c/%zz?token=SECRET-QUERY`, { headers })).body.dump()
  await sleep(20)
  const text = JSON.stringify(proxy.logs)
  t.ok(accessLines(proxy.logs).length === 3)
  t.notMatch(text, /SECRET/, 'no secret value in any log line')
})
