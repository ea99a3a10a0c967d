/**
 * Route patterns on their own: what a path or host pattern may be, what it matches,
 * how a request path is normalised for matching, and which of two routes is the more
 * specific. Expected values are written out; nothing is derived from the code under test.
 */
import t from 'tap'
import { parsePathPattern, parseHostPattern, matchPath, matchHost, routingSegments } from '../../src/config/patterns.js'
import { buildRouteTable, hostWithoutPort } from '../../src/routing/table.js'
import { parseConfig } from '../../src/config/config.js'

t.test('path patterns: what is refused, and why', async (t) => {
  const errors: Array<[string, string]> = [
    ['api/*', 'must start with "/"'],
    ['/api?x=1', 'must not contain "?" or "#"; match the path only'],
    ['/api#top', 'must not contain "?" or "#"; match the path only'],
    ['/api*', '"*" is only allowed as the whole last segment, as in /api/*'],
    ['/*/orders', '"*" is only allowed as the whole last segment, as in /api/*'],
    ['/orders/:1st', '":1st" is not a valid parameter segment'],
    ['/orders/:order-id', '":order-id" is not a valid parameter segment'],
    ['/orders/:', '":" is not a valid parameter segment'],
    ['/orders/:id:x', '":id:x" is not a valid parameter segment'],
    ['/a/./b', 'must not contain "." or ".." segments'],
    ['/a/../b', 'must not contain "." or ".." segments'],
    ['/..', 'must not contain "." or ".." segments']
  ]
  for (const [path, error] of errors) t.strictSame(parsePathPattern(path), { error }, path)
  t.strictSame(parsePathPattern('/'), { pattern: { segments: [''], wildcard: false } })
  t.strictSame(parsePathPattern('/orders/:_id2/items/*'), { pattern: { segments: ['orders', null, 'items'], wildcard: true } })
  t.strictSame(parsePathPattern('/a/.../b.c/x:y'), { pattern: { segments: ['a', '...', 'b.c', 'x:y'], wildcard: false } }, 'dots inside a name and a colon inside are literals')
})

t.test('path matching: the root, parameters and the wildcard', async (t) => {
  const m = (pattern: string, path: string): boolean => matchPath(parsePathPattern(pattern).pattern ?? assertNever(pattern), routingSegments(path).segs ?? [])
  t.ok(m('/', '/'))
  t.notOk(m('/', '/x'), 'the root pattern matches the root only')
  t.ok(m('/api/*', '/api'))
  t.ok(m('/api/*', '/api/'))
  t.ok(m('/api/*', '/api/a/b'))
  t.notOk(m('/api/*', '/'), 'fewer segments than the literal prefix')
  t.notOk(m('/api/*', '/apix'))
  t.ok(m('/a/:id', '/a/1'))
  t.notOk(m('/a/:id', '/a/'), 'an empty segment is no value for a parameter')
  t.notOk(m('/a/:id', '/a/1/2'))
  t.notOk(m('/a/:id', '/a'))
})

function assertNever (what: string): never { throw new Error(`no pattern: ${what}`) }

t.test('host patterns: names, IP literals and "*." suffixes only', async (t) => {
  const bad = ['-shop.example', 'shop-.example', 'shop..example', 'shop.example:8080', 'http://shop.example', '[::1]:80', 'x[::1]', '[::1]x', '[]', '[g::1]', 'shop_example.com', '*shop.example', 'shop.*.example']
  for (const host of bad) t.strictSame(parseHostPattern(host), { error: `"${host}" is not a host name or "*.domain" pattern (no port, no scheme)` }, host)
  t.strictSame(parseHostPattern('Shop.Example'), { pattern: { value: 'shop.example', wildcard: false } })
  t.strictSame(parseHostPattern('*.Shop.Example'), { pattern: { value: '.shop.example', wildcard: true } })
  t.strictSame(parseHostPattern('[FE80::1]'), { pattern: { value: '[fe80::1]', wildcard: false } })
  t.strictSame(parseHostPattern('[::ffff:10.0.0.1]'), { pattern: { value: '[::ffff:10.0.0.1]', wildcard: false } })
  t.strictSame(parseHostPattern('localhost'), { pattern: { value: 'localhost', wildcard: false } })
  const wild = parseHostPattern('*.shop.example').pattern ?? assertNever('*.shop.example')
  t.ok(matchHost(wild, 'a.shop.example'))
  t.notOk(matchHost(wild, 'shop.example'), 'the bare domain is not a subdomain')
  t.notOk(matchHost(wild, '.shop.example'))
  t.notOk(matchHost(wild, 'evilshop.example'))
})

t.test('the Host header without its port, lower-cased, IPv6 literals kept whole', async (t) => {
  t.equal(hostWithoutPort('Shop.Example:8080'), 'shop.example')
  t.equal(hostWithoutPort('shop.example'), 'shop.example')
  t.equal(hostWithoutPort('[FE80::1]:8443'), '[fe80::1]')
  t.equal(hostWithoutPort('[::1]'), '[::1]')
})

t.test('request paths as routes see them', async (t) => {
  const segs: Array<[string, string[]]> = [
    ['/%6Frders/%7E%2d', ['orders', '~-']],
    ['/a%2fb', ['a%2Fb']],
    ['/a%2Fb/%3a', ['a%2Fb', '%3A']],
    ['/caf%C3%A9', ['caf%C3%A9']],
    ['/a/..b/c..', ['a', '..b', 'c..']],
    ['/a/.well-known', ['a', '.well-known']],
    ['/a;x=..', ['a;x=..']],
    ['/', ['']]
  ]
  for (const [path, want] of segs) t.strictSame(routingSegments(path), { segs: want }, path)
  const refused: Array<[string, string]> = [
    ['/a/%2', 'malformed percent-encoding in path'],
    ['/a/%g1', 'malformed percent-encoding in path'],
    ['/a/%', 'malformed percent-encoding in path'],
    ['/caf%e9', 'malformed percent-encoding in path (not UTF-8)'],
    ['/a/%00', 'encoded NUL in path'],
    ['/..', 'dot segments are not allowed in paths'],
    ['/a/.', 'dot segments are not allowed in paths'],
    ['/a/./b', 'dot segments are not allowed in paths'],
    ['/a/..;jsessionid=1/admin', 'dot segments are not allowed in paths'],
    ['/a/.;/admin', 'dot segments are not allowed in paths'],
    ['/a/..;', 'dot segments are not allowed in paths'],
    ['/a\\..\\admin', 'dot segments are not allowed in paths'],
    ['/a/..%2fadmin', 'dot segments are not allowed in paths'],
    ['/a/%2E%2E', 'dot segments are not allowed in paths']
  ]
  for (const [path, error] of refused) t.strictSame(routingSegments(path), { error }, path)
})

t.test('which route is more specific: host, then segments, then headers, then methods, then file order', async (t) => {
  const table = buildRouteTable(parseConfig(`backends:
  b: { url: "http://127.0.0.1:1" }
routes:
  - { name: any, match: { path: /* }, backend: b }
  - { name: wild-short, match: { path: /*, host: "*.example" }, backend: b }
  - { name: wild-long, match: { path: /*, host: "*.shop.example" }, backend: b }
  - { name: exact-host, match: { path: /*, host: a.shop.example }, backend: b }
  - { name: zeta, match: { path: /zeta }, backend: b }
  - { name: alpha, match: { path: /alpha }, backend: b }
  - { name: param, match: { path: /:x }, backend: b }
  - { name: root, match: { path: / }, backend: b }
  - { name: one-header, match: { path: /h/*, headers: { a: "1" } }, backend: b }
  - { name: no-header, match: { path: /h/* }, backend: b }
  - { name: two-headers, match: { path: /h/*, headers: { a: "1", b: "2" } }, backend: b }
  - { name: all-methods, match: { path: /m/* }, backend: b }
  - { name: posts, match: { path: /m/*, methods: [POST] }, backend: b }
  - { name: twin-1, match: { path: /t }, backend: b }
  - { name: twin-2, match: { path: /t }, backend: b }
`, 'r.yaml'))
  t.strictSame(table.routes.map((r) => r.name), [
    'exact-host', 'wild-long', 'wild-short',
    // Different literals never match the same request: ordered by name ("" is the root).
    'root', 'alpha', 'two-headers', 'one-header', 'no-header', 'posts', 'all-methods', 'twin-1', 'twin-2', 'zeta', 'param', 'any'
  ])
  const match = (method: string, host: string, path: string, headers: Record<string, string> = {}): string | undefined =>
    table.match({ method, host, segs: routingSegments(path).segs ?? [], headers })?.name
  t.equal(match('GET', 'b.example', '/x'), 'wild-short')
  t.equal(match('GET', 'b.shop.example', '/x'), 'wild-long', 'the longer suffix wins')
  t.equal(match('GET', 'A.Shop.Example:443', '/x'), 'exact-host')
  t.equal(match('GET', 'other.org', '/h/x', { a: '1', b: '2' }), 'two-headers')
  t.equal(match('GET', 'other.org', '/h/x', { a: '1' }), 'one-header')
  t.equal(match('POST', 'other.org', '/m/x'), 'posts')
  t.equal(match('GET', 'other.org', '/m/x'), 'all-methods')
  t.equal(match('GET', 'other.org', '/t'), 'twin-1')
  t.equal(match('GET', 'other.org', '/'), 'root')
  t.equal(match('GET', 'other.org', '/other'), 'param')
})

t.test('a table without a catch-all matches nothing for other paths', async (t) => {
  const table = buildRouteTable(parseConfig('backends:\n  b: { url: "http://127.0.0.1:1" }\nroutes:\n  - { name: api, match: { path: /api/* }, backend: b }\n', 'r.yaml'))
  t.equal(table.match({ method: 'GET', host: undefined, segs: ['other'], headers: {} }), undefined)
  t.equal(table.match({ method: 'GET', host: undefined, segs: ['api', 'x'], headers: {} })?.name, 'api', 'no Host header: host-less routes still match')
})
