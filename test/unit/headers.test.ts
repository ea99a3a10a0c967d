/** Header building in both directions, checked against literal expected lists. */
import t from 'tap'
import { upstreamRequestHeaders, clientResponseHeaders, withoutCookie, type ForwardContext } from '../../src/proxy/headers.js'
import { requestHeadProblem } from '../../src/routing/request-head.js'

const ctx: ForwardContext = {
  requestId: 'req-1',
  peer: '192.0.2.10',
  peerTrusted: false,
  clientAddress: '192.0.2.10',
  realIpHeader: 'x-real-ip',
  override: { header: 'x-strangler-override', cookie: 'spx_override' },
  proto: 'http',
  clientHost: 'shop.example',
  upstreamHost: 'django.internal:8001'
}

/** rawHeaders as Node gives them, and the parsed object, from one list. */
function req (list: string[]): [string[], Record<string, string>] {
  const parsed: Record<string, string> = {}
  for (let i = 0; i < list.length; i += 2) {
    const name = (list[i] as string).toLowerCase()
    parsed[name] = parsed[name] === undefined ? list[i + 1] as string : `${parsed[name]}, ${list[i + 1] as string}`
  }
  return [list, parsed]
}

t.test('end-to-end headers kept in order; hop-by-hop, proxy-owned and forged ones dropped; the proxy\'s added', async (t) => {
  const [raw, parsed] = req([
    'Host', 'shop.example', 'Accept', 'text/html', 'Connection', 'keep-alive, X-Secret', 'X-Secret', 'gone',
    'Keep-Alive', 'timeout=5', 'TE', 'trailers', 'Transfer-Encoding', 'chunked', 'Upgrade', 'h2c', 'Proxy-Authorization', 'Basic x',
    'X-Forwarded-For', '6.6.6.6', 'Forwarded', 'for=6.6.6.6', 'X-Real-IP', '6.6.6.6', 'True-Client-IP', '6.6.6.6',
    'X-Strangler-Override', 'django.1.abc', 'X-Strangler-Anything', '1', 'X-Request-Id', 'client-id',
    'Cookie', 'a=1; spx_override=django.1.abc; b=2', 'Set-Foo', 'one', 'set-foo', 'two'
  ])
  t.same(upstreamRequestHeaders(raw, parsed, ctx), [
    'accept', 'text/html',
    'cookie', 'a=1; b=2',
    'set-foo', 'one', 'set-foo', 'two',
    'host', 'django.internal:8001',
    'x-forwarded-for', '192.0.2.10',
    'x-forwarded-proto', 'http',
    'forwarded', 'for=192.0.2.10;proto=http;host=shop.example',
    'x-request-id', 'req-1',
    'x-forwarded-host', 'shop.example',
    'x-real-ip', '192.0.2.10'
  ])
})

t.test('from a trusted proxy: its X-Forwarded-* and client-address headers are kept and appended to', async (t) => {
  const [raw, parsed] = req(['X-Forwarded-For', '203.0.113.7', 'Forwarded', 'for=203.0.113.7', 'X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'www.example', 'True-Client-IP', '203.0.113.7', 'X-Real-IP', '10.0.0.1'])
  t.same(upstreamRequestHeaders(raw, parsed, { ...ctx, peerTrusted: true, clientAddress: '203.0.113.7' }), [
    'true-client-ip', '203.0.113.7',
    'host', 'django.internal:8001',
    'x-forwarded-for', '203.0.113.7, 192.0.2.10',
    'x-forwarded-proto', 'https',
    'forwarded', 'for=203.0.113.7, for=192.0.2.10;proto=http;host=shop.example',
    'x-request-id', 'req-1',
    'x-forwarded-host', 'www.example',
    'x-real-ip', '203.0.113.7'
  ])
})

t.test('IPv6 peers are quoted and bracketed in Forwarded; a custom override header is dropped; no X-Real-IP when off', async (t) => {
  const [raw, parsed] = req(['X-Test-As', 'django.1.abc', 'Cookie', 'test_as=django.1.abc'])
  t.same(upstreamRequestHeaders(raw, parsed, { ...ctx, peer: '2001:db8::1', clientAddress: '2001:db8::1', realIpHeader: undefined, override: { header: 'x-test-as', cookie: 'test_as' }, clientHost: undefined }), [
    'host', 'django.internal:8001',
    'x-forwarded-for', '2001:db8::1',
    'x-forwarded-proto', 'http',
    'forwarded', 'for="[2001:db8::1]";proto=http',
    'x-request-id', 'req-1'
  ])
})

t.test('backend response headers: hop-by-hop and the ones Connection names dropped, repeats kept', async (t) => {
  t.same(clientResponseHeaders({ 'content-type': 'text/plain', connection: 'close, x-internal', 'x-internal': 'a', 'keep-alive': 'timeout=5', 'transfer-encoding': 'chunked', 'proxy-authenticate': 'x', 'set-cookie': ['a=1', 'b=2'], upgrade: 'h2c' }), [
    'content-type', 'text/plain', 'set-cookie', 'a=1', 'set-cookie', 'b=2'
  ])
})

t.test('request head limits say what was wrong', async (t) => {
  t.match(requestHeadProblem(['Host', 'a', 'HOST', 'b'], 200, 16384), { code: 'SPX_BAD_REQUEST', status: 400, detail: 'more than one Host header' })
  t.match(requestHeadProblem(Array.from({ length: 6 }, (_, i) => i % 2 === 0 ? `x-${i}` : 'v'), 2, 16384), { code: 'SPX_HEADERS_TOO_LARGE', status: 431, detail: 'more than 2 request header lines' })
  t.match(requestHeadProblem(['x-a', 'v'.repeat(200)], 200, 100), { code: 'SPX_HEADERS_TOO_LARGE', status: 431, detail: 'request headers exceed 100 bytes' })
  t.equal(requestHeadProblem(['Host', 'a', 'x-hosts', 'b', 'hos', 'c'], 200, 16384), undefined, 'names that only resemble Host')
})

t.test('request head limits: duplicate Host, line count and bytes', async (t) => {
  t.equal(requestHeadProblem(['Host', 'a', 'host', 'b'], 200, 16384)?.code, 'SPX_BAD_REQUEST')
  t.equal(requestHeadProblem(Array.from({ length: 402 }, (_, i) => i % 2 === 0 ? `x-${i}` : 'v'), 200, 16384)?.code, 'SPX_HEADERS_TOO_LARGE', '201 lines')
  t.equal(requestHeadProblem(Array.from({ length: 400 }, (_, i) => i % 2 === 0 ? `x-${i}` : 'v'), 200, 16384), undefined, '200 lines')
  t.equal(requestHeadProblem(['x-a', 'v'.repeat(100)], 200, 107), undefined, 'exactly the byte limit: name + ": " + value + CRLF')
  t.equal(requestHeadProblem(['x-a', 'v'.repeat(101)], 200, 107)?.code, 'SPX_HEADERS_TOO_LARGE', 'one byte over')
})

t.test('withoutCookie removes every occurrence of the named cookie only', async (t) => {
  t.equal(withoutCookie('a=1; spx_override=x; b=2; spx_override=y', 'spx_override'), 'a=1; b=2')
  t.equal(withoutCookie('spx_override=x', 'spx_override'), '')
  t.equal(withoutCookie('my_spx_override=1; spx_override_2=2', 'spx_override'), 'my_spx_override=1; spx_override_2=2', 'names that merely contain it stay')
})
