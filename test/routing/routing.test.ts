import t from 'tap'
import { parseConfig } from '../../src/config/config.js'
import { buildRouteTable, firstMatch, hostWithoutPort } from '../../src/routing/table.js'
import { routingSegments } from '../../src/config/patterns.js'

// Deliberately listed least specific first: file order must only break exact ties.
const table = buildRouteTable(parseConfig(`
backends:
  legacy: { url: "http://127.0.0.1:1" }
routes:
  - { name: catch-all, match: { path: /* }, backend: legacy }
  - { name: api, match: { path: /api/* }, backend: legacy }
  - { name: api-exact, match: { path: /api }, backend: legacy }
  - { name: order-by-id, match: { path: /api/orders/:id }, backend: legacy }
  - { name: orders, match: { path: /api/orders/* }, backend: legacy }
  - { name: orders-export, match: { path: /api/orders/export }, backend: legacy }
  - { name: orders-write, match: { path: /api/orders/*, methods: [POST, PUT] }, backend: legacy }
  - { name: orders-beta, match: { path: /api/orders/*, headers: { x-beta: "1" } }, backend: legacy }
  - { name: orders-beta-any, match: { path: /api/orders/*, headers: { x-beta: true } }, backend: legacy }
  - { name: orders-beta-eu, match: { path: /api/orders/*, headers: { x-beta: "1", x-region: eu } }, backend: legacy }
  - { name: tenant-wild, match: { path: /*, host: "*.shop.example" }, backend: legacy }
  - { name: tenant-acme, match: { path: /*, host: acme.shop.example }, backend: legacy }
  - { name: root, match: { path: / }, backend: legacy }
  - { name: catch-all-twin, match: { path: /* }, backend: legacy }
`, 'routes.yaml'))

const cases: Array<[string, string, string | undefined, Record<string, string>, string | undefined]> = [
  // method, path, host, headers, expected route
  ['GET', '/', undefined, {}, 'root'],
  ['GET', '/anything/else', undefined, {}, 'catch-all'],
  ['GET', '/api', undefined, {}, 'api-exact'],
  ['GET', '/api/', undefined, {}, 'api'],
  ['GET', '/api/users', undefined, {}, 'api'],
  ['GET', '/apiary', undefined, {}, 'catch-all'],
  ['GET', '/api/orders', undefined, {}, 'orders'],
  ['GET', '/api/orders/42', undefined, {}, 'order-by-id'],
  ['GET', '/api/orders/42/items', undefined, {}, 'orders'],
  ['GET', '/api/orders/export', undefined, {}, 'orders-export'],
  ['POST', '/api/orders/export', undefined, {}, 'orders-export'],
  ['POST', '/api/orders/42/items', undefined, {}, 'orders-write'],
  ['GET', '/api/orders/42/items', undefined, { 'x-beta': '1' }, 'orders-beta'],
  ['GET', '/api/orders/42/items', undefined, { 'x-beta': '2' }, 'orders-beta-any'],
  ['GET', '/api/orders/42/items', undefined, { 'x-beta': '1', 'x-region': 'eu' }, 'orders-beta-eu'],
  ['POST', '/api/orders/42/items', undefined, { 'x-beta': '1' }, 'orders-beta'],
  ['GET', '/api/orders/42', 'acme.shop.example', {}, 'tenant-acme'],
  ['GET', '/api/orders/42', 'ACME.shop.example:8080', {}, 'tenant-acme'],
  ['GET', '/x', 'other.shop.example', {}, 'tenant-wild'],
  ['GET', '/x', 'shop.example', {}, 'catch-all'],
  ['GET', '/%61pi/orders/%34%32', undefined, {}, 'order-by-id'],
  ['GET', '/api%2Forders/42', undefined, {}, 'catch-all'],
  // An empty segment is no value for :id.
  ['GET', '/api/orders/', undefined, {}, 'orders'],
  ['GET', '/api/orders//', undefined, {}, 'orders'],
  // Wildcard hosts match whole labels only.
  ['GET', '/x', 'evilshop.example', {}, 'catch-all'],
  ['GET', '/x', 'a.b.shop.example', {}, 'tenant-wild'],
  ['GET', '/x', '.shop.example', {}, 'catch-all'],
  ['GET', '/x', 'shop.example.evil.example', {}, 'catch-all']
]

for (const [method, path, host, headers, want] of cases) {
  t.test(`${method} ${host ?? ''}${path} ${JSON.stringify(headers)} → ${want ?? 'none'}`, async (t) => {
    const segs = routingSegments(path).segs
    t.ok(segs, 'path is routable')
    t.equal(table.match({ method, host, segs: segs as string[], headers })?.name, want)
  })
}

t.test('exact ties go to the route written first', async (t) => {
  t.equal(table.routes.findIndex((r) => r.name === 'catch-all') < table.routes.findIndex((r) => r.name === 'catch-all-twin'), true)
})

t.test('the order does not depend on the order of the file', async (t) => {
  const yaml = (routes: string[]): string => `backends:\n  b: { url: "http://127.0.0.1:1" }\nroutes:\n${routes.join('\n')}\n`
  const routes = [
    '  - { name: a, match: { path: /a/* }, backend: b }',
    '  - { name: ab, match: { path: /a/b }, backend: b }',
    '  - { name: aparam, match: { path: /a/:x }, backend: b }',
    '  - { name: all, match: { path: /* }, backend: b }'
  ]
  const order = (rs: string[]): string[] => buildRouteTable(parseConfig(yaml(rs), 'r.yaml')).routes.map((r) => r.name)
  t.same(order(routes), ['ab', 'aparam', 'a', 'all'])
  t.same(order([...routes].reverse()), ['ab', 'aparam', 'a', 'all'])
})

t.test('paths that cannot be routed safely are refused', async (t) => {
  t.equal(routingSegments('/a/%zz').error, 'malformed percent-encoding in path')
  t.equal(routingSegments('/a/%2e%2e/admin').error, 'dot segments are not allowed in paths')
  t.equal(routingSegments('/a/../admin').error, 'dot segments are not allowed in paths')
  t.equal(routingSegments('/a/%00').error, 'encoded NUL in path')
  t.same(routingSegments('/a/.well-known/x').segs, ['a', '.well-known', 'x'])
})

t.test('the prefix index picks exactly what a scan of the whole table picks', async (t) => {
  // Enough routes sharing prefixes that the index splits several levels deep.
  const lits = ['api', 'v1', 'v2', 'orders', 'users', 'x']
  const routes: string[] = []
  let n = 0
  const pick = (i: number, k: number): string => lits[(i * 7 + k * 3) % lits.length] as string
  for (let i = 0; i < 300; i++) {
    const depth = 1 + (i % 4)
    const segs = Array.from({ length: depth }, (_, k) => (i + k) % 9 === 0 ? ':p' : pick(i, k))
    const tail = i % 3 === 0 ? '/*' : ''
    const extra = (i % 11 === 0 ? ', methods: [POST]' : '') + (i % 13 === 0 ? ', host: "a.example"' : '') + (i % 17 === 0 ? ', headers: { x-beta: "1" }' : '')
    routes.push(`  - { name: r${n++}, match: { path: "/${segs.join('/')}${tail}"${extra} }, backend: b }`)
  }
  routes.push('  - { name: fallback, match: { path: /* }, backend: b }')
  const table = buildRouteTable(parseConfig(`backends:\n  b: { url: "http://127.0.0.1:1" }\nroutes:\n${routes.join('\n')}\n`, 'r.yaml'))
  let checked = 0
  for (let i = 0; i < 2000; i++) {
    const depth = 1 + (i % 5)
    const path = '/' + Array.from({ length: depth }, (_, k) => (i * 31 + k) % 10 === 0 ? 'zzz' : pick(i * 5 + 1, k)).join('/') + (i % 7 === 0 ? '/' : '')
    const input = { method: i % 4 === 0 ? 'POST' : 'GET', host: i % 3 === 0 ? 'a.example' : 'b.example', segs: routingSegments(path).segs as string[], headers: i % 5 === 0 ? { 'x-beta': '1' } : {} }
    const viaIndex = table.match(input)?.name
    const viaScan = firstMatch(table.routes, input, hostWithoutPort(input.host))?.name
    if (viaIndex !== viaScan) t.fail(`${input.method} ${input.host} ${path}: index ${viaIndex} vs scan ${viaScan}`)
    checked++
  }
  t.equal(checked, 2000, '2,000 requests agree')
})
