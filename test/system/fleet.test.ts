/**
 * A fleet on one machine, with real parts: three proxy processes behind HAProxy
 * (health checks on /readyz), one real Unleash, one real Prometheus scraping the three
 * admin ports. A user keeps their backend whichever replica answers; a rollout change
 * reaches all three; a guard trip on a replica switches the flag off for all; the
 * Prometheus sum matches the rollout; a rolling restart under load loses nothing.
 */
import t from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { startUpstream } from '../helpers/backends.js'
import { tempDir, writeConfig, sleep } from '../helpers/proxy.js'
import { spawnCli, type Cli } from '../helpers/cli.js'
import { rollout, usersByBucket } from '../helpers/flags.js'
import { freePort } from '../helpers/free-port.js'
import { startPrometheus, prometheusMissing } from '../helpers/prometheus.js'
import { startUnleashServer, unavailable, ADMIN_TOKEN, CLIENT_TOKEN } from '../helpers/unleash-server.js'
import { putFeature, firstStrategyId } from '../helpers/unleash-admin.js'

// Its own flag: the Unleash server is shared with the other system tests.
const FLAG = 'orders-on-django-fleet'
const USERS = usersByBucket(FLAG)
const REFRESH_MS = 500

// Three replicas, HAProxy, Unleash, Prometheus and a rolling restart: over a minute on a
// quiet host, about two on a loaded one.
t.setTimeout(240_000)

t.test('three replicas behind HAProxy behave as one', async (t) => {
  const why = spawnSync('haproxy', ['-v']).error !== undefined ? 'haproxy is not installed (apt-get install haproxy)' : unavailable() ?? prometheusMissing()
  if (why !== undefined) {
    if (process.env.STRANGLER_REQUIRE_HAPROXY === '1') throw new Error(why)
    t.pass('the fleet test', { skip: why })
    return
  }
  const u = await startUnleashServer(t)
  await putFeature(u, { name: FLAG, enabled: true, strategies: [rollout(30, FLAG)] })
  const setRollout = async (percent: number): Promise<void> => {
    const id = await firstStrategyId(u, FLAG)
    await u.admin('PUT', `/projects/default/features/${FLAG}/environments/development/strategies/${id}`, { name: 'flexibleRollout', parameters: { rollout: String(percent), stickiness: 'default', groupId: FLAG }, constraints: [] })
  }

  let failing = false
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django', (_req, res) => {
    res.writeHead(failing ? 500 : 200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ backend: 'django' }))
  })
  const dir = tempDir(t)
  const config = writeConfig(t, `listen: { host: 127.0.0.1 }
backends:
  legacy: { url: "${legacy.url}" }
  django: { url: "${django.url}" }
flags:
  unleash: { url: "${u.url}", appName: spx-fleet, environment: development, refreshInterval: ${REFRESH_MS}ms }
cohort: { userId: { header: x-user-id } }
# Errors trip it (step 4); its latency judgement stays at the defaults.
guard: { window: 3s, minRequests: 10, minClients: 1, cooldown: 2s, probeFraction: 1, probeRequests: 5, disableFlag: true }
evidence: { perAddress: 1000000, perUser: 1000000 }   # the test's load comes from one loopback address
shutdown: { timeout: 5s }
routes:
  - { name: orders, match: { path: /api/orders/* }, backend: legacy, flag: { name: ${FLAG}, backend: django } }
  - { name: default, match: { path: /* }, backend: legacy }
`, dir)

  const ports = await Promise.all([0, 1, 2].map(async () => ({ http: await freePort(), admin: await freePort() })))
  const replicas: Cli[] = []
  const startReplica = async (i: number): Promise<Cli> => {
    const p = ports[i] as { http: number, admin: number }
    const cli = spawnCli(t, ['start', '--config', config], { PORT: String(p.http), ADMIN_PORT: String(p.admin), UNLEASH_API_TOKEN: CLIENT_TOKEN, UNLEASH_ADMIN_TOKEN: ADMIN_TOKEN, XDG_STATE_HOME: join(dir, `state-${i}`) })
    await cli.waitFor((l) => l.msg === 'listening', 20_000)
    replicas[i] = cli
    return cli
  }
  for (const i of [0, 1, 2]) await startReplica(i)
  const admin = (i: number): string => `http://127.0.0.1:${(ports[i] as { admin: number }).admin}`
  const backendFor = async (i: number, user: string): Promise<string> => ((await (await request(`${admin(i)}/explain?path=/api/orders/1&header=x-user-id:${user}`)).body.json()) as { backend: string }).backend
  // A replica without flags serves every user the baseline (by design), and Unleash may
  // answer a first poll from before the flag existed: the fleet is compared once each
  // replica evaluates the 30 % rollout (bucket 1 on django).
  for (const i of [0, 1, 2]) {
    const since = Date.now()
    while (await backendFor(i, USERS[0] as string) !== 'django' && Date.now() - since < 20_000) await sleep(100)
    t.equal(await backendFor(i, USERS[0] as string), 'django', `replica ${i + 1} has the rollout before traffic is compared`)
  }

  const lbPort = await freePort()
  writeFileSync(join(dir, 'haproxy.cfg'), `global
  maxconn 2000
defaults
  mode http
  timeout connect 1s
  timeout client 10s
  timeout server 10s
  timeout check 2s
  retries 3
  option redispatch
  retry-on conn-failure empty-response
frontend fe
  bind 127.0.0.1:${lbPort}
  default_backend proxies
backend proxies
  balance roundrobin
  option httpchk GET /readyz
  http-check expect status 200
${ports.map((p, i) => `  server p${i + 1} 127.0.0.1:${p.http} check port ${p.admin} inter 250ms fall 3 rise 2`).join('\n')}
`)
  const lb = spawn('haproxy', ['-f', join(dir, 'haproxy.cfg'), '-db'], { stdio: ['ignore', 'ignore', 'pipe'] })
  t.teardown(() => { lb.kill('SIGKILL') })
  const url = `http://127.0.0.1:${lbPort}`
  const agent = new Agent({ connections: 16 })
  t.teardown(() => agent.close())
  const through = async (user: string): Promise<{ status: number, backend: string }> => {
    const res = await request(`${url}/api/orders/1`, { headers: { 'x-user-id': user }, dispatcher: agent })
    const text = await res.body.text()
    return { status: res.statusCode, backend: res.statusCode === 200 ? (JSON.parse(text) as { backend: string }).backend : String(res.statusCode) }
  }
  for (let i = 0; ; i++) {
    const up = await through('probe').then((r) => r.status === 200, () => false)
    if (up) break
    if (i > 80) throw new Error('haproxy did not come up')
    await sleep(100)
  }
  const prom = await startPrometheus(t, ports.map((p) => `127.0.0.1:${p.admin}`))

  // 1. A user keeps their backend whichever replica answers.
  const seen = new Map<string, Set<string>>()
  for (let round = 0; round < 6; round++) {
    for (const user of USERS) {
      const r = await through(user)
      seen.set(user, (seen.get(user) ?? new Set()).add(r.backend))
    }
  }
  const mixed = [...seen].filter(([, s]) => s.size !== 1).map(([user, s]) => `${user}: ${[...s].join('/')}`)
  t.same(mixed, [], 'every user got one backend across all replicas')
  t.same(USERS.map((user) => [...(seen.get(user) ?? [])][0]), USERS.map((_, i) => i + 1 <= 30 ? 'django' : 'legacy'), 'and it is the one the 30 % rollout gives them')
  const perReplica = await Promise.all([0, 1, 2].map(async (i) => [...(await (await request(`${admin(i)}/metrics`)).body.text()).matchAll(/strangler_requests_total\{route="orders",backend="\w+",method="GET",code="200"\} (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0)))
  t.ok(perReplica.every((n) => n > 50), `each replica served its share (${perReplica.join(', ')})`)

  // 2. A rollout change in Unleash reaches all three within the refresh interval and a second.
  const bucket45 = USERS[44] as string
  await setRollout(60)
  // From the moment Unleash has the change (its admin API answered).
  const changed = Date.now()
  const followed: number[] = []
  for (const i of [0, 1, 2]) {
    while (await backendFor(i, bucket45) !== 'django' && Date.now() - changed < 10_000) await sleep(50)
    followed.push(Date.now() - changed)
  }
  t.ok(followed.every((ms) => ms <= REFRESH_MS + 1000), `all three follow 30 → 60 % within ${REFRESH_MS + 1000} ms (${followed.join(', ')} ms)`)

  // 3. Prometheus's sum over the replicas matches the rollout within 3 points.
  // Counters summed over the replicas at two instants, each once Prometheus has scraped
  // all three after the traffic stopped (its first scrape can come seconds after it
  // starts: target discovery is batched); the difference is the traffic at 60 %.
  const scrapedAfter = async (quiet: number): Promise<{ django: number, all: number }> => {
    const value = async (expr: string): Promise<number | undefined> => {
      const r = await prom.query(expr)
      const v = r.data?.result[0]?.value[1]
      return v === undefined ? undefined : Number(v)
    }
    for (const since = Date.now(); Date.now() - since < 20_000; await sleep(200)) {
      // timestamp() of a selector is its samples' own (the scrape's); of an expression it would be the evaluation time.
      const scraped = await value(`count(timestamp(up{job="strangler-proxy"}) > ${quiet / 1000})`)
      if (scraped === 3) break
    }
    return { django: await value('sum(strangler_requests_total{route="orders",backend="django"})') ?? 0, all: await value('sum(strangler_requests_total{route="orders"})') ?? 0 }
  }
  const s1 = await scrapedAfter(Date.now())
  const answered = new Map<string, number>()
  for (const start = Date.now(); Date.now() - start < 4000;) {
    await Promise.all(USERS.map(async (user) => {
      const { backend } = await through(user)
      answered.set(backend, (answered.get(backend) ?? 0) + 1)
    }))
  }
  const s2 = await scrapedAfter(Date.now())
  const share = (s2.django - s1.django) / (s2.all - s1.all)
  const seenBy = JSON.stringify(Object.fromEntries(answered))
  t.equal(s2.all - s1.all, [...answered.values()].reduce((a, b) => a + b, 0), `Prometheus counted every request the clients made (${seenBy})`)
  t.ok(Math.abs(share - 0.6) <= 0.03, `Prometheus sums the replicas: ${(share * 100).toFixed(1)} % on django for a 60 % rollout (${s2.django - s1.django} of ${s2.all - s1.all}; the clients saw ${seenBy})`)

  // 4. A guard trip on a replica switches the flag off in Unleash; every replica follows.
  failing = true
  const tripStart = Date.now()
  let disabled = false
  while (!disabled && Date.now() - tripStart < 30_000) {
    await Promise.all(USERS.slice(0, 60).map(async (user) => await through(user)))
    const f = await u.admin('GET', `/projects/default/features/${FLAG}`) as { environments: Array<{ name: string, enabled: boolean }> }
    disabled = f.environments.find((e) => e.name === 'development')?.enabled === false
  }
  failing = false
  t.ok(disabled, 'the flag is off in Unleash')
  const offAt = Date.now()
  for (const i of [0, 1, 2]) {
    while (await backendFor(i, bucket45) !== 'legacy' && Date.now() - offAt < 5000) await sleep(50)
    t.equal(await backendFor(i, bucket45), 'legacy', `replica ${i + 1} follows the switch-off`)
  }
  const said = (): boolean => replicas.some((r) => r.lines.some((l) => new RegExp(`switched flag ${FLAG} off in Unleash`).test(String(l.msg))))
  for (let i = 0; i < 40 && !said(); i++) await sleep(50)
  t.ok(said(), 'one replica says it switched the flag off')

  // 5. A rolling restart under steady load loses no request.
  await u.admin('POST', `/projects/default/features/${FLAG}/environments/development/on`)
  let running = true
  let sent = 0
  const failures: string[] = []
  const load = Array.from({ length: 4 }, async (_, w) => {
    for (let i = w; running; i += 4) {
      try {
        const r = await through(USERS[i % 100] as string)
        sent++
        if (r.status !== 200) failures.push(String(r.status))
      } catch (err) {
        failures.push((err as Error).message)
      }
    }
  })
  for (const i of [0, 1, 2]) {
    const old = replicas[i] as Cli
    old.child.kill('SIGTERM')
    await old.exited
    await startReplica(i)
    for (let k = 0; k < 100; k++) {
      const r = await request(`${admin(i)}/readyz`)
      await r.body.dump()
      if (r.statusCode === 200) break
      await sleep(100)
    }
    await sleep(800) // HAProxy's rise: two checks 250 ms apart
  }
  running = false
  await Promise.all(load)
  t.ok(sent > 300, `${sent} requests during the restart`)
  t.same(failures, [], 'none lost')
})
