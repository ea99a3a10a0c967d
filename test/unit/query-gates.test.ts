/** PromQL gate templates (where names may go) and how query gates join the built-in judgement. */
import t from 'tap'
import { escapeString, renderQuery, templateProblem } from '../../src/config/promql-template.js'
import { withGates, type GateResult, type Judgement } from '../../src/ramp/gates.js'

t.test('names only inside double quotes, the window only outside', async (t) => {
  t.equal(templateProblem('sum(rate(x{route="{{route}}",backend="{{ backend }}"}[{{window}}]))'), undefined)
  t.match(templateProblem('sum(x{route={{route}}})'), /\{\{route\}\} holds a name from routes\.yaml: use it inside double quotes/)
  t.match(templateProblem("sum(x{route='{{route}}'})"), /inside double quotes/, 'single quotes do not count: the escaping is for double-quoted strings')
  t.match(templateProblem('x{a="{{window}}"}'), /\{\{window\}\} is a range/)
  t.match(templateProblem('x{a="{{user}}"}'), /unknown placeholder \{\{user\}\}/)
  t.equal(templateProblem('x{a="\\"{{route}}"}'), undefined, 'an escaped quote does not end the string')
  t.equal(escapeString('a"b\\c\nd'), 'a\\"b\\\\c\\nd')
  t.equal(renderQuery('x{r="{{route}}"}[{{window}}]', { route: '{{backend}}', backend: 'B', baseline: 'L', windowSeconds: 0.2 }), 'x{r="{{backend}}"}[1s]', 'one pass: a value is never expanded again; at least 1s')
})

const gate = (pass: boolean | undefined, detail = 'd'): GateResult => ({ gate: 'query', name: 'q', pass, value: pass === undefined ? undefined : 1, limit: 1, detail })
const builtIn = (verdict: Judgement['verdict'], judged: boolean): Judgement => ({ verdict, reason: verdict === 'pass' ? 'gates passed: x' : verdict === 'fail' ? 'gate failed: errors' : 'waiting: y', gates: [{ gate: 'errors', pass: judged ? verdict !== 'fail' : undefined, value: undefined, limit: 0, detail: 'e' }], figures: { candidate: { requests: 0, errors: 0, clientErrors: 0, p99: undefined, sources: undefined }, baseline: { requests: 0, errors: 0, clientErrors: 0, p99: undefined, sources: undefined }, parity: undefined }, elapsedMs: 0 })

t.test('query gates join the judgement', async (t) => {
  t.equal(withGates(builtIn('pass', true), []).verdict, 'pass', 'no queries: unchanged')
  t.match(withGates(builtIn('pass', true), [gate(true, 'orders ok')]), { verdict: 'pass', reason: /; orders ok$/ })
  t.match(withGates(builtIn('pass', true), [gate(false, 'orders 0')]), { verdict: 'fail', reason: 'gate failed: query orders 0' })
  t.match(withGates(builtIn('wait', true), [gate(false, 'orders 0')]), { verdict: 'fail' }, 'a failing query fails a step whose built-in gates judged')
  t.match(withGates(builtIn('wait', false), [gate(false, 'orders 0')]), { verdict: 'wait', reason: /; orders 0$/ }, 'before the built-in gates have evidence, it waits')
  t.match(withGates(builtIn('pass', true), [gate(undefined, 'no data yet')]), { verdict: 'wait', reason: 'waiting: no data yet' }, 'no clean number: wait, never pass')
  t.match(withGates(builtIn('fail', true), [gate(true)]), { verdict: 'fail', reason: 'gate failed: errors' })
  t.equal(withGates(builtIn('pass', true), [gate(true)]).gates.length, 2, 'the query gates are listed with the others')
})

t.test('what an HTTP check expects of the answer', async (t) => {
  const { atPath, unexpected } = await import('../../src/ramp/checks.js')
  const check = (expect: { status?: number[], bodyContains?: string, json?: Record<string, unknown> }): Parameters<typeof unexpected>[0] => ({ name: 'c', url: 'http://x', method: 'GET', headers: {}, timeout: 1000, as: undefined, when: 'after', expect: { status: expect.status ?? [], bodyContains: expect.bodyContains, json: expect.json ?? {} } })
  t.equal(atPath({ a: { b: [1, { c: 'x' }] } }, '$.a.b[1].c'), 'x')
  t.equal(atPath({ a: 1 }, '$.a.b'), undefined)
  t.equal(unexpected(check({}), 204, ''), undefined, 'any 2xx by default')
  t.equal(unexpected(check({}), 302, ''), 'status 302, expected 2xx')
  t.equal(unexpected(check({ status: [200, 404] }), 404, ''), undefined)
  t.equal(unexpected(check({ bodyContains: 'Thank you' }), 200, 'Thanks'), 'the body does not contain "Thank you"')
  t.equal(unexpected(check({ json: { '$.order.status': 'paid' } }), 200, '{"order":{"status":"new"}}'), '$.order.status is "new", expected "paid"')
  t.equal(unexpected(check({ json: { '$.order.id': 7 } }), 200, '{"order":{}}'), '$.order.id is missing, expected 7')
  t.equal(unexpected(check({ json: { '$.ok': true } }), 200, 'not json'), 'the body is not JSON')
  t.equal(unexpected(check({ json: { '$.lines': [1, 2] } }), 200, '{"lines":[1,2]}'), undefined)
})
