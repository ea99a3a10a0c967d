/**
 * A retiring route: legacy's answers carry Deprecation (RFC 9745: an sf-date, "@" and
 * Unix seconds), Sunset (RFC 8594: an IMF-fixdate) and Link with rel deprecation and
 * sunset; the new backend's answers carry none; the status page says when.
 */
import t from 'tap'
import { request } from 'undici'
import { startUpstream } from '../helpers/backends.js'
import { startProxy } from '../helpers/proxy.js'
import { flagsJson, rollout, usersByBucket } from '../helpers/flags.js'

const IMF_FIXDATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/

t.test('legacy\'s answers on a retiring route announce it; the new backend\'s do not', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
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
    flag: { name: orders-on-django, backend: django }
    retire: { deprecation: "2026-12-01", sunset: "2027-03-31T00:00:00Z", link: "https://docs.shop.example/orders-v2" }
  - { name: default, match: { path: /* }, backend: legacy }
`, { files: { 'flags.json': flagsJson([{ name: 'orders-on-django', enabled: true, strategies: [rollout(50)] }]) } })
  const users = usersByBucket('orders-on-django')
  const onLegacy = await request(`${p.url}/api/orders/1`, { headers: { 'x-user-id': users[80] as string } })
  t.match(await onLegacy.body.json(), { backend: 'legacy' })
  t.equal(onLegacy.headers.deprecation, `@${Date.parse('2026-12-01') / 1000}`, 'Deprecation: @ and the Unix time')
  t.match(onLegacy.headers.deprecation, /^@-?\d+$/, 'an sf-date')
  t.equal(onLegacy.headers.sunset, 'Wed, 31 Mar 2027 00:00:00 GMT')
  t.match(onLegacy.headers.sunset, IMF_FIXDATE, 'an IMF-fixdate')
  t.same([onLegacy.headers.link].flat(), ['<https://docs.shop.example/orders-v2>; rel="deprecation"; type="text/html"', '<https://docs.shop.example/orders-v2>; rel="sunset"; type="text/html"'])
  const onDjango = await request(`${p.url}/api/orders/1`, { headers: { 'x-user-id': users[10] as string } })
  t.match(await onDjango.body.json(), { backend: 'django' })
  t.equal(onDjango.headers.deprecation, undefined, 'the new backend is not retiring')
  t.equal(onDjango.headers.sunset, undefined)
  const other = await request(`${p.url}/account`)
  await other.body.dump()
  t.equal(other.headers.deprecation, undefined, 'nor are other routes')
  const status = await (await request(`${p.adminUrl}/status.json`)).body.json() as { routes: Array<{ name: string, retire: unknown }> }
  t.match(status.routes.find((r) => r.name === 'orders')?.retire, { deprecation: '2026-12-01T00:00:00.000Z', sunset: '2027-03-31T00:00:00.000Z', link: 'https://docs.shop.example/orders-v2' })
  const html = await (await request(`${p.adminUrl}/status`)).body.text()
  t.match(html, /legacy sunset 2027-03-31/)
})

t.test('a retire: that cannot be true is refused with its position', async (t) => {
  const { parseConfig } = await import('../../src/config/config.js')
  const { ConfigError, formatProblem } = await import('../../src/errors.js')
  const line = '  - { name: a, match: { path: /* }, backend: legacy, retire: { deprecation: "2027-05-01", sunset: "2027-03-31", link: "ftp://x" } }'
  try {
    parseConfig(`backends:\n  legacy: { url: "http://127.0.0.1:1" }\nroutes:\n${line}\n`, 'routes.yaml')
    t.fail('accepted')
  } catch (err) {
    t.ok(err instanceof ConfigError)
    t.same((err as InstanceType<typeof ConfigError>).problems.map(formatProblem), [
      `routes.yaml:4:${line.indexOf('"2027-03-31"') + 1}: routes[0].retire.sunset: is before the deprecation`,
      `routes.yaml:4:${line.indexOf('"ftp://x"') + 1}: routes[0].retire.link: "ftp://x" is not an http(s) URL`
    ])
  }
})
