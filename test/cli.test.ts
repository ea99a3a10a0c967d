import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { request } from 'undici'
import { startUpstream, closedPort } from './helpers/backends.js'
import { tempDir, writeConfig, sleep, yamlFor, ROOT } from './helpers/proxy.js'
import { runCli, spawnCli } from './helpers/cli.js'

const BROKEN = `backends:
  legacy: { url: "http://127.0.0.1:8000", timeout: 30 }
routes:
  - name: orders
    match: { path: /api/orders/* }
    backend: djagno
`

t.test('validate: OK on a good file, exit 0', async (t) => {
  const res = await runCli(['validate', join(ROOT, 'routes.yaml')])
  t.equal(res.code, 0)
  t.match(res.stdout, /routes\.yaml: OK \(4 routes, 2 backends, version [0-9a-f]{12}\)/)
})

t.test('validate: exit 1 naming file, line, column and field of every problem', async (t) => {
  const file = writeConfig(t, BROKEN)
  const res = await runCli(['validate', file])
  t.equal(res.code, 1)
  t.equal(res.stdout, '')
  t.equal(res.stderr, `${file}:2:52: backends.legacy.timeout: must be a duration with a unit, e.g. 250ms, 5s, 2m\n${file}:6:14: routes[0].backend: unknown backend "djagno"; defined: legacy\nSPX_CONFIG_INVALID: 2 problem(s)\n`, 'the type error and the reference, at once')
  const fixed = writeConfig(t, BROKEN.replace('timeout: 30', 'timeout: 30s'))
  const again = await runCli(['validate', fixed])
  t.equal(again.code, 1)
  t.match(again.stderr, `${fixed}:6:14: routes[0].backend: unknown backend "djagno"; defined: legacy`)
})

t.test('validate: missing file and bad usage', async (t) => {
  const missing = await runCli(['validate', '/nonexistent/routes.yaml'])
  t.equal(missing.code, 1)
  t.match(missing.stderr, 'SPX_CONFIG_UNREADABLE: /nonexistent/routes.yaml: ENOENT')
  const usage = await runCli(['frobnicate'])
  t.equal(usage.code, 2)
  t.match(usage.stderr, 'SPX_USAGE: unknown command "frobnicate"')
})

t.test('start refuses to listen on an invalid file', async (t) => {
  const file = writeConfig(t, BROKEN)
  const port = await closedPort()
  const cli = spawnCli(t, ['start', '--config', file], { PORT: String(port), ADMIN_PORT: '0' })
  const exit = await cli.exited
  t.equal(exit.code, 1)
  t.match(cli.stderr(), `${file}:2:52: backends.legacy.timeout`)
  t.notOk(cli.lines.some((l) => l.msg === 'listening'))
})

t.test('start on a port in use: exit 1 with SPX_LISTEN_FAILED naming the port', async (t) => {
  const { createServer } = await import('node:net')
  const holder = createServer()
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
  t.teardown(() => holder.close())
  const port = (holder.address() as { port: number }).port
  const file = writeConfig(t, yamlFor({ legacy: 'http://127.0.0.1:8000' }, '  - { name: all, match: { path: /* }, backend: legacy }'))
  const cli = spawnCli(t, ['start', '--config', file], { PORT: String(port), ADMIN_PORT: '0' })
  const exit = await cli.exited
  t.equal(exit.code, 1)
  t.match(cli.stderr(), `SPX_LISTEN_FAILED: the traffic port 127.0.0.1:${port} could not be opened (EADDRINUSE); listen.port / PORT names another`)
  t.notOk(cli.lines.some((l) => l.msg === 'listening'))
})

t.test('state.dir holds the timeline; one open to other users is refused with SPX_STATE_DIR_UNSAFE', async (t) => {
  const { mkdirSync, readdirSync } = await import('node:fs')
  const dir = join(tempDir(t), 'state')
  const file = writeConfig(t, yamlFor({ legacy: 'http://127.0.0.1:8000' }, '  - { name: all, match: { path: /* }, backend: legacy }', `state: { dir: "${dir}" }`))
  const cli = spawnCli(t, ['start', '--config', file], { PORT: '0', ADMIN_PORT: '0' })
  await cli.waitFor((l) => l.msg === 'listening')
  cli.child.kill('SIGTERM')
  t.equal((await cli.exited).code, 0)
  t.ok(readdirSync(dir).some((f) => f.startsWith('timeline')), 'the timeline is kept in state.dir')

  const open = join(tempDir(t), 'shared')
  mkdirSync(open, { mode: 0o755 })
  const refused = spawnCli(t, ['start', '--config', writeConfig(t, yamlFor({ legacy: 'http://127.0.0.1:8000' }, '  - { name: all, match: { path: /* }, backend: legacy }', `state: { dir: "${open}" }`))], { PORT: '0', ADMIN_PORT: '0' })
  t.equal((await refused.exited).code, 1)
  t.match(refused.stderr(), `SPX_STATE_DIR_UNSAFE: state directory ${open} (state.dir) is accessible to other users (mode 755); chmod 700 it`)
})

t.test('explain from the CLI prints the decision as JSON', async (t) => {
  const res = await runCli(['explain', '--config', join(ROOT, 'routes.yaml'), 'GET', '/api/orders/7', '--header', 'host:shop.example', '--header', 'x-tenant-id:acme'])
  t.equal(res.code, 0)
  t.match(JSON.parse(res.stdout), { route: 'orders', backend: 'django', reason: 'flag_on', outgoing: { url: 'http://127.0.0.1:8001/api/orders/7', host: 'shop.example' } })
  const report = await runCli(['explain', '--config', join(ROOT, 'routes.yaml'), 'GET', '/reports/q1'])
  t.match(JSON.parse(report.stdout), { route: 'reports', backend: 'django', reason: 'static' })
})

t.test('SIGHUP reloads the file', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const dir = tempDir(t)
  const file = writeConfig(t, yamlFor({ legacy: legacy.url, django: django.url }, '  - { name: all, match: { path: /* }, backend: legacy }'), dir)
  const cli = spawnCli(t, ['start'], { STRANGLER_CONFIG: file, PORT: '0', ADMIN_PORT: '0' })
  const listening = await cli.waitFor((l) => l.msg === 'listening')
  const url = String(listening.proxy).replace('0.0.0.0', '127.0.0.1')
  t.match(await (await request(`${url}/x`)).body.json(), { backend: 'legacy' })
  writeFileSync(file, yamlFor({ legacy: legacy.url, django: django.url }, '  - { name: all, match: { path: /* }, backend: django }'))
  cli.child.kill('SIGHUP')
  await cli.waitFor((l) => l.msg === 'config reloaded')
  t.match(await (await request(`${url}/x`)).body.json(), { backend: 'django' })
  cli.child.kill('SIGTERM')
  t.equal((await cli.exited).code, 0)
})

t.test('SIGTERM: readiness fails, a slow in-flight request completes, then exit 0', async (t) => {
  let release: () => void = () => {}
  const legacy = await startUpstream(t, 'legacy', (_req, res) => { release = () => res.end('finished') })
  const file = writeConfig(t, yamlFor({ legacy: legacy.url }, '  - { name: all, match: { path: /* }, backend: legacy }', 'shutdown: { timeout: 10s }'))
  const cli = spawnCli(t, ['start', '--config', file], { PORT: '0', ADMIN_PORT: '0' })
  const listening = await cli.waitFor((l) => l.msg === 'listening')
  const url = String(listening.proxy).replace('0.0.0.0', '127.0.0.1')
  const admin = String(listening.admin)
  const inflight = request(`${url}/slow`)
  while (legacy.seen.length === 0) await sleep(10)
  cli.child.kill('SIGTERM')
  await cli.waitFor((l) => String(l.msg).startsWith('draining'))
  const ready = await request(`${admin}/readyz`)
  t.equal(ready.statusCode, 503)
  t.match(await ready.body.json(), { status: 'draining' })
  await sleep(300)
  t.equal(cli.child.exitCode, null, 'still running while a request is in flight')
  release()
  const res = await inflight
  t.equal(res.statusCode, 200)
  t.equal(await res.body.text(), 'finished')
  const exit = await cli.exited
  t.equal(exit.code, 0)
  t.match(cli.lines.find((l) => l.msg === 'stopped'), { result: 'drained' })
})

t.test('SIGTERM when idle exits at once, even with warm keep-alive sockets both sides', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const file = writeConfig(t, yamlFor({ legacy: legacy.url }, '  - { name: all, match: { path: /* }, backend: legacy }'))
  const cli = spawnCli(t, ['start', '--config', file], { PORT: '0', ADMIN_PORT: '0' })
  const listening = await cli.waitFor((l) => l.msg === 'listening')
  const url = String(listening.proxy).replace('0.0.0.0', '127.0.0.1')
  for (let i = 0; i < 5; i++) await (await request(`${url}/warm`)).body.dump()
  const start = performance.now()
  cli.child.kill('SIGTERM')
  const exit = await cli.exited
  const ms = performance.now() - start
  t.equal(exit.code, 0)
  t.ok(ms < 2000, `exited ${ms.toFixed(0)} ms after SIGTERM (deadline 30 s)`)
})

t.test('at the deadline, remaining requests are cut and the process still exits 0', async (t) => {
  const legacy = await startUpstream(t, 'legacy', () => {})
  const file = writeConfig(t, yamlFor({ legacy: legacy.url }, '  - { name: all, match: { path: /* }, backend: legacy }', 'shutdown: { timeout: 500ms }'))
  const cli = spawnCli(t, ['start', '--config', file], { PORT: '0', ADMIN_PORT: '0' })
  const listening = await cli.waitFor((l) => l.msg === 'listening')
  const url = String(listening.proxy).replace('0.0.0.0', '127.0.0.1')
  const stuck = request(`${url}/never`).catch((err: Error) => err)
  while (legacy.seen.length === 0) await sleep(10)
  const start = performance.now()
  cli.child.kill('SIGTERM')
  const exit = await cli.exited
  t.equal(exit.code, 0)
  t.ok(performance.now() - start < 3000)
  t.ok((await stuck) instanceof Error, 'the stuck request was cut')
  t.match(cli.lines.find((l) => l.msg === 'stopped'), { result: 'late' })
})
