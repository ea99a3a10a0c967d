/**
 * Hostile input on a real socket: smuggling framings, injection, request-target and
 * Host tricks, traversal. Each is refused (or contained) with nothing unintended
 * reaching a backend, and no error leaks a stack, an address or a Server header.
 */
import t, { type Test } from 'tap'
import { startUpstream } from '../helpers/backends.js'
import { startProxy, yamlFor } from '../helpers/proxy.js'
import { rawRequest } from '../helpers/raw-http.js'

const ROUTES = `  - { name: api, match: { path: /api/*, host: shop.example }, backend: legacy, rewrite: { stripPrefix: /api } }
  - { name: default, match: { path: /*, host: shop.example }, backend: legacy }`

async function setup (t: Test) {
  const legacy = await startUpstream(t, 'legacy')
  const proxy = await startProxy(t, yamlFor({ legacy: legacy.url }, ROUTES))
  return { legacy, proxy }
}

const smuggling: Array<[string, string]> = [
  ['CL + TE', 'POST /api/x HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /api/admin HTTP/1.1\r\nHost: shop.example\r\n\r\n'],
  ['duplicate, different CL', 'POST /api/x HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 4\r\nContent-Length: 40\r\n\r\nabcd'],
  ['TE with a space before the colon', 'POST /api/x HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n'],
  ['TE not ending in chunked', 'POST /api/x HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n'],
  ['obfuscated TE value', 'POST /api/x HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n'],
  ['TE with a vertical tab', 'POST /api/x HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding:\x0bchunked\r\n\r\n0\r\n\r\n'],
  ['bad chunk size', 'POST /api/x HTTP/1.1\r\nHost: shop.example\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n'],
  ['NUL in a header value', 'GET /api/x HTTP/1.1\r\nHost: shop.example\r\nX-Test: a\x00b\r\n\r\n'],
  ['bare LF in a header value', 'GET /api/x HTTP/1.1\r\nHost: shop.example\r\nX-Test: a\nInjected: yes\r\n\r\n'],
  ['obs-fold continuation line', 'GET /api/x HTTP/1.1\r\nHost: shop.example\r\nX-Test: a\r\n injected\r\n\r\n'],
  ['CR in the request target', 'GET /api/x\rX HTTP/1.1\r\nHost: shop.example\r\n\r\n'],
  ['space in the request target', 'GET /api/x y HTTP/1.1\r\nHost: shop.example\r\n\r\n']
]

t.test('smuggling framings and injection → 400, nothing reaches the backend', async (t) => {
  const { legacy, proxy } = await setup(t)
  for (const [name, raw] of smuggling) {
    const res = await rawRequest(proxy.url, raw)
    t.equal(res.status, 400, name)
    t.match(JSON.parse(res.body), { code: 'SPX_BAD_REQUEST', status: 400 }, `${name}: problem body`)
    t.equal(res.headers.connection, 'close', `${name}: connection closed`)
  }
  t.same(legacy.seen.map((s) => `${s.method} ${s.url}`), [], 'the backend saw nothing')
})

t.test('request targets and Host tricks never leave the configured backends', async (t) => {
  const { legacy, proxy } = await setup(t)
  const absolute = await rawRequest(proxy.url, 'GET http://169.254.169.254/latest/meta-data HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n')
  t.equal(absolute.status, 400)
  const star = await rawRequest(proxy.url, 'OPTIONS * HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n')
  t.equal(star.status, 400)
  const authority = await rawRequest(proxy.url, 'CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\nConnection: close\r\n\r\n')
  t.equal(authority.status, 400, 'CONNECT is refused')
  const doubleSlash = await rawRequest(proxy.url, 'GET //evil.example/x HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n')
  t.equal(doubleSlash.status, 200, '//evil.example is a path on the configured backend')
  const userinfo = await rawRequest(proxy.url, 'GET /x HTTP/1.1\r\nHost: shop.example@evil.example\r\nConnection: close\r\n\r\n')
  t.equal(userinfo.status, 404, 'a Host that only looks like ours matches no host route')
  const twoHosts = await rawRequest(proxy.url, 'GET /x HTTP/1.1\r\nHost: shop.example\r\nHost: evil.example\r\nConnection: close\r\n\r\n')
  t.equal(twoHosts.status, 400, 'two Host headers are refused')
  t.same(legacy.seen.map((s) => s.url), ['//evil.example/x'], 'only the configured backend was contacted, with the path as sent')
})

t.test('traversal, encoded or not, is refused before any rewrite', async (t) => {
  const { legacy, proxy } = await setup(t)
  for (const path of ['/api/../admin', '/api/%2e%2e/admin', '/api/..%2fadmin', '/api/%2e%2e%5cadmin', '/api/.%2e/admin', '/api/x/..', '/api\\..\\admin', '/api/%c0%ae%c0%ae/admin',
    // Tomcat, Jetty and Spring drop ";params" from a segment, so these are ".." to them.
    '/api/..;/admin', '/api/..;jsessionid=x/admin', '/api/.;/admin', '/api/%2e%2e;x/admin', '/api/x/..;']) {
    const res = await rawRequest(proxy.url, `GET ${path} HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n`)
    t.equal(res.status, 400, path)
    t.match(JSON.parse(res.body).code, 'SPX_BAD_PATH', path)
  }
  const fine = await rawRequest(proxy.url, 'GET /api/.well-known/a%2Fb...c HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n')
  t.equal(fine.status, 200, 'dots inside names are fine')
  const params = await rawRequest(proxy.url, 'GET /api/orders;jsessionid=1/x..;y HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n')
  t.equal(params.status, 200, 'path parameters on ordinary segments are fine')
  t.same(legacy.seen.map((s) => s.url), ['/.well-known/a%2Fb...c', '/orders;jsessionid=1/x..;y'], 'forwarded byte-exact after the rewrite')
})

t.test('error responses leak no stack, address, Server or X-Powered-By', async (t) => {
  const { proxy } = await setup(t)
  const cases = [
    'GET /nowhere HTTP/1.1\r\nHost: other.example\r\nConnection: close\r\n\r\n',
    'GET /api/%zz HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n',
    `GET /api/x HTTP/1.1\r\nHost: shop.example\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    'BREW /api/x HTTP/1.1\r\nHost: shop.example\r\n\r\n'
  ]
  for (const raw of cases) {
    const res = await rawRequest(proxy.url, raw)
    t.ok(res.status >= 400, `${res.status}`)
    t.notOk('server' in res.headers, 'no Server header')
    t.notOk('x-powered-by' in res.headers, 'no X-Powered-By')
    t.notMatch(res.body, /at .+:\d+:\d+|node:internal|127\.0\.0\.1|\/work\/|\/tmp\//, 'no stack, path or address')
    t.match(res.headers['content-type'], /^application\/problem\+json/)
  }
})

t.test('too many header lines or bytes → 431; a cut header list is never forwarded', async (t) => {
  const { legacy, proxy } = await setup(t)
  const head = (n: number, value = 'b'): string => {
    let h = 'GET /api/x HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n'
    for (let i = 0; i < n; i++) h += `x-h${i}: ${value}\r\n`
    return h + 'x-user-id: u1\r\nAuthorization: Bearer t\r\n\r\n'
  }
  for (const [name, raw] of [
    ['1,000 small headers (13 KB, under the byte limit)', head(1000)],
    ['2,000 small headers (23 KB)', head(2000)],
    ['201 header lines (the default maxHeaderCount is 200)', head(197)]
  ] as const) {
    const res = await rawRequest(proxy.url, raw)
    t.equal(res.status, 431, name)
    t.match(JSON.parse(res.body), { code: 'SPX_HEADERS_TOO_LARGE', status: 431 }, `${name}: problem body`)
  }
  const bytes = await rawRequest(proxy.url, head(100, 'v'.repeat(170)))
  t.equal(bytes.status, 431, '100 headers of 180 bytes: over the 16 KiB byte limit')
  t.same(legacy.seen, [], 'nothing reached the backend')

  const ok = await rawRequest(proxy.url, head(196))
  t.equal(ok.status, 200, '200 header lines pass')
  t.equal(legacy.seen[0]?.headers['x-user-id'], 'u1', 'with the last ones intact')
  t.equal(legacy.seen[0]?.headers.authorization, 'Bearer t')
})

t.test('client-address headers: dropped from untrusted peers, X-Real-IP set to the client address', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const forged = 'X-Real-IP: 6.6.6.6\r\nTrue-Client-IP: 6.6.6.6\r\nX-Client-IP: 6.6.6.6\r\nX-Cluster-Client-IP: 6.6.6.6\r\nX-Forwarded-For: 6.6.6.6\r\n'
  const send = (url: string): Promise<unknown> => rawRequest(url, `GET /api/x HTTP/1.1\r\nHost: shop.example\r\n${forged}Connection: close\r\n\r\n`)
  const untrusted = await startProxy(t, yamlFor({ legacy: legacy.url }, ROUTES))
  await send(untrusted.url)
  const seen = legacy.seen[0]?.headers ?? {}
  t.equal(seen['x-real-ip'], '127.0.0.1', 'X-Real-IP is the peer')
  t.same(legacy.seen[0]?.rawHeaders.filter((h) => h.toLowerCase() === 'x-real-ip'), ['x-real-ip'], 'exactly once')
  for (const h of ['true-client-ip', 'x-client-ip', 'x-cluster-client-ip']) t.notOk(h in seen, `${h} from an untrusted peer is dropped`)
  t.equal(seen['x-forwarded-for'], '127.0.0.1')

  const trusting = await startProxy(t, yamlFor({ legacy: legacy.url }, ROUTES, 'client: { trustedProxies: [127.0.0.1] }'))
  await send(trusting.url)
  const behind = legacy.seen[1]?.headers ?? {}
  t.equal(behind['x-real-ip'], '6.6.6.6', 'behind a trusted proxy: the client address routing sees')
  t.equal(behind['true-client-ip'], '6.6.6.6', 'a trusted proxy\'s True-Client-IP is kept')

  const off = await startProxy(t, yamlFor({ legacy: legacy.url }, ROUTES, 'client: { realIpHeader: false }'))
  await send(off.url)
  t.notOk('x-real-ip' in (legacy.seen[2]?.headers ?? {}), 'realIpHeader: false sets none (and the client\'s is still dropped)')
})
