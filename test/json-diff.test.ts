import t from 'tap'
import { diffJson, pattern, sameText } from '../src/safety/json-diff.js'

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
