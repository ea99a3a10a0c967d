import t from 'tap'
import { diffJson, pattern, sameText } from '../../src/safety/json-diff.js'

const none = { ignore: new Set<string>(), unordered: new Set<string>() }

t.test('key order never matters; values do', async (t) => {
  t.same(diffJson({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 }, none), [])
  t.same(diffJson({ a: 1, b: 2 }, { a: 1, b: 3 }, none), [{ path: '$.b', primary: 2, shadow: 3 }])
  t.same(diffJson({ a: 1 }, { a: 1, extra: true }, none), [{ path: '$.extra', primary: undefined, shadow: true }])
  t.same(diffJson({ 'odd key': 1 }, { 'odd key': 2 }, none), [{ path: '$["odd key"]', primary: 1, shadow: 2 }])
  t.same(diffJson(1, '1', none), [{ path: '$', primary: 1, shadow: '1' }], 'types matter')
})

t.test('arrays: ordered by default, multisets where asked, length reported', async (t) => {
  const a = { items: [{ sku: 'A', q: 1 }, { sku: 'B', q: 2 }] }
  const b = { items: [{ q: 2, sku: 'B' }, { q: 1, sku: 'A' }] }
  t.equal(diffJson(a, b, none).length, 4, 'ordered: every field of both positions differs')
  t.same(diffJson(a, b, { ...none, unordered: new Set(['$.items']) }), [])
  t.same(diffJson({ l: [1, 2, 3] }, { l: [1, 2] }, none), [{ path: '$.l.length', primary: 3, shadow: 2 }])
  t.same(diffJson({ l: [1, 1, 2] }, { l: [1, 2, 2] }, { ...none, unordered: new Set(['$.l']) }).length, 1, 'multiset, not set')
})

t.test('ignored paths, with [*] for any index', async (t) => {
  const ignore = new Set(['$.updatedAt', '$.lines[*].id'])
  t.same(diffJson({ updatedAt: 1, lines: [{ id: 1, n: 'x' }] }, { updatedAt: 2, lines: [{ id: 9, n: 'x' }] }, { ...none, ignore }), [])
  t.same(diffJson({ lines: [{ id: 1, n: 'x' }] }, { lines: [{ id: 1, n: 'y' }] }, { ...none, ignore }), [{ path: '$.lines[0].n', primary: 'x', shadow: 'y' }])
  t.equal(pattern('$.a[12].b[0]'), '$.a[*].b[*]')
})

t.test('text: exact or whitespace-normalised', async (t) => {
  t.notOk(sameText('<p>a  b</p>\n', '<p>a b</p>', 'exact'))
  t.ok(sameText('<p>a  b</p>\n', '<p>a b</p>', 'whitespace'))
  t.notOk(sameText('<p>a b</p>', '<p>a c</p>', 'whitespace'))
})

t.test('the documented rule set: lines unordered, their ids ignored, generatedAt ignored', async (t) => {
  const opts = { ignore: new Set(['$.generatedAt', '$.lines[*].id']), unordered: new Set(['$.lines']) }
  const legacy = { generatedAt: 1, lines: [{ id: 11, sku: 'A', qty: 1 }, { id: 12, sku: 'B', qty: 2 }] }
  const django = { generatedAt: 2, lines: [{ id: 907, sku: 'B', qty: 2 }, { id: 906, sku: 'A', qty: 1 }] }
  t.same(diffJson(legacy, django, opts), [], 'reordered lines with new ids are equal')
  const wrongQty = { generatedAt: 2, lines: [{ id: 907, sku: 'B', qty: 3 }, { id: 906, sku: 'A', qty: 1 }] }
  t.same(diffJson(legacy, wrongQty, opts).map((d) => d.path), ['$.lines'], 'a changed quantity is still a difference')
})

t.test('an ignored key present on one side only is not a difference; another key is', async (t) => {
  const opts = { ignore: new Set(['$.meta.trace', '$.lines[*].debug']), unordered: new Set<string>() }
  t.same(diffJson({ meta: { trace: 'x' }, lines: [{ n: 1 }] }, { meta: {}, lines: [{ n: 1, debug: true }] }, opts), [])
  t.same(diffJson({ meta: {} }, { meta: { other: 1 } }, opts), [{ path: '$.meta.other', primary: undefined, shadow: 1 }])
})

t.test('nested wildcards: ignore and unordered below array elements', async (t) => {
  const opts = { ignore: new Set(['$.orders[*].items[*].id']), unordered: new Set(['$.orders[*].items']) }
  const a = { orders: [{ no: 1, items: [{ id: 1, sku: 'A' }, { id: 2, sku: 'B' }] }, { no: 2, items: [{ id: 3, sku: 'C' }] }] }
  const b = { orders: [{ no: 1, items: [{ id: 8, sku: 'B' }, { id: 9, sku: 'A' }] }, { no: 2, items: [{ id: 7, sku: 'C' }] }] }
  t.same(diffJson(a, b, opts), [], 'items of every order compared as multisets, ids ignored')
  const c = { orders: [{ no: 1, items: [{ id: 8, sku: 'B' }, { id: 9, sku: 'A' }] }, { no: 2, items: [{ id: 7, sku: 'D' }] }] }
  t.same(diffJson(a, c, opts).map((d) => d.path), ['$.orders[1].items'], 'the second order\'s items differ, reported at that order')
  t.same(diffJson({ orders: [{ no: 1 }] }, { orders: [{ no: 2 }] }, opts), [{ path: '$.orders[0].no', primary: 1, shadow: 2 }], 'other fields of the elements are compared in order')
})

t.test('noise learned inside array elements applies to every element, also in unordered arrays', async (t) => {
  const noise = new Set(['$.lines[*].updatedAt'])
  const opts = { ignore: { has: (p: string) => noise.has(p) }, unordered: new Set(['$.lines']) }
  t.same(diffJson({ lines: [{ n: 1, updatedAt: 'a' }, { n: 2, updatedAt: 'b' }] }, { lines: [{ n: 2, updatedAt: 'c' }, { n: 1, updatedAt: 'd' }] }, opts), [])
  t.same(diffJson({ lines: [{ n: 1, updatedAt: 'a' }] }, { lines: [{ n: 1, updatedAt: 'b' }] }, { ...opts, unordered: new Set<string>() }), [], 'ordered too')
})

t.test('withinDepth counts nesting of arrays and objects, without recursion', async (t) => {
  const { withinDepth } = await import('../../src/safety/json-diff.js')
  const nest = (n: number, leaf: unknown = 1): unknown => { let v: unknown = leaf; for (let i = 0; i < n; i++) v = i % 2 === 0 ? [v] : { k: v }; return v }
  t.ok(withinDepth(1, 0), 'a scalar has no depth')
  t.ok(withinDepth(null, 0))
  t.ok(withinDepth(nest(3), 3), 'three levels within 3')
  t.notOk(withinDepth(nest(4), 3), 'four levels exceed 3')
  t.ok(withinDepth({ a: 1, b: 'x', c: null, d: [1, 2] }, 2))
  t.notOk(withinDepth({ a: [1], b: { c: { d: [] } } }, 3), 'the deepest branch decides, wherever it is')
  t.ok(withinDepth(nest(64)), 'the default allows 64')
  t.notOk(withinDepth(nest(20_000)), '20,000 levels: refused, and no stack overflow')
})

t.test('values of different kinds differ; unordered arrays of different lengths or nested arrays are compared whole', async (t) => {
  t.same(diffJson({ a: [1] }, { a: { 0: 1 } }, none), [{ path: '$.a', primary: [1], shadow: { 0: 1 } }], 'an array is not an object')
  t.same(diffJson({ a: {} }, { a: [] }, none), [{ path: '$.a', primary: {}, shadow: [] }])
  t.same(diffJson({ a: null }, { a: {} }, none), [{ path: '$.a', primary: null, shadow: {} }])
  const unordered = { ...none, unordered: new Set(['$.l']) }
  t.same(diffJson({ l: [1, 2] }, { l: [2, 1, 1] }, unordered).map((d) => d.path), ['$.l'], 'different lengths')
  t.same(diffJson({ l: [[1, 2], [3]] }, { l: [[3], [1, 2]] }, unordered), [], 'nested arrays as elements, reordered')
  t.same(diffJson({ l: [[1, 2]] }, { l: [[2, 1]] }, unordered).map((d) => d.path), ['$.l'], 'but inside them order still counts')
  t.same(diffJson({ l: [{ a: 1, b: 2 }] }, { l: [{ b: 2, a: 1 }] }, unordered), [], 'key order inside elements never matters')
  t.same(diffJson({ l: [{ a: 1 }] }, { l: [{ a: 1, b: 2 }] }, unordered).map((d) => d.path), ['$.l'], 'an extra key in an element')
  t.same(diffJson({ a: 1 }, {}, none), [{ path: '$.a', primary: 1, shadow: undefined }], 'a key only the primary has')
})

t.test('text comparison: exact means byte for byte; whitespace folds runs and trims', async (t) => {
  t.ok(sameText('a b', 'a b', 'exact'))
  t.notOk(sameText('a b', 'a b ', 'exact'))
  t.ok(sameText('  a \t\n b  ', 'a b', 'whitespace'))
  t.notOk(sameText('ab', 'a b', 'whitespace'), 'whitespace is folded, not removed')
})
