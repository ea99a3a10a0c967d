/**
 * The control plane is not left open and does not leak credentials: an admin
 * listener reachable from other machines needs a token (or an explicit
 * --insecure-admin), and a Prometheus URL's password never reaches a log line.
 */
import t from 'tap'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { runCli, spawnCli } from '../helpers/cli.js'
import { tempDir, writeConfig, type LogLine } from '../helpers/proxy.js'
import { runRampDriver } from '../../src/lifecycle/ramp-runner.js'
import { createLogger } from '../../src/observe/log.js'

const fleet = (prometheus: string): string => `
backends:
  legacy: { url: "http://127.0.0.1:1" }
  django: { url: "http://127.0.0.1:2" }
flags:
  unleash: { url: "http://127.0.0.1:3/api", environment: development }
cohort: { userId: { header: x-user-id } }
ramps: { driver: fleet, prometheus: "${prometheus}" }
routes:
  - name: orders
    match: { path: /api/orders/* }
    backend: legacy
    flag: { name: orders-on-django, backend: django }
    ramp: { steps: [5, 50, 100] }
`

t.test('ramp run on 0.0.0.0 without a token is refused; with --insecure-admin it starts', async (t) => {
  const file = writeConfig(t, fleet('http://127.0.0.1:9'))
  const env = { UNLEASH_ADMIN_TOKEN: 'admin', XDG_STATE_HOME: join(tempDir(t), 'state') }
  const refused = await runCli(['ramp', 'run', '--config', file, '--listen', '0.0.0.0:0'], env)
  t.equal(refused.code, 1)
  t.match(refused.stderr, /ramp run would listen on 0\.0\.0\.0, reachable from other machines, with no STRANGLER_ADMIN_TOKEN/)
  const lab = spawnCli(t, ['ramp', 'run', '--config', file, '--listen', '0.0.0.0:0', '--insecure-admin'], env)
  await lab.waitFor((l) => l.msg === 'ramp driver running', 15_000)
  lab.child.kill('SIGTERM')
  await lab.exited
  // `control` is the same process under the name of its wider role, with the same rule.
  const control = await runCli(['control', '--config', file, '--listen', '0.0.0.0:0'], env)
  t.equal(control.code, 1)
  t.match(control.stderr, /would listen on 0\.0\.0\.0, reachable from other machines, with no STRANGLER_ADMIN_TOKEN/)
  const started = spawnCli(t, ['control', '--config', file, '--listen', '127.0.0.1:0'], env)
  await started.waitFor((l) => l.msg === 'ramp driver running', 15_000)
  started.child.kill('SIGTERM')
  await started.exited
})

t.test('the proxy refuses a non-loopback admin listener without a token', async (t) => {
  const dir = tempDir(t)
  const file = writeConfig(t, 'listen: { host: 127.0.0.1, port: 0 }\nadmin: { host: 0.0.0.0, port: 0 }\nbackends: { legacy: { url: "http://127.0.0.1:1" } }\nroutes:\n  - { name: all, match: { path: /* }, backend: legacy }\n', dir)
  const r = await runCli(['start', '--config', file], { XDG_STATE_HOME: join(dir, 'state') })
  t.equal(r.code, 1)
  t.match(r.stderr + r.stdout, /the admin port would listen on 0\.0\.0\.0, reachable from other machines, with no STRANGLER_ADMIN_TOKEN.*--insecure-admin/)
})

t.test('credentials in the Prometheus URL are redacted in the log', async (t) => {
  const dir = tempDir(t)
  const lines: LogLine[] = []
  const logger = createLogger({ level: 'info', destination: new Writable({ write (c: Buffer, _e, cb) { for (const l of c.toString().split('\n')) if (l !== '') lines.push(JSON.parse(l) as LogLine); cb() } }) })
  const runner = await runRampDriver({ configFile: writeConfig(t, fleet('http://ops:s3cret-pass@127.0.0.1:9'), dir), logger, host: '127.0.0.1', port: 0, env: { UNLEASH_ADMIN_TOKEN: 'admin', XDG_STATE_HOME: join(dir, 'state') }, watch: false })
  await runner.stop()
  const text = JSON.stringify(lines)
  t.notMatch(text, /s3cret-pass/, 'the password appears in no log line')
  t.match(lines.find((l) => l.msg === 'ramp driver running'), { prometheus: 'http://***@127.0.0.1:9/' })
})

t.test('the fleet status page signs a person in as a replica\'s does: a token once, then a cookie that only reads', async (t) => {
  const { request } = await import('undici')
  const dir = tempDir(t)
  const token = 'a-fleet-admin-token-of-32-bytes!!'
  const logger = createLogger({ level: 'silent' })
  const runner = await runRampDriver({ configFile: writeConfig(t, fleet('http://127.0.0.1:9'), dir), logger, host: '127.0.0.1', port: 0, adminToken: token, env: { UNLEASH_ADMIN_TOKEN: 'admin', XDG_STATE_HOME: join(dir, 'state') }, watch: false })
  t.teardown(() => runner.stop())
  const page = await request(`${runner.url}/status`, { headers: { accept: 'text/html' } })
  t.equal(page.statusCode, 401)
  t.match(await page.body.text(), /<form method="post" action="\/status\/login">/, 'a browser without a session gets the sign-in form')
  const wrong = await request(`${runner.url}/status/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=not-the-token' })
  t.equal(wrong.statusCode, 401)
  await wrong.body.dump()
  const signedIn = await request(`${runner.url}/status/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${token}` })
  t.equal(signedIn.statusCode, 303)
  await signedIn.body.dump()
  const cookie = String(signedIn.headers['set-cookie']).split(';')[0] as string
  // Prometheus is not there (port 9): past sign-in, the page says so instead of hiding it.
  const read = await request(`${runner.url}/status`, { headers: { cookie, accept: 'text/html' } })
  t.equal(read.statusCode, 502)
  t.match(await read.body.json(), { code: 'SPX_FLEET_UNAVAILABLE' })
  const act = await request(`${runner.url}/ramp/orders/pause`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: '{}' })
  t.equal(act.statusCode, 401, 'the cookie reads; it does not act')
  await act.body.dump()

  // Behind a TLS-terminating proxy: its X-Forwarded-Proto counts only when it is trusted.
  const signIn = async (url: string): Promise<string> => {
    const res = await request(`${url}/status/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-proto': 'https' }, body: `token=${token}` })
    await res.body.dump()
    return String(res.headers['set-cookie'])
  }
  t.notMatch(await signIn(runner.url), /;\s*Secure/i, 'a client that only says https gets no Secure cookie')
  const behind = tempDir(t)
  const trusting = await runRampDriver({ configFile: writeConfig(t, fleet('http://127.0.0.1:9') + 'client: { trustedProxies: [loopback] }\n', behind), logger, host: '127.0.0.1', port: 0, adminToken: token, env: { UNLEASH_ADMIN_TOKEN: 'admin', XDG_STATE_HOME: join(behind, 'state') }, watch: false })
  t.teardown(() => trusting.stop())
  t.match(await signIn(trusting.url), /;\s*Secure/i, 'behind a trusted proxy that terminated TLS, the cookie is Secure')
})
