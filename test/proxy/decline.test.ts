/**
 * "Not mine yet": the new backend declines with 404 and the decline header; the
 * proxy replays the request to legacy, transparently. A GET and a POST with a 1 MiB
 * body are replayed whole; a body past decline.maxBodySize is never replayed in part
 * (502 with a problem). The decline is counted and logged, and is no 5xx of django.
 */
import t from 'tap'
import { request } from 'undici'
import { startUpstream, echo } from '../helpers/backends.js'
import { startProxy, accessLines } from '../helpers/proxy.js'
import { flagsJson, rollout } from '../helpers/flags.js'

t.test('a declined request is served by legacy, body and all; a streamed one is refused, never replayed in part', async (t) => {
  const legacyBodies: number[] = []
  // The helper calls a handler once the request body is in; seen.bodyBytes counts it.
  const legacy = await startUpstream(t, 'legacy', (_req, res, seen, name) => {
    legacyBodies.push(seen.bodyBytes)
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ backend: name, bytes: seen.bodyBytes }))
  })
  const django = await startUpstream(t, 'django', (req, res, seen, name) => {
    if ((req.url ?? '').includes('/legacy-only')) return void res.writeHead(404, { 'x-strangler-decline': 'not ported' }).end('no')
    if ((req.url ?? '').includes('/missing')) return void res.writeHead(404).end('a real 404')
    echo(req, res, seen, name)
  })
  const p = await startProxy(t, `listen: { host: 127.0.0.1 }
backends:
  legacy: { url: "${legacy.url}", legacy: true }
  django: { url: "${django.url}" }
flags: { file: flags.json }
cohort: { userId: { header: x-user-id } }
routes:
  - name: orders
    match: { path: /api/orders/* }
    backend: legacy
    maxBodySize: 4mb
    flag: { name: orders-on-django, backend: django }
    decline: { status: [404, 501], maxBodySize: 1mib }
  - { name: default, match: { path: /* }, backend: legacy }
`, { files: { 'flags.json': flagsJson([{ name: 'orders-on-django', enabled: true, strategies: [rollout(100)] }]) } })

  const get = await request(`${p.url}/api/orders/legacy-only/7`, { headers: { 'x-user-id': 'u1' } })
  t.equal(get.statusCode, 200)
  t.match(await get.body.json(), { backend: 'legacy' }, 'a declined GET is answered by legacy')
  const plain404 = await request(`${p.url}/api/orders/missing`, { headers: { 'x-user-id': 'u1' } })
  t.equal(plain404.statusCode, 404, 'a 404 without the header is django\'s answer')
  t.equal(await plain404.body.text(), 'a real 404')

  const mib = Buffer.alloc(1024 * 1024, 'x')
  const post = await request(`${p.url}/api/orders/legacy-only/7`, { method: 'POST', body: mib, headers: { 'x-user-id': 'u1', 'content-type': 'application/octet-stream' } })
  t.equal(post.statusCode, 200)
  t.match(await post.body.json(), { backend: 'legacy', bytes: 1024 * 1024 }, 'a declined POST with a 1 MiB body reaches legacy whole')

  const big = Buffer.alloc(2 * 1024 * 1024, 'y')
  const streamed = await request(`${p.url}/api/orders/legacy-only/7`, { method: 'POST', body: big, headers: { 'x-user-id': 'u1', 'content-type': 'application/octet-stream' } })
  t.equal(streamed.statusCode, 502)
  t.match(await streamed.body.json(), { code: 'SPX_DECLINE_NOT_REPLAYABLE', detail: /declined the request \(404\), and its body was larger than decline\.maxBodySize/ })
  t.same(legacyBodies, [0, 1024 * 1024], 'legacy got the GET and the whole 1 MiB POST, and nothing of the 2 MiB one')

  const metrics = await (await request(`${p.adminUrl}/metrics`)).body.text()
  t.match(metrics, /strangler_declined_total\{route="orders",backend="django"\} 3/)
  t.match(metrics, /strangler_decisions_total\{[^}]*reason="declined"[^}]*\} 2/)
  t.match(metrics, /strangler_evidence_requests_total\{route="orders",backend="django",class="4xx"\} 1\n/, 'django\'s one real 404 is evidence; its three declines are not')
  t.match(accessLines(p.logs).filter((l) => l.declinedFrom === 'django'), [{ backend: 'legacy', reason: 'declined', status: 200 }, { backend: 'legacy', reason: 'declined', status: 200 }, { status: 502 }])
})
