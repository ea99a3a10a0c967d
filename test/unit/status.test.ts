/** The status page's pure parts, table-driven: path templates, route states and the readiness verdict. */
import t from 'tap'
import { Inventory } from '../../src/status/inventory.js'
import { pathTemplate } from '../../src/routing/path-template.js'
import { readiness, type RouteEvidence } from '../../src/status/readiness.js'
import { DEFAULTS } from '../../src/config/config.js'

t.test('path templates', async (t) => {
  const cases: Array<[string, string]> = [
    ['/products/123', '/products/:id'],
    ['/cart/9f86d081-884c-4d63-9d3a-1b2c3d4e5f60/items/7', '/cart/:id/items/:id'],
    ['/files/0b1c2d3e4f5a6b7c8d9e', '/files/:id'],
    ['/files/0b1c2d3e4f5a6b7', '/files/0b1c2d3e4f5a6b7', ],
    ['/a/b?x=1&y=2', '/a/b'],
    ['/', '/'],
    ['/v2/users', '/v2/users'],
    ['/a/b/c/d/e/f/g/h/i/j', '/a/b/c/d/e/f/g/h/…'],
    [`/x/${'y'.repeat(65)}`, '/x/:long']
  ]
  for (const [path, template] of cases) t.equal(pathTemplate(path), template, path)
})

t.test('the inventory is bounded; the rest is other', async (t) => {
  const inv = new Inventory(2)
  for (const p of ['/a/1', '/a/2', '/b', '/c', '/c']) { inv.count(); inv.record('GET', p, 'default', 200, '10.0.0.1', 1000) }
  inv.count()
  const r = inv.report()
  t.same(r.entries.map((e) => [e.template, e.requests]), [['/a/:id', 2], ['/b', 1]])
  t.equal(r.other, 2, 'two requests to a third template')
  t.equal(r.entries[0]?.share, 2 / 6)
})

t.test('junk cannot push real endpoints out of the inventory', async (t) => {
  const inv = new Inventory(100)
  for (let i = 0; i < 300; i++) inv.record('GET', `/zz${i}x/a`, 'default', 404, '10.0.0.9', 1000)
  for (let i = 0; i < 300; i++) inv.record('GET', `/junk/p${i}x`, 'default', 200, `10.0.${i % 250}.1`, 1000)
  for (let i = 0; i < 300; i++) inv.record('GET', `/j${i}x`, 'default', 200, '10.0.0.7', 1000)
  inv.record('GET', '/boom', 'default', 502, '10.0.0.8', 1000)
  inv.record('GET', '/gone', 'default', undefined, '10.0.0.8', 1000)
  for (const path of ['/account', '/cart/7', '/help/faq']) inv.record('GET', path, 'default', 200, '10.1.0.1', 1000)
  const r = inv.report()
  t.same(r.entries.filter((e) => !e.template.startsWith('/j')).map((e) => e.template).sort(), ['/account', '/cart/:id', '/help/faq'], 'the real endpoints are listed')
  t.equal(r.notFound, 300, '404s are counted apart, never templates')
  t.equal(r.failed, 2, 'a 5xx or no answer is not a template either')
  t.equal(r.entries.filter((e) => e.template.startsWith('/junk/')).length, 20, 'one first segment holds at most a tenth of the templates (at least 20)')
  t.equal(r.entries.filter((e) => /^\/j\d/.test(e.template)).length, 20, 'one client adds at most 20 templates per period')
  t.equal(r.other, 280 + 280, 'the rest is other')
  inv.record('GET', '/j999x', 'default', 200, '10.0.0.7', 1000 + 10 * 60_000)
  t.ok(inv.report().entries.some((e) => e.template === '/j999x'), 'the next period, the client may add again')
})

const c = { ...DEFAULTS.retirement, after: 1000, legacyQuietFor: 1000 }
const ev = (over: Partial<RouteEvidence> = {}): RouteEvidence => ({ at100Since: 0, match: 0, mismatch: 0, lastLegacy: undefined, legacyFigures: undefined, ...over })
const legacyFigures = { at: 0, requests: 100, errorRatio: 0.01, p99: 0.1 }

t.test('the readiness verdict', async (t) => {
  const cases: Array<[string, boolean, boolean, RouteEvidence | undefined, { requests: number, errorRatio: number | null, p99: number | null } | undefined, boolean, RegExp]> = [
    ['not migrated', false, false, ev(), undefined, false, /not at 100 %/],
    ['too soon', true, false, ev({ at100Since: 1500 }), undefined, false, /at 100 % for 0 s of 1 s/],
    ['enough time, nothing else known', true, false, ev(), undefined, true, /no legacy figures/],
    ['legacy served by failover lately', true, false, ev({ lastLegacy: { at: 1500, reason: 'failover' } }), undefined, false, /last served by legacy 0 s ago \(failover\)/],
    ['an override does not count', true, false, ev({ lastLegacy: { at: 1900, reason: 'override' } }), undefined, true, /tester override/],
    ['legacy quiet long enough', true, false, ev({ lastLegacy: { at: 500, reason: 'guard' } }), undefined, true, /1 s ago \(guard\)/],
    ['errors within', true, false, ev({ legacyFigures }), { requests: 50, errorRatio: 0.015, p99: 0.11 }, true, /5xx 1\.50 % now vs legacy's 1\.00 %/],
    ['errors over', true, false, ev({ legacyFigures }), { requests: 50, errorRatio: 0.016, p99: 0.1 }, false, /limit \+0\.50 %/],
    ['latency over', true, false, ev({ legacyFigures }), { requests: 50, errorRatio: 0.01, p99: 0.121 }, false, /p99 1\.21× legacy's last known, limit 1\.2×/],
    ['parity over', true, true, ev({ match: 999, mismatch: 1 }), undefined, true, /99\.900 % of 1000 comparisons/],
    ['parity under', true, true, ev({ match: 998, mismatch: 2 }), undefined, false, /99\.800 %/],
    ['parity unknown', true, true, ev(), undefined, false, /no shadow comparisons at 100 % yet/]
  ]
  for (const [name, migrated, shadowed, e, fresh, ready, detail] of cases) {
    const r = readiness(c, migrated, shadowed, e, fresh, 2000)
    t.equal(r.ready, ready, name)
    t.ok(r.checks.some((x) => detail.test(x.detail)), `${name}: ${r.checks.map((x) => x.detail).join(' | ')}`)
  }
})
