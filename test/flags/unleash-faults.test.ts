import t from 'tap'
import { request } from 'undici'
import { startUpstream, closedPort } from '../helpers/backends.js'
import { startProxy, tempDir, sleep, type TestProxy } from '../helpers/proxy.js'
import { startFakeUnleash } from '../helpers/fake-unleash.js'
import { flagsJson, rollout } from '../helpers/flags.js'

const ON_FOR_ALICE = [{ name: 'orders-on-django', enabled: true, strategies: [{ name: 'userWithId', parameters: { userIds: 'alice' } }] }]

function yaml (legacy: string, django: string, unleashUrl: string, bootstrap = false): string {
  return `listen: { host: 127.0.0.1 }
backends:
  legacy: { url: "${legacy}" }
  django: { url: "${django}" }
flags:
${bootstrap ? '  file: bootstrap.json\n' : ''}  unleash: { url: "${unleashUrl}", appName: spx-test, environment: test, refreshInterval: 150ms, timeout: 1s }
cohort: { userId: { header: x-user-id } }
routes:
  - { name: orders, match: { path: /api/orders/* }, backend: legacy, flag: { name: orders-on-django, backend: django } }
  - { name: default, match: { path: /* }, backend: legacy }
`
}

async function route (proxy: TestProxy): Promise<{ backend: string, ms: number }> {
  const start = performance.now()
  const res = await request(`${proxy.url}/api/orders/1`, { headers: { 'x-user-id': 'alice' } })
  const body = (await res.body.json()) as { backend: string }
  return { backend: body.backend, ms: performance.now() - start }
}

async function flagsStatus (proxy: TestProxy): Promise<Record<string, unknown>> {
  const body = (await (await request(`${proxy.adminUrl}/readyz`)).body.json()) as { flags: Record<string, unknown> }
  return body.flags
}

async function until (cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await sleep(25)
  }
}

t.test('500, hang and malformed JSON keep the last known flags; requests stay fast', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const fake = await startFakeUnleash(t, ON_FOR_ALICE)
  const proxy = await startProxy(t, yaml(legacy.url, django.url, fake.url), { env: { UNLEASH_API_TOKEN: 'default:test.token' } })
  t.match(await flagsStatus(proxy), { source: 'unleash', origin: 'live', up: true, degraded: false })
  t.equal((await route(proxy)).backend, 'django')
  t.equal(fake.tokens[0], 'default:test.token', 'the token comes from UNLEASH_API_TOKEN')
  for (const mode of ['500', 'hang', 'malformed'] as const) {
    fake.mode = mode
    const seen = fake.requests
    // A hanging server costs unleash-client three timed-out tries before it reports.
    await until(async () => fake.requests > seen + 1 && (await flagsStatus(proxy)).up === false, 15000)
    const r = await route(proxy)
    t.equal(r.backend, 'django', `${mode}: still routed by the last known flags`)
    t.ok(r.ms < 250, `${mode}: request took ${r.ms.toFixed(0)} ms`)
    t.match(await flagsStatus(proxy), { origin: 'live', up: false, degraded: true, lastError: String })
    const ready = await request(`${proxy.adminUrl}/readyz`)
    t.equal(ready.statusCode, 200, `${mode}: readiness is not failed by a flag outage`)
    await ready.body.dump()
    fake.mode = 'ok'
    await until(async () => (await flagsStatus(proxy)).up === true)
  }
  fake.features = [{ ...ON_FOR_ALICE[0], enabled: false }]
  await until(async () => (await route(proxy)).backend === 'legacy')
  t.pass('a recovered service delivers changes again')
})

t.test('401/403 is loud, shown in /readyz, and recovered by recreating the client', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const fake = await startFakeUnleash(t, ON_FOR_ALICE)
  const proxy = await startProxy(t, yaml(legacy.url, django.url, fake.url))
  t.equal((await route(proxy)).backend, 'django')
  fake.mode = '401'
  await until(async () => (await flagsStatus(proxy)).authFailed === true)
  t.match(proxy.logs.find((l) => String(l.msg).startsWith('Unleash refused the API token')), { level: 50 })
  t.equal((await route(proxy)).backend, 'django', 'last known flags keep routing')
  fake.mode = 'ok'
  fake.features = [{ ...ON_FOR_ALICE[0], enabled: false }]
  await until(async () => (await flagsStatus(proxy)).authFailed === false, 8000)
  t.match(await flagsStatus(proxy), { origin: 'live', up: true })
  t.equal((await route(proxy)).backend, 'legacy', 'the recreated client fetched the new state')
  t.ok(proxy.logs.some((l) => l.msg === 'Unleash accepted the credentials again; flags are live'))
})

t.test('unreachable at start: backup, then bootstrap, then the baseline; start never hangs', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const state = tempDir(t)
  const env = { XDG_STATE_HOME: state }

  // A first run fetches and writes the backup to the private directory.
  const fake = await startFakeUnleash(t, ON_FOR_ALICE)
  const first = await startProxy(t, yaml(legacy.url, django.url, fake.url), { env })
  t.equal((await route(first)).backend, 'django')
  await first.shutdown('done')

  const down = `http://127.0.0.1:${await closedPort()}/api`
  const started = performance.now()
  const fromBackup = await startProxy(t, yaml(legacy.url, django.url, down, true), { env, files: { 'bootstrap.json': flagsJson([{ name: 'orders-on-django', enabled: false, strategies: [] }]) } })
  t.ok(performance.now() - started < 4000, 'start is bounded')
  t.match(await flagsStatus(fromBackup), { origin: 'backup', up: false, degraded: true })
  t.equal((await route(fromBackup)).backend, 'django', 'the backup wins over the bootstrap file')
  const { statSync } = await import('node:fs')
  t.equal(statSync(`${state}/strangler-proxy`).mode & 0o777, 0o700, 'the backup directory is private')
  t.equal(statSync(`${state}/strangler-proxy/unleash-backup-spx-test.json`).mode & 0o777, 0o600, 'and so is the backup file')

  const fromBootstrap = await startProxy(t, yaml(legacy.url, django.url, down, true), {
    env: { XDG_STATE_HOME: tempDir(t) },
    files: { 'bootstrap.json': flagsJson([{ name: 'orders-on-django', enabled: true, strategies: [rollout(100)] }]) }
  })
  t.match(await flagsStatus(fromBootstrap), { origin: 'bootstrap' })
  t.equal((await route(fromBootstrap)).backend, 'django')

  const bare = await startProxy(t, yaml(legacy.url, django.url, down), { env: { XDG_STATE_HOME: tempDir(t) }, flagsStartWaitMs: 300 })
  t.match(await flagsStatus(bare), { origin: 'none', ready: false })
  t.equal((await route(bare)).backend, 'legacy', 'no flags at all: the baseline backend')
  const explain = (await (await request(`${bare.adminUrl}/explain?path=/api/orders/1&header=x-user-id:alice`)).body.json()) as Record<string, unknown>
  t.match(explain, { reason: 'flag_unavailable', flag: { origin: 'none', found: false } })
})

t.test('a state directory owned by another user is refused at start (the older flags.unleash.backupDir names it too)', async (t) => {
  const { mkdirSync, chownSync } = await import('node:fs')
  if (process.getuid?.() !== 0) {
    t.pass('needs root to give a directory to another user', { skip: 'not root' })
    return
  }
  const dir = `${tempDir(t)}/theirs`
  mkdirSync(dir, { mode: 0o700 })
  chownSync(dir, 1, 1)
  const config = yaml('http://127.0.0.1:1', 'http://127.0.0.1:2', `http://127.0.0.1:${await closedPort()}/api`).replace('timeout: 1s }', `timeout: 1s, backupDir: "${dir}" }`)
  await t.rejects(startProxy(t, config, { flagsStartWaitMs: 100 }), /SPX_STATE_DIR_UNSAFE: state directory .* belongs to another user \(uid 1\)/)
})
