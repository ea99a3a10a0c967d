import t from 'tap'
import { request } from 'undici'
import { startUpstream, startRawUpstream, startProxy, sleep, type TestProxy } from './helper.js'

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

async function parity (proxy: TestProxy, compared: number): Promise<Record<string, { parity: number, totals: Record<string, number>, noise: string[], samples: Array<{ differences: Array<{ field: string, primary: string, shadow: string }>, path: string, requestId: string }> }>> {
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
  t.same(report.orders?.samples[0]?.differences, [{ field: '$.price', primary: '10', shadow: '10.5' }])
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
  t.same(report.orders?.noise, ['$.updatedAt'], 'updatedAt was learned as noise')
  t.same(report.orders?.totals, { match: 93, mismatch: 7, error: 0, skipped: 0 })
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
