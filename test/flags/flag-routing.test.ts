import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { request } from 'undici'
import { startUpstream } from '../helpers/backends.js'
import { startProxy, accessLines, sleep, type TestProxy } from '../helpers/proxy.js'
import { flagsJson, flaggedYaml, rollout } from '../helpers/flags.js'

async function backendFor (proxy: TestProxy, headers: Record<string, string> = {}, path = '/api/orders/1'): Promise<string> {
  const res = await request(`${proxy.url}${path}`, { headers })
  return ((await res.body.json()) as { backend: string }).backend
}

t.test('flag on → the flag backend, off → the baseline; reasons in the access log', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const proxy = await startProxy(t, flaggedYaml(legacy.url, django.url), {
    files: { 'flags.json': flagsJson([{ name: 'orders-on-django', enabled: true, strategies: [{ name: 'userWithId', parameters: { userIds: 'alice,bob' } }] }]) }
  })
  t.equal(await backendFor(proxy, { 'x-user-id': 'alice' }), 'django')
  t.equal(await backendFor(proxy, { cookie: 'uid=bob' }), 'django', 'userId from the cookie source')
  t.equal(await backendFor(proxy, { 'x-user-id': 'carol' }), 'legacy')
  t.equal(await backendFor(proxy, { 'x-user-id': 'alice' }, '/other'), 'legacy', 'routes without a flag are static')
  await sleep(20)
  t.match(accessLines(proxy.logs).map((l) => [l.route, l.backend, l.reason, l.flag]), [
    ['orders', 'django', 'flag_on', 'orders-on-django'],
    ['orders', 'django', 'flag_on', 'orders-on-django'],
    ['orders', 'legacy', 'flag_off', 'orders-on-django'],
    ['default', 'legacy', 'static', undefined]
  ])
})

t.test('a missing flag or missing flags file → baseline with reason flag_unavailable', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const proxy = await startProxy(t, flaggedYaml(legacy.url, django.url), { files: { 'flags.json': flagsJson([]) } })
  t.equal(await backendFor(proxy, { 'x-user-id': 'alice' }), 'legacy')
  const noFile = await startProxy(t, flaggedYaml(legacy.url, django.url))
  t.equal(await backendFor(noFile, { 'x-user-id': 'alice' }), 'legacy')
  t.match(noFile.logs.find((l) => l.msg === 'flags file unreadable, routes use their baseline backend'), { level: 50 })
  const ready = await (await request(`${noFile.adminUrl}/readyz`)).body.json()
  t.match(ready, { status: 'ready', flags: { source: 'file', origin: 'none', ready: false, degraded: true } }, 'degraded is reported, readiness holds')
  await sleep(20)
  t.match(accessLines(proxy.logs)[0], { reason: 'flag_unavailable' })
})

t.test('variants pick among more than two backends', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const next = await startUpstream(t, 'next')
  const yaml = flaggedYaml(legacy.url, django.url, '', '{ name: orders-ab, variants: { blue: django, green: next } }')
    .replace('backends:\n', `backends:\n  next: { url: "${next.url}" }\n`)
  const proxy = await startProxy(t, yaml, {
    files: {
      'flags.json': flagsJson([{
        name: 'orders-ab',
        enabled: true,
        strategies: [{ name: 'default' }],
        variants: [{ name: 'blue', weight: 500, stickiness: 'userId', weightType: 'variable' }, { name: 'green', weight: 500, stickiness: 'userId', weightType: 'variable' }]
      }])
    }
  })
  const seen: Record<string, number> = {}
  for (let i = 0; i < 200; i++) {
    const b = await backendFor(proxy, { 'x-user-id': `user-${i}` })
    seen[b] = (seen[b] ?? 0) + 1
  }
  t.same(Object.keys(seen).sort(), ['django', 'next'], 'both variants used, never the baseline')
  t.ok((seen.django ?? 0) > 60 && (seen.next ?? 0) > 60, `split ${JSON.stringify(seen)}`)
  t.equal(await backendFor(proxy, { 'x-user-id': 'user-7' }), await backendFor(proxy, { 'x-user-id': 'user-7' }), 'a user keeps the variant')
  await sleep(20)
  t.match(accessLines(proxy.logs)[0], { reason: 'flag_on', variant: /^(blue|green)$/ })
})

t.test('variants named like Object members (constructor, toString, __proto__) fall back to the baseline', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  for (const name of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) {
    const proxy = await startProxy(t, flaggedYaml(legacy.url, django.url, '', '{ name: orders-ab, variants: { blue: django } }'), {
      files: { 'flags.json': flagsJson([{ name: 'orders-ab', enabled: true, strategies: [{ name: 'default' }], variants: [{ name, weight: 1000, stickiness: 'default', weightType: 'variable' }] }]) }
    })
    const res = await request(`${proxy.url}/api/orders/1`, { headers: { 'x-user-id': 'user-1' } })
    t.equal(res.statusCode, 200, `variant ${name}: 200`)
    t.match(await res.body.json(), { backend: 'legacy' }, `variant ${name}: the baseline serves`)
  }
})

t.test('constraints on tenant decide, from the configured header', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const proxy = await startProxy(t, flaggedYaml(legacy.url, django.url), {
    files: { 'flags.json': flagsJson([{ name: 'orders-on-django', enabled: true, strategies: [{ name: 'default', constraints: [{ contextName: 'tenant', operator: 'IN', values: ['acme'] }] }] }]) }
  })
  t.equal(await backendFor(proxy, { 'x-tenant-id': 'acme' }), 'django')
  t.equal(await backendFor(proxy, { 'x-tenant-id': 'globex' }), 'legacy')
  t.equal(await backendFor(proxy), 'legacy')
})

t.test('the flags file is reloaded on change; a broken edit keeps the last flags', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const proxy = await startProxy(t, flaggedYaml(legacy.url, django.url), {
    watch: true,
    files: { 'flags.json': flagsJson([{ name: 'orders-on-django', enabled: false, strategies: [] }]) }
  })
  const flagsFile = join(dirname(proxy.file), 'flags.json')
  t.equal(await backendFor(proxy, { 'x-user-id': 'alice' }), 'legacy')
  writeFileSync(flagsFile, flagsJson([{ name: 'orders-on-django', enabled: true, strategies: [rollout(100)] }]))
  for (let i = 0; i < 100 && (await backendFor(proxy, { 'x-user-id': 'alice' })) !== 'django'; i++) await sleep(30)
  t.equal(await backendFor(proxy, { 'x-user-id': 'alice' }), 'django', 'the new rollout applies')
  writeFileSync(flagsFile, '{ "features": [ { "name": 1 } ] }')
  for (let i = 0; i < 100 && !proxy.logs.some((l) => l.msg === 'flags file rejected, keeping the last good flags'); i++) await sleep(30)
  t.match(proxy.logs.find((l) => l.msg === 'flags file rejected, keeping the last good flags'), { level: 50, error: /features\[0\]\.name must be a string/ })
  t.equal(await backendFor(proxy, { 'x-user-id': 'alice' }), 'django', 'still the last good flags')
})
