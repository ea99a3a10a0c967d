/** Header building in both directions, checked against literal expected lists. */
import t from 'tap'
import { upstreamRequestHeaders, clientResponseHeaders, withoutCookie, newRequestId, type ForwardContext } from '../../src/proxy/headers.js'
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

/** The names of the headers before the proxy's own (host onwards). */
function passed (list: string[], c: ForwardContext = ctx): string[] {
  const [raw, parsed] = req(list)
  const out = upstreamRequestHeaders(raw, parsed, c)
  return out.slice(0, out.indexOf('host')).filter((_, i) => i % 2 === 0)
}

t.test('every hop-by-hop and proxy-owned request header is dropped, one at a time', async (t) => {
  const dropped = ['Connection', 'Keep-Alive', 'Proxy-Connection', 'TE', 'Trailer', 'Transfer-Encoding', 'Upgrade', 'Expect', 'Host', 'HTTP2-Settings',
    'X-Forwarded-For', 'X-Forwarded-Proto', 'X-Forwarded-Host', 'Forwarded', 'X-Request-Id', 'Proxy-Authorization', 'X-Strangler-Route']
  for (const name of dropped) t.strictSame(passed([name, 'v', 'Accept', '*/*']), ['accept'], name)
})

t.test('client-address headers: dropped from anyone, kept from a trusted proxy', async (t) => {
  for (const name of ['X-Real-IP', 'True-Client-IP', 'X-Client-IP', 'X-Cluster-Client-IP']) {
    t.strictSame(passed([name, '6.6.6.6', 'Accept', '*/*'], { ...ctx, realIpHeader: undefined }), ['accept'], `${name} from a client`)
    t.strictSame(passed([name, '6.6.6.6', 'Accept', '*/*'], { ...ctx, realIpHeader: undefined, peerTrusted: true }), [name.toLowerCase(), 'accept'], `${name} from a trusted proxy`)
  }
  t.strictSame(passed(['X-Real-IP', '6.6.6.6'], { ...ctx, peerTrusted: true }), [], 'the real-IP header the proxy sets is never passed on, even from a trusted proxy')
})

t.test('Connection tokens: several lines, spaces and empty items', async (t) => {
  const [raw, parsed] = req(['Connection', ' , X-A ,, x-b', 'Connection', 'X-C', 'X-A', '1', 'X-B', '2', 'X-C', '3', 'X-D', '4'])
  const out = upstreamRequestHeaders(raw, { ...parsed, connection: [' , X-A ,, x-b', 'X-C'] as unknown as string }, ctx)
  t.strictSame(out.slice(0, 2), ['x-d', '4'])
  t.strictSame(clientResponseHeaders({ connection: ['x-a', ' X-B , '], 'x-a': '1', 'x-b': '2', 'x-c': undefined, 'x-d': '4' }), ['x-d', '4'], 'a missing value is skipped')
})

t.test('only the Cookie header loses the override cookie', async (t) => {
  const [raw, parsed] = req(['X-Note', 'spx_override=django.1.abc', 'Cookie', 'spx_override=django.1.abc'])
  const out = upstreamRequestHeaders(raw, parsed, ctx)
  t.strictSame(out.slice(0, out.indexOf('host')), ['x-note', 'spx_override=django.1.abc'], 'a Cookie with only the override is dropped whole')
  t.equal(withoutCookie(' a=1 ;; ; spx_override ; b=2 ', 'spx_override'), 'a=1; b=2', 'empty parts and a bare name are handled')
})

t.test('Forwarded host: a token as is, anything else quoted with escapes (RFC 7239)', async (t) => {
  const forwarded = (clientHost: string): string | undefined => {
    const out = upstreamRequestHeaders([], {}, { ...ctx, clientHost })
    return out[out.indexOf('forwarded') + 1]
  }
  t.equal(forwarded('shop.example'), 'for=192.0.2.10;proto=http;host=shop.example')
  t.equal(forwarded('shop.example:8080'), 'for=192.0.2.10;proto=http;host="shop.example:8080"')
  t.equal(forwarded('[::1]:8080'), 'for=192.0.2.10;proto=http;host="[::1]:8080"')
  t.equal(forwarded('a"b\\c'), 'for=192.0.2.10;proto=http;host="a\\"b\\\\c"')
})

t.test('request ids: a short visible-ASCII id is kept, anything else replaced by a UUID', async (t) => {
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
  t.equal(newRequestId('abc-123'), 'abc-123')
  t.equal(newRequestId('!'), '!')
  t.equal(newRequestId('x'.repeat(200)), 'x'.repeat(200))
  for (const bad of ['x'.repeat(201), '', 'a b', 'a\r\nb', 'caf\u00e9', 'tab\there']) t.match(newRequestId(bad), UUID, JSON.stringify(bad))
  t.match(newRequestId(['a', 'b']), UUID, 'two X-Request-Id headers')
  t.match(newRequestId(undefined), UUID)
  t.not(newRequestId(undefined), newRequestId(undefined))
})

t.test('every hop-by-hop response header is dropped, one at a time', async (t) => {
  for (const name of ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'http2-settings', 'proxy-authenticate']) {
    t.strictSame(clientResponseHeaders({ [name]: 'v', etag: '"1"' }), ['etag', '"1"'], name)
  }
})
