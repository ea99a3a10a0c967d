/**
 * One rule for which backends are legacy: on the repository's own routes.yaml and
 * flags.yaml, the status page and strangler_migration_share agree route by route.
 * They once disagreed: the page called `reports` (django, no flag) migrated while the
 * share showed it at 0 % new.
 */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { request } from 'undici'
import { startUpstream } from '../helpers/backends.js'
import { startProxy, ROOT } from '../helpers/proxy.js'

t.test('the status page and strangler_migration_share agree on the repository\'s routes.yaml', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const yaml = readFileSync(join(ROOT, 'routes.yaml'), 'utf8')
    .replace('url: http://127.0.0.1:8000', `url: "${legacy.url}"`)
    .replace('url: http://127.0.0.1:8001', `url: "${django.url}"`)
    .replace(/^listen: .*$/m, 'listen: { host: 127.0.0.1 }')
  t.not(yaml, readFileSync(join(ROOT, 'routes.yaml'), 'utf8'), 'both backends pointed at the test upstreams')
  const p = await startProxy(t, yaml, { files: { 'flags.yaml': readFileSync(join(ROOT, 'flags.yaml'), 'utf8') } })
  for (let i = 0; i < 40; i++) {
    for (const path of ['/reports/q1', `/api/orders/${i}`, '/account']) {
      await (await request(`${p.url}${path}`, { headers: { 'x-user-id': `user-${i}` } })).body.dump()
    }
  }
  const status = await (await request(`${p.adminUrl}/status.json`)).body.json() as { routes: Array<{ name: string, state: string }> }
  const states = Object.fromEntries(status.routes.map((r) => [r.name, r.state]))
  const text = await (await request(`${p.adminUrl}/metrics`)).body.text()
  const share = (route: string): number => Number(text.match(new RegExp(`^strangler_migration_share\\{route="${route}"\\} (\\S+)$`, 'm'))?.[1])
  t.same(states, { admin: 'migrated', reports: 'migrated', orders: 'migrating', default: 'legacy' }, 'the status page')
  t.equal(share('reports'), 1, 'reports: every request on the new backend, as "migrated" says')
  t.equal(share('default'), 0, 'default: none, as "legacy" says')
  t.ok(share('orders') > 0 && share('orders') < 1, `orders: some, as "migrating" says (${share('orders')})`)
})
