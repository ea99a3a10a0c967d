/**
 * End to end: the real legacy app and the real Django service behind the proxy,
 * flags from a file. Migrated routes reach Django, the flagged route splits by user
 * and stays sticky, the legacy login's session is honoured by Django, and a dead
 * Django turns only its routes into 503 problems.
 */
import t from 'tap'
import { request } from 'undici'
import { freePort } from '../helpers/backends.js'
import { startProxy } from '../helpers/proxy.js'
import { flagsJson, rollout } from '../helpers/flags.js'
import { djangoMissing, startDjango, startLegacy, type App } from '../../examples/stack.js'

t.test('legacy app and Django behind the proxy', async (t) => {
  const missing = djangoMissing()
  if (missing !== undefined) {
    if (process.env.STRANGLER_REQUIRE_DJANGO === '1') throw new Error(missing)
    t.pass('end to end with Django', { skip: `${missing} (apt-get install python3-django)` })
    return
  }
  const apps: App[] = []
  t.teardown(() => Promise.all(apps.map((a) => a.stop())))
  const legacy = await startLegacy(await freePort())
  apps.push(legacy)
  const django = await startDjango(await freePort())
  apps.push(django)
  const proxy = await startProxy(t, `listen: { host: 127.0.0.1 }
backends:
  legacy: { url: "${legacy.url}", legacy: true }
  django: { url: "${django.url}", timeouts: { connect: 1s } }
flags: { file: flags.json }
cohort: { userId: { header: x-user-id } }
# The guard runs at its defaults: a latency blip on a loaded host is not a regression.
tracing: { endpoint: "http://127.0.0.1:${await freePort()}/v1/traces" }
routes:
  - { name: reports, match: { path: /reports/* }, backend: django }
  - { name: orders, match: { path: /api/orders/* }, backend: legacy, flag: { name: orders-on-django, backend: django } }
  - { name: default, match: { path: /* }, backend: legacy }
`, { files: { 'flags.json': flagsJson([{ name: 'orders-on-django', enabled: true, strategies: [rollout(50)] }]) } })

  // The legacy login sets the shared session cookie.
  const login = await request(`${proxy.url}/login?user=alice&tenant=acme`)
  t.equal(login.statusCode, 200)
  t.equal(login.headers['x-served-by'], 'legacy')
  await login.body.dump()
  const cookie = String(login.headers['set-cookie']).split(';')[0] as string
  t.match(cookie, /^session=[\w-]+\.[0-9a-f]{64}$/)

  // A migrated route reaches Django, and Django honours the legacy session.
  const report = await request(`${proxy.url}/reports/monthly`, { headers: { cookie } })
  t.equal(report.statusCode, 200)
  t.equal(report.headers['x-served-by'], 'django')
  t.match(await report.body.text(), /Signed in as alice/)
  const me = await request(`${proxy.url}/api/me`, { headers: { cookie } })
  t.same(await me.body.json(), { user: 'alice', tenant: 'acme' }, 'the legacy app reads its own session')

  // The flagged route splits by user, sticky, with the same JSON shape on both apps.
  const servedBy = new Map<string, string>()
  const shapes = new Map<string, string>()
  for (let i = 0; i < 30; i++) {
    const user = `user-${i}`
    const seen = new Set<string>()
    for (let j = 0; j < 3; j++) {
      const res = await request(`${proxy.url}/api/orders/${40 + j}`, { headers: { 'x-user-id': user, cookie } })
      t.equal(res.statusCode, 200)
      const body = (await res.body.json()) as Record<string, unknown>
      const by = String(res.headers['x-served-by'])
      seen.add(by)
      shapes.set(by, Object.keys(body).sort().join(','))
      if (j === 0) t.same(body, { id: 40, sku: 'A-100', qty: 1, status: 'new', total: '12.50', customer: 'alice' }, `${user} on ${by}: same order`)
    }
    t.equal(seen.size, 1, `${user} stays on one backend`)
    servedBy.set(user, [...seen][0] as string)
  }
  const onDjango = [...servedBy.values()].filter((b) => b === 'django').length
  t.ok(onDjango > 5 && onDjango < 25, `${onDjango} of 30 users on Django at a 50 % rollout`)
  t.equal(new Set(shapes.values()).size, 1, 'both apps answer orders with the same JSON shape')

  // One request's trace id in the proxy's access line and in each app's log.
  const parent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
  for (const [path, app] of [['/reports/monthly', django], ['/api/me', legacy]] as const) {
    await (await request(`${proxy.url}${path}`, { headers: { cookie, traceparent: parent } })).body.dump()
    const deadline = Date.now() + 3000
    while (!app.output().includes('0af7651916cd43dd8448eb211c80319c') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50))
    t.match(app.output(), new RegExp(`"path": ?"${path}", ?"traceId": ?"0af7651916cd43dd8448eb211c80319c"`), `${app.name} logs the trace id`)
  }
  const traced = proxy.logs.filter((l) => l.msg === 'request' && l.traceId === '0af7651916cd43dd8448eb211c80319c')
  t.equal(traced.length, 2, 'and so does the proxy, for both requests')

  // Django goes away: its routes become 503 problems, legacy routes keep working.
  await django.stop()
  const gone = await request(`${proxy.url}/reports/monthly`, { headers: { cookie } })
  t.equal(gone.statusCode, 503)
  t.equal(gone.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.match(await gone.body.json(), { code: 'SPX_BACKEND_UNAVAILABLE', status: 503, detail: 'backend "django" is not accepting connections' })
  const djangoUser = [...servedBy].find(([, b]) => b === 'django')?.[0] as string
  const flagged = await request(`${proxy.url}/api/orders/1`, { headers: { 'x-user-id': djangoUser } })
  t.equal(flagged.statusCode, 200, 'a Django-cohort GET fails over to the legacy app')
  t.equal(flagged.headers['x-served-by'], 'legacy')
  await flagged.body.dump()
  const write = await request(`${proxy.url}/api/orders`, { method: 'POST', body: '{"sku":"A-100"}', headers: { 'x-user-id': djangoUser, cookie, 'content-type': 'application/json' } })
  t.equal(write.statusCode, 503, 'a Django-cohort POST gets a clear 503, never replayed elsewhere')
  t.match(await write.body.json(), { code: 'SPX_BACKEND_UNAVAILABLE' })
  const home = await request(`${proxy.url}/`, { headers: { cookie } })
  t.equal(home.statusCode, 200)
  t.match(await home.body.text(), /Signed in as alice/)
  const legacyUser = [...servedBy].find(([, b]) => b === 'legacy')?.[0] as string
  const stillLegacy = await request(`${proxy.url}/api/orders/2`, { headers: { 'x-user-id': legacyUser } })
  t.equal(stillLegacy.statusCode, 200, 'legacy cohort unaffected')
  t.equal(stillLegacy.headers['x-served-by'], 'legacy')
  await stillLegacy.body.dump()
})
