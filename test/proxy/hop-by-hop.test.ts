import t from 'tap'
import net from 'node:net'
import { request } from 'undici'
import { startUpstream } from '../helpers/backends.js'
import { startProxy, yamlFor } from '../helpers/proxy.js'
import { rawRequest, parseRaw } from '../helpers/raw-http.js'

const ROUTE = '  - { name: all, match: { path: /* }, backend: legacy }'

t.test('hop-by-hop request headers are removed, end-to-end ones kept in order', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const proxy = await startProxy(t, yamlFor({ legacy: legacy.url }, ROUTE))
  const res = await rawRequest(proxy.url, [
    'GET /x HTTP/1.1', 'Host: shop.example',
    'Connection: close, X-Secret-Hop, X-Forwarded-For, X-Request-Id',
    'Keep-Alive: timeout=5, max=100', 'TE: trailers', 'Trailer: x-checksum', 'Upgrade: foo/2',
    'Proxy-Authorization: Basic Zm9vOmJhcg==', 'Proxy-Connection: keep-alive', 'X-Secret-Hop: drop me',
    'X-Strangler-Backend: django',
    'Accept: text/html', 'X-Custom: one', 'X-Custom: two', '', ''
  ].join('\r\n'))
  t.equal(res.status, 200, 'Keep-Alive, TE and an unlisted Upgrade do not break the request')
  const seen = legacy.seen[0]
  const names = (seen?.rawHeaders ?? []).filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase())
  for (const hop of ['keep-alive', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-connection', 'x-secret-hop', 'x-strangler-backend']) {
    t.notOk(names.includes(hop), `${hop} removed`)
  }
  t.notOk(seen?.headers.connection?.toLowerCase().includes('x-secret-hop'), 'client Connection tokens not forwarded')
  t.same(seen?.rawHeaders.filter((_, i, a) => i % 2 === 1 && a[i - 1] === 'x-custom'), ['one', 'two'])
  t.equal(seen?.headers.accept, 'text/html')
  t.equal(seen?.headers['x-forwarded-for'], '127.0.0.1', 'Connection cannot strip proxy-added X-Forwarded-For')
  t.match(seen?.headers['x-request-id'], /^[0-9a-f-]{36}$/, 'Connection cannot strip the request id')
})

t.test('hop-by-hop response headers are removed', async (t) => {
  const legacy = await startUpstream(t, 'legacy', (_req, res) => {
    res.writeHead(200, {
      Connection: 'keep-alive, X-Internal-Hop',
      'Keep-Alive': 'timeout=99',
      Upgrade: 'h2c',
      'Proxy-Authenticate': 'Basic',
      'X-Internal-Hop': 'secret',
      'X-End-To-End': 'kept',
      'Content-Length': '2'
    })
    res.end('ok')
  })
  const proxy = await startProxy(t, yamlFor({ legacy: legacy.url }, ROUTE))
  const res = await rawRequest(proxy.url, 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.equal(res.status, 200)
  t.equal(res.body, 'ok')
  t.equal(res.headers['x-end-to-end'], 'kept')
  t.equal(res.headers['content-length'], '2')
  for (const hop of ['keep-alive', 'upgrade', 'proxy-authenticate', 'x-internal-hop']) t.notOk(hop in res.headers, `${hop} removed`)
  t.equal(res.headers.connection, 'close', 'Connection is the proxy\'s own')
})

t.test('Expect: 100-continue gets a 100 and the body reaches the backend', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const proxy = await startProxy(t, yamlFor({ legacy: legacy.url }, ROUTE))
  const { port } = new URL(proxy.url)
  const socket = net.connect(Number(port), '127.0.0.1')
  socket.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n')
  let text = ''
  let sent = false
  socket.on('data', (c: Buffer) => {
    text += c.toString()
    if (text.startsWith('HTTP/1.1 100 Continue\r\n\r\n') && !sent) { sent = true; socket.write('hello') }
  })
  await new Promise((resolve) => socket.on('close', resolve))
  t.match(text, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /)
  const final = parseRaw(text.slice(text.indexOf('HTTP/1.1 200')))
  t.match(JSON.parse(final.body), { method: 'POST', bodyBytes: 5 })
  t.notOk(legacy.seen[0]?.headers.expect, 'Expect is not forwarded')
})

t.test('X-Forwarded-* and Forwarded come from the socket peer; client values are dropped', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const proxy = await startProxy(t, yamlFor({ legacy: legacy.url }, ROUTE))
  const res = await request(`${proxy.url}/`, {
    headers: { host: 'shop.example', 'x-forwarded-for': '6.6.6.6', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example', forwarded: 'for=6.6.6.6' }
  })
  await res.body.dump()
  const h = legacy.seen[0]?.headers
  t.equal(h?.['x-forwarded-for'], '127.0.0.1')
  t.equal(h?.['x-forwarded-proto'], 'http')
  t.equal(h?.['x-forwarded-host'], 'shop.example')
  t.equal(h?.forwarded, 'for=127.0.0.1;proto=http;host=shop.example')
})

t.test('client X-Forwarded-* is kept and extended when the peer is a trusted proxy', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const proxy = await startProxy(t, yamlFor({ legacy: legacy.url }, ROUTE, 'client: { trustedProxies: [127.0.0.0/8] }'))
  const res = await request(`${proxy.url}/`, {
    headers: { host: 'shop.example', 'x-forwarded-for': '203.0.113.9', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'www.shop.example', forwarded: 'for=203.0.113.9;proto=https' }
  })
  await res.body.dump()
  const h = legacy.seen[0]?.headers
  t.equal(h?.['x-forwarded-for'], '203.0.113.9, 127.0.0.1')
  t.equal(h?.['x-forwarded-proto'], 'https')
  t.equal(h?.['x-forwarded-host'], 'www.shop.example')
  t.equal(h?.forwarded, 'for=203.0.113.9;proto=https, for=127.0.0.1;proto=http;host=shop.example')
})

t.test('the status page\'s session cookie never reaches a backend; the client\'s own cookies do', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const proxy = await startProxy(t, yamlFor({ legacy: legacy.url }, ROUTE))
  // What a browser signed in to the admin port on the same host sends to the traffic port.
  const res = await request(`${proxy.url}/account`, { headers: { cookie: 'uid=u1; spx_admin_session=0123456789abcdef; theme=dark' } })
  await res.body.dump()
  t.equal(legacy.seen[0]?.headers.cookie, 'uid=u1; theme=dark')
  const only = await request(`${proxy.url}/account`, { headers: { cookie: 'spx_admin_session=0123456789abcdef' } })
  await only.body.dump()
  t.equal(legacy.seen[1]?.headers.cookie, undefined, 'no Cookie header at all when it was the only one')
})
