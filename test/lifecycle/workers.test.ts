/**
 * --workers: node:cluster workers share the traffic port, the primary serves the
 * admin port with metrics summed across workers, and reload and drain reach them all.
 */
import t from 'tap'
import { writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { Agent, request } from 'undici'
import { startUpstream } from '../helpers/backends.js'
import { writeConfig, yamlFor, sleep } from '../helpers/proxy.js'
import { spawnCli } from '../helpers/cli.js'

t.test('two workers serve, report together, reload and drain', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const file = writeConfig(t, yamlFor({ legacy: legacy.url, django: django.url }, '  - { name: all, match: { path: /* }, backend: legacy }'))
  const cli = spawnCli(t, ['start', '--workers', '2', '--config', file], { PORT: '0', ADMIN_PORT: '0' })
  const primary = await cli.waitFor((l) => l.msg === 'primary listening')
  const all = await cli.waitFor((l) => l.msg === 'all workers listening')
  const url = String(all.proxy)
  const admin = String(primary.admin)

  const ready = await request(`${admin}/readyz`)
  t.equal(ready.statusCode, 200)
  await ready.body.dump()

  // Many connections, so the kernel spreads them over both workers.
  const agent = new Agent({ connections: 32, pipelining: 0 })
  t.teardown(() => agent.close())
  await Promise.all(Array.from({ length: 200 }, async (_, i) => {
    const res = await request(`${url}/x/${i}`, { dispatcher: agent, headers: { connection: 'close' } })
    await res.body.dump()
  }))
  await sleep(200)
  const pids = new Set(cli.lines.filter((l) => l.msg === 'request').map((l) => l.pid))
  t.equal(pids.size, 2, 'both workers served requests')
  t.notOk(pids.has(primary.pid), 'the primary does not forward')
  const metrics = await (await request(`${admin}/metrics`)).body.text()
  t.match(metrics, 'strangler_requests_total{route="all",backend="legacy",method="GET",code="200"} 200', 'metrics summed across workers')
  const guard = await (await request(`${admin}/guard`)).body.json()
  t.match(guard, { routes: { workers: [{ pid: Number, routes: {} }, { pid: Number, routes: {} }] } })

  writeFileSync(file, yamlFor({ legacy: legacy.url, django: django.url }, '  - { name: all, match: { path: /* }, backend: django }'))
  cli.child.kill('SIGHUP')
  await cli.waitFor((l) => l.msg === 'config reloaded; telling workers')
  await sleep(500)
  const backends = new Set<string>()
  for (let i = 0; i < 20; i++) {
    const res = await request(`${url}/y/${i}`, { dispatcher: agent, headers: { connection: 'close' } })
    backends.add(((await res.body.json()) as { backend: string }).backend)
  }
  t.same([...backends], ['django'], 'every worker reloaded')

  cli.child.kill('SIGTERM')
  const exit = await cli.exited
  t.equal(exit.code, 0)
  t.equal(cli.lines.filter((l) => l.msg === 'stopped').length, 3, 'both workers and the primary stopped cleanly')
})

t.test('ramp plans under --workers: the primary says at start that nothing drives them, and how to', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const file = writeConfig(t, yamlFor({ legacy: legacy.url, django: django.url }, '  - { name: orders, match: { path: /api/* }, backend: legacy, flag: { name: orders-on-django, backend: django }, ramp: { steps: [10, 50] } }\n  - { name: all, match: { path: /* }, backend: legacy }', 'flags: { file: flags.yaml }'))
  writeFileSync(join(dirname(file), 'flags.yaml'), 'version: 2\nfeatures:\n  - { name: orders-on-django, enabled: true, strategies: [ { name: default } ] }\n')
  const cli = spawnCli(t, ['start', '--workers', '2', '--config', file], { PORT: '0', ADMIN_PORT: '0' })
  const warned = await cli.waitFor((l) => l.msg === 'ramp plans are not driven with --workers')
  t.match(warned, { level: 40, routes: ['orders'], fix: /ramps\.driver: fleet.*strangler-proxy control/ }, 'a warning naming the routes and the way out')
  const primary = await cli.waitFor((l) => l.msg === 'primary listening')
  const ramp = await request(`${String(primary.admin)}/ramp`)
  t.match(await ramp.body.json(), { detail: /a --workers primary does not/ }, 'and GET /ramp says the same')
})
