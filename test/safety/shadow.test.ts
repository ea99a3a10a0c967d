import t from 'tap'
import { Agent, request } from 'undici'
import { startUpstream, startRawUpstream } from '../helpers/backends.js'
import { startProxy, sleep, type TestProxy } from '../helpers/proxy.js'

const CHANGED = new Set([3, 17, 29, 41, 58, 76, 90])
let clock = 0

function order (id: number, backend: 'legacy' | 'django'): Record<string, unknown> {
  const items = [{ sku: 'A-1', qty: 1 }, { sku: 'B-2', qty: 2 }]
  return {
    id,
    price: backend === 'django' && CHANGED.has(id) ? 10.5 : 10,
    // A timestamp: different on every call of either backend.
    updatedAt: `2026-11-21T10:00:00.${String(clock++ % 1000).padStart(3, '0')}Z`,
    items: backend === 'django' ? items.reverse() : items
  }
}

function json (backend: 'legacy' | 'django') {
  return (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    const id = Number((req.url ?? '').split('/').pop())
    res.writeHead(200, { 'content-type': 'application/json', 'x-backend': backend })
    res.end(JSON.stringify(order(id, backend)))
  }
}

function yaml (legacy: string, django: string, shadow: string): string {
  return `listen: { host: 127.0.0.1 }
backends:
  legacy: { url: "${legacy}" }
  django: { url: "${django}" }
routes:
  - name: orders
    match: { path: /api/orders/* }
    backend: legacy
    shadow: ${shadow}
`
}

async function parity (proxy: TestProxy, compared: number): Promise<Record<string, { parity: number, totals: Record<string, number>, noise: Array<{ path: string, learnedAt: string, differences: number }>, warning?: string, samples: Array<{ differences: Array<{ field: string, primary: string, shadow: string }>, path: string, requestId: string }> }>> {
  for (let i = 0; i < 200; i++) {
    const body = (await (await request(`${proxy.adminUrl}/parity`)).body.json()) as { routes: Record<string, { totals: Record<string, number> }> }
    const totals = body.routes.orders?.totals
    if (totals !== undefined && Object.values(totals).reduce((a, b) => a + b, 0) >= compared) return body.routes as never
    await sleep(25)
  }
  throw new Error('comparisons did not finish')
}

t.test('100 requests, 7 with a changed price → 93 % parity, and the diff names the field', async (t) => {
  const legacy = await startUpstream(t, 'legacy', json('legacy'))
  const django = await startUpstream(t, 'django', json('django'))
  const proxy = await startProxy(t, yaml(legacy.url, django.url, '{ backend: django, compare: { ignore: ["$.updatedAt"], unorderedArrays: ["$.items"] } }'))
  for (let id = 0; id < 100; id++) {
    const res = await request(`${proxy.url}/api/orders/${id}`, { headers: { 'x-request-id': `req-${id}` } })
    t.equal(res.headers['x-backend'], 'legacy')
    await res.body.dump()
  }
  const report = await parity(proxy, 100)
  t.equal(report.orders?.parity, 0.93)
  t.same(report.orders?.totals, { match: 93, mismatch: 7, error: 0, skipped: 0 })
  t.same(report.orders?.samples.map((s) => s.requestId).sort(), [...CHANGED].map((id) => `req-${id}`).sort())
  t.match(report.orders?.samples[0]?.differences, [{ field: '$.price', primary: /^number #[0-9a-f]{8}$/, shadow: /^number #[0-9a-f]{8}$/ }], 'values as type and short hash by default')
  t.not(report.orders?.samples[0]?.differences[0]?.primary, report.orders?.samples[0]?.differences[0]?.shadow, 'different values, different hashes')
  t.ok(django.seen.every((s) => s.headers['x-strangler-shadow'] === '1'), 'the shadow backend can tell shadow traffic apart')
  const metrics = await (await request(`${proxy.adminUrl}/metrics`)).body.text()
  t.match(metrics, 'strangler_shadow_requests_total{route="orders",result="match"} 93')
  t.match(metrics, 'strangler_shadow_requests_total{route="orders",result="mismatch"} 7')
  t.match(metrics, 'strangler_shadow_parity_ratio{route="orders"} 0.93')
  const explained = await (await request(`${proxy.adminUrl}/explain?path=/api/orders/1`)).body.json()
  t.match(explained, { shadow: { backend: 'django', parity: 0.93 } })
})

t.test('noise learning: fields that differ between two primary calls are not mismatches', async (t) => {
  const legacy = await startUpstream(t, 'legacy', json('legacy'))
  const django = await startUpstream(t, 'django', json('django'))
  const proxy = await startProxy(t, yaml(legacy.url, django.url, '{ backend: django, learnNoise: true, compare: { unorderedArrays: ["$.items"] } }'))
  for (let id = 0; id < 100; id++) await (await request(`${proxy.url}/api/orders/${id}`)).body.dump()
  const report = await parity(proxy, 100)
  t.match(report.orders?.noise, [{ path: '$.updatedAt', learnedAt: String, differences: 3 }], 'updatedAt was learned as noise, with when and from how many differences')
  t.equal(report.orders?.noise.length, 1)
  // Learned once it differed between two primary calls three times: the first two
  // comparisons still count it.
  t.same(report.orders?.totals, { match: 91, mismatch: 9, error: 0, skipped: 0 })
  t.equal(legacy.seen.length, 200, 'each request called the primary twice (once for the user, once to learn noise)')
})

t.test('a hanging, failing or slow shadow never touches the user\'s response', async (t) => {
  const legacy = await startUpstream(t, 'legacy', json('legacy'))
  const hang = await startRawUpstream(t, () => {})
  const proxy = await startProxy(t, yaml(legacy.url, hang.url, '{ backend: django, timeout: 400ms, maxConcurrent: 3 }'))
  const started = performance.now()
  for (let id = 0; id < 10; id++) {
    const res = await request(`${proxy.url}/api/orders/${id}`)
    t.equal(res.statusCode, 200)
    await res.body.dump()
  }
  const ms = performance.now() - started
  t.ok(ms < 400, `10 requests in ${ms.toFixed(0)} ms while the shadow hangs`)
  const report = await parity(proxy, 10)
  t.same(report.orders?.totals, { match: 0, mismatch: 0, error: 3, skipped: 7 }, 'three hung until the timeout, the rest were over the concurrency cap')

  const slowProxy = await startProxy(t, yaml(legacy.url, (await startUpstream(t, 'django', (req, res) => {
    setTimeout(() => json('django')(req, res), 300)
  })).url, '{ backend: django }'))
  const t0 = performance.now()
  const res = await request(`${slowProxy.url}/api/orders/5`)
  t.equal(res.statusCode, 200)
  await res.body.dump()
  t.ok(performance.now() - t0 < 200, 'a slow shadow adds nothing to the user\'s latency')

  const broken = await startProxy(t, yaml(legacy.url, (await startUpstream(t, 'django', (_req, res) => { res.writeHead(500).end('boom') })).url, '{ backend: django }'))
  const ok = await request(`${broken.url}/api/orders/5`)
  t.equal(ok.statusCode, 200)
  await ok.body.dump()
  const b = await parity(broken, 1)
  t.same(b.orders?.totals, { match: 0, mismatch: 1, error: 0, skipped: 0 })
  t.match(b.orders?.samples[0]?.differences[0], { field: 'status', primary: '200', shadow: '500' })
})

t.test('a shadow body that trickles in, never idle long enough for the body timeout, is cut at the total timeout', async (t) => {
  const legacy = await startUpstream(t, 'legacy', json('legacy'))
  const ended: number[] = []
  const trickle = await startUpstream(t, 'django', (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    const started = performance.now()
    const tick = setInterval(() => res.write(' '), 50)
    res.on('close', () => { clearInterval(tick); ended.push(performance.now() - started) })
    req.resume()
  })
  const proxy = await startProxy(t, yaml(legacy.url, trickle.url, '{ backend: django, timeout: 400ms, maxConcurrent: 1 }'))
  const res = await request(`${proxy.url}/api/orders/1`)
  t.equal(res.statusCode, 200)
  await res.body.dump()
  const report = await parity(proxy, 1)
  t.same(report.orders?.totals, { match: 0, mismatch: 0, error: 1, skipped: 0 }, 'the copy counts as an error')
  for (let i = 0; i < 100 && ended.length === 0; i++) await sleep(20)
  t.ok(ended.length === 1 && (ended[0] as number) >= 200 && (ended[0] as number) < 3000, `the shadow backend's connection closed after ${ended[0]?.toFixed(0) ?? '-'} ms`)
  // The slot is free again: the next copy goes out rather than being skipped.
  await (await request(`${proxy.url}/api/orders/2`)).body.dump()
  const after = await parity(proxy, 2)
  t.equal(after.orders?.totals.skipped, 0, 'the next copy was sent, not skipped for want of a slot')
})

t.test('only safe methods are shadowed unless allowed; large bodies are skipped', async (t) => {
  const legacy = await startUpstream(t, 'legacy', json('legacy'))
  const django = await startUpstream(t, 'django', json('django'))
  const proxy = await startProxy(t, yaml(legacy.url, django.url, '{ backend: django }'))
  await (await request(`${proxy.url}/api/orders/1`, { method: 'POST', body: '{"sku":"A"}' })).body.dump()
  await (await request(`${proxy.url}/api/orders/1`, { method: 'DELETE' })).body.dump()
  await sleep(100)
  t.equal(django.seen.length, 0, 'POST and DELETE are not copied by default')

  const allowed = await startProxy(t, yaml(legacy.url, django.url, '{ backend: django, methods: [GET, POST], maxBodySize: 1kb, compare: { ignore: ["$.updatedAt"], unorderedArrays: ["$.items"] } }'))
  await (await request(`${allowed.url}/api/orders/2`, { method: 'POST', body: '{"sku":"A"}' })).body.dump()
  await (await request(`${allowed.url}/api/orders/3`, { method: 'POST', body: 'x'.repeat(5000) })).body.dump()
  const report = await parity(allowed, 2)
  t.same(report.orders?.totals, { match: 1, mismatch: 0, error: 0, skipped: 1 })
  t.same(django.seen.map((s) => [s.method, s.bodyBytes]), [['POST', 11]], 'the small POST was copied with its body')
})

t.test('a JSON answer nested 20,000 levels deep is compared without recursion and never ends the process', async (t) => {
  const deep = '['.repeat(20_000) + ']'.repeat(20_000)
  const other = '['.repeat(20_000) + '1' + ']'.repeat(20_000)
  const answer = (body: string) => (_req: unknown, res: import('node:http').ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(body)
  }
  const legacy = await startUpstream(t, 'legacy', answer(deep))
  const same = await startUpstream(t, 'django', answer(deep))
  const differs = await startUpstream(t, 'django', answer(other))
  const proxy = await startProxy(t, yaml(legacy.url, same.url, '{ backend: django, learnNoise: true }'))
  const res = await request(`${proxy.url}/api/orders/1`)
  t.equal(res.statusCode, 200)
  t.equal((await res.body.text()).length, 40_000, 'the user got the whole answer')
  t.same((await parity(proxy, 1)).orders?.totals, { match: 1, mismatch: 0, error: 0, skipped: 0 }, 'equal bytes: a match')

  const proxy2 = await startProxy(t, yaml(legacy.url, differs.url, '{ backend: django }'))
  await (await request(`${proxy2.url}/api/orders/1`)).body.dump()
  const report = await parity(proxy2, 1)
  t.same(report.orders?.totals, { match: 0, mismatch: 1, error: 0, skipped: 0 })
  t.match(report.orders?.samples[0]?.differences[0], { field: 'body', primary: '(nested deeper than 64 levels)' })
  const after = await request(`${proxy2.url}/api/orders/2`)
  t.equal(after.statusCode, 200, 'the process still serves')
  await after.body.dump()
  t.notOk(proxy2.logs.some((l) => l.msg === 'unhandled promise rejection; the process keeps serving'), 'nothing went unhandled')
})

t.test('learned noise stays bounded when every answer has new 16 KB keys; each comparison stays cheap', async (t) => {
  let n = 0
  const varying = (_req: unknown, res: import('node:http').ServerResponse): void => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ id: 1, [`k${n++}`.padEnd(16_384, 'x')]: 1 }))
  }
  const legacy = await startUpstream(t, 'legacy', varying)
  const django = await startUpstream(t, 'django', varying)
  const proxy = await startProxy(t, yaml(legacy.url, django.url, '{ backend: django, learnNoise: true }'))
  const started = performance.now()
  for (let i = 0; i < 300; i++) await (await request(`${proxy.url}/api/orders/${i}`)).body.dump()
  const report = await parity(proxy, 300)
  t.same(report.orders?.noise, [], 'a key seen to differ once is never learned')
  t.ok(performance.now() - started < 30_000, '300 requests and comparisons finished')
  t.ok(report.orders?.samples.every((s) => s.differences.every((d) => d.field.length <= 201)), 'field paths in samples are cut to 200 characters')
  const unrelated = await request(`${proxy.url}/api/orders/x`)
  t.equal(unrelated.statusCode, 200)
  await unrelated.body.dump()
})

t.test('/parity keeps no users\' values unless recordValues is set; credential headers cannot be compared', async (t) => {
  const token = (backend: string) => (_req: unknown, res: import('node:http').ServerResponse): void => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ session: `secret-session-${backend}` }))
  }
  const legacy = await startUpstream(t, 'legacy', token('legacy'))
  const django = await startUpstream(t, 'django', token('django'))
  const proxy = await startProxy(t, yaml(legacy.url, django.url, '{ backend: django }'))
  await (await request(`${proxy.url}/api/orders/1`)).body.dump()
  await parity(proxy, 1)
  const text = await (await request(`${proxy.adminUrl}/parity`)).body.text()
  t.notMatch(text, /secret-session/, 'no value of the users\' answers')
  t.match(text, /"field":"\$\.session","primary":"string\(21\) #[0-9a-f]{8}"/, 'the field, type, length and a short hash')

  const full = await startProxy(t, yaml(legacy.url, django.url, '{ backend: django, recordValues: true }'))
  await (await request(`${full.url}/api/orders/1`)).body.dump()
  t.match((await parity(full, 1)).orders?.samples[0]?.differences[0], { field: '$.session', primary: 'secret-session-legacy', shadow: 'secret-session-django' }, 'recordValues: true keeps them')

  const { parseConfig } = await import('../../src/config/config.js')
  t.throws(() => parseConfig(yaml(legacy.url, django.url, '{ backend: django, compare: { headers: [content-type, Set-Cookie, authorization] } }'), 'routes.yaml'), {
    problems: [
      { field: 'routes[0].shadow.compare.headers[1]', message: '"Set-Cookie" carries credentials and cannot be compared' },
      { field: 'routes[0].shadow.compare.headers[2]', message: '"authorization" carries credentials and cannot be compared' }
    ]
  } as unknown as Error)
})

t.test('learned noise never swallows structure: a leaf inside an unordered array, never the array; bounded; unlearnable', async (t) => {
  let calls = 0
  // Every call stamps each item; django's quantities differ from legacy's on every call.
  const items = (qty: number) => (_req: unknown, res: import('node:http').ServerResponse): void => {
    calls++
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ id: 1, items: [{ sku: 'a', qty, ts: calls }, { sku: 'b', qty, ts: calls + 0.5 }] }))
  }
  const legacy = await startUpstream(t, 'legacy', items(1))
  const django = await startUpstream(t, 'django', items(2))
  const proxy = await startProxy(t, yaml(legacy.url, django.url, '{ backend: django, learnNoise: true, compare: { unorderedArrays: ["$.items"] } }'))
  for (let i = 0; i < 20; i++) await (await request(`${proxy.url}/api/orders/${i}`)).body.dump()
  const report = await parity(proxy, 20)
  t.same(report.orders?.noise.map((n) => n.path), ['$.items[*].ts'], 'the varying stamp is learned as the element\'s field, not the array')
  t.same(report.orders?.totals, { match: 0, mismatch: 20, error: 0, skipped: 0 }, 'qty 1 against qty 2 is a mismatch on every call, before and after learning')

  // Two of three fields vary per call: learning the second would leave most of the answer uncompared.
  let n = 0
  const noisy = (_req: unknown, res: import('node:http').ServerResponse): void => {
    n++
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ a: n, b: -n, c: 'same' }))
  }
  const l2 = await startUpstream(t, 'legacy', noisy)
  const d2 = await startUpstream(t, 'django', noisy)
  const p2 = await startProxy(t, yaml(l2.url, d2.url, '{ backend: django, learnNoise: true }'))
  for (let i = 0; i < 12; i++) await (await request(`${p2.url}/api/orders/${i}`)).body.dump()
  const r2 = await parity(p2, 12)
  t.equal(r2.orders?.noise.length, 1, 'one of the two varying fields is learned')
  t.match(r2.orders?.warning, /but learning it would leave 67 % of the answer's fields uncompared \(limit 50 %\): not learned/, 'the other is a warning on /parity, not silence')

  // A person unlearns it: it is compared again.
  const learned = r2.orders?.noise[0]?.path as string
  const res = await request(`${p2.adminUrl}/parity/orders/unlearn`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path: learned }) })
  t.equal(res.statusCode, 200)
  t.same(((await res.body.json()) as { routes: { orders: { noise: unknown[] } } }).routes.orders.noise, [], 'forgotten')
  const missing = await request(`${p2.adminUrl}/parity/orders/unlearn`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path: '$.nope' }) })
  t.equal(missing.statusCode, 404)
  t.match(await missing.body.json(), { code: 'SPX_ADMIN_NOT_FOUND' })
})

t.test('parity counts users and endpoints, not requests; two error pages of one status are the same answer', async (t) => {
  const page = (backend: string) => (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse): void => {
    if ((req.url ?? '').includes('missing')) return void res.writeHead(404, { 'content-type': 'text/html' }).end(`<h1>${backend}: not found</h1>`)
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 1, qty: req.headers['x-user-id'] === 'odd' && backend === 'django' ? 2 : 1 }))
  }
  const legacy = await startUpstream(t, 'legacy', page('legacy'))
  const django = await startUpstream(t, 'django', page('django'))
  // No flag on this route, so no user id: each client address is one "user".
  const proxy = await startProxy(t, yaml(legacy.url, django.url, '{ backend: django }'))
  const from = (address: string): Agent => new Agent({ localAddress: address })
  const [flooder, odd, someone] = [from('127.0.0.2'), from('127.0.0.3'), from('127.0.0.4')]
  t.teardown(() => Promise.all([flooder.close(), odd.close(), someone.close()]))
  // One client floods matching copies of one endpoint; another sees a real difference once.
  for (let i = 0; i < 200; i++) await (await request(`${proxy.url}/api/orders/${i}`, { dispatcher: flooder })).body.dump()
  await (await request(`${proxy.url}/api/orders/7`, { dispatcher: odd, headers: { 'x-user-id': 'odd' } })).body.dump()
  await (await request(`${proxy.url}/api/orders/missing-123`, { dispatcher: someone })).body.dump()
  const report = await parity(proxy, 202)
  t.same(report.orders?.totals, { match: 201, mismatch: 1, error: 0, skipped: 0 }, 'per request: the flood hides the one mismatch; the 404 pages match')
  const metrics = await (await request(`${proxy.adminUrl}/metrics`)).body.text()
  t.match(metrics, 'strangler_shadow_pairs_total{route="orders",result="match"} 2', 'per (client, endpoint): the flooder is one pair, the 404 one more')
  t.match(metrics, 'strangler_shadow_pairs_total{route="orders",result="mismatch"} 1', 'and the real mismatch is one of three')

  const strict = await startProxy(t, yaml(legacy.url, django.url, '{ backend: django, compare: { errorBodies: true } }'))
  await (await request(`${strict.url}/api/orders/missing-123`)).body.dump()
  const r = await parity(strict, 1)
  t.same(r.orders?.totals, { match: 0, mismatch: 1, error: 0, skipped: 0 }, 'with compare.errorBodies the two error pages differ')
})
