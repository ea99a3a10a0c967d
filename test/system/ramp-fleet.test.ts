/**
 * One ramp driver for a fleet, with real parts: a real Unleash, three proxy replicas,
 * a real Prometheus scraping their admin ports, and `ramp run`'s driver. It advances
 * the rollout in Unleash from the Prometheus sums, every replica follows, injected
 * errors step it back, and a person's edit in Unleash pauses it instead of a fight.
 * Its /fleet lists the replicas from Prometheus, and names one that serves another
 * routes.yaml (drift) or stopped answering, with since when.
 */
import t from 'tap'
import { request } from 'undici'
import { Writable } from 'node:stream'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startUpstream } from '../helpers/backends.js'
import { startProxy, tempDir, writeConfig, sleep, type TestProxy, type LogLine } from '../helpers/proxy.js'
import { rollout, usersByBucket } from '../helpers/flags.js'
import { freePort } from '../helpers/free-port.js'
import { startPrometheus, prometheusMissing } from '../helpers/prometheus.js'
import { startUnleashServer, unavailable, ADMIN_TOKEN, CLIENT_TOKEN } from '../helpers/unleash-server.js'
import { putFeature, firstStrategyId } from '../helpers/unleash-admin.js'
import { runRampDriver } from '../../src/lifecycle/ramp-runner.js'
import { createLogger } from '../../src/observe/log.js'

// Its own flag and app name: the Unleash server is shared with the other system tests.
const FLAG = 'orders-on-django-ramp-fleet'
const REFRESH_MS = 500
const USERS = usersByBucket(FLAG)

interface Ramp { route: string, percent: number, targetPercent: number, state: string, reason: string, failures: number }

t.test('ramp run drives a fleet of three through Unleash on Prometheus sums', async (t) => {
  const why = unavailable() ?? prometheusMissing()
  if (why !== undefined) {
    if (process.env.STRANGLER_REQUIRE_UNLEASH === '1' || process.env.STRANGLER_REQUIRE_PROMETHEUS === '1') throw new Error(why)
    t.pass('the fleet ramp driver', { skip: why })
    return
  }
  const u = await startUnleashServer(t)
  await putFeature(u, { name: FLAG, enabled: true, strategies: [rollout(0, FLAG)] })
  const rolloutInUnleash = async (): Promise<number> => {
    const list = await u.admin('GET', `/projects/default/features/${FLAG}/environments/development/strategies`) as Array<{ parameters: { rollout: string } }>
    return Number(list[0]?.parameters.rollout)
  }
  /** The driver decides, then writes: its status can lead Unleash by one request. */
  const unleashReaches = async (percent: number): Promise<number> => {
    const deadline = Date.now() + 3000
    while (await rolloutInUnleash() !== percent && Date.now() < deadline) await sleep(100)
    return await rolloutInUnleash()
  }

  let failing = false
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django', (_req, res) => {
    res.writeHead(failing ? 503 : 200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ backend: 'django' }))
  })
  const promPort = await freePort()
  const yaml = `listen: { host: 127.0.0.1 }
backends:
  legacy: { url: "${legacy.url}" }
  django: { url: "${django.url}" }
flags:
  unleash: { url: "${u.url}", appName: spx-ramp-fleet, environment: development, refreshInterval: ${REFRESH_MS}ms }
cohort: { userId: { header: x-user-id } }
evidence: { perAddress: 1000000, perUser: 1000000 }   # the test's load comes from one loopback address
timeline: { impactDelay: 3s }
ramps: { driver: fleet, prometheus: "http://127.0.0.1:${promPort}", interval: 500ms }
routes:
  - name: orders
    match: { path: /api/orders/* }
    backend: legacy
    flag: { name: ${FLAG}, backend: django }
    ramp: { steps: [5, 20, 50], hold: 4s, minRequests: 15, maxFailures: 5 }
  - { name: default, match: { path: /* }, backend: legacy }
`
  const replicas: TestProxy[] = []
  for (let i = 0; i < 3; i++) replicas.push(await startProxy(t, yaml, { env: { UNLEASH_API_TOKEN: CLIENT_TOKEN }, flagsStartWaitMs: 10_000 }))
  const prom = await startPrometheus(t, replicas.map((p) => new URL(p.adminUrl).host), { port: promPort })

  // Replicas follow the flag; with ramps.driver: fleet they do not drive.
  const refused = await request(`${replicas[0]?.adminUrl ?? ''}/ramp`)
  t.equal(refused.statusCode, 404)
  t.match(await refused.body.json(), { code: 'SPX_ADMIN_NOT_FOUND', detail: /ramps\.driver is fleet/ })

  const logs: LogLine[] = []
  const logger = createLogger({ level: 'info', destination: new Writable({ write (c: Buffer, _e, cb) { for (const l of c.toString().split('\n')) if (l !== '') logs.push(JSON.parse(l) as LogLine); cb() } }) })
  const driverDir = tempDir(t)
  const runner = await runRampDriver({ configFile: writeConfig(t, yaml, driverDir), logger, host: '127.0.0.1', port: 0, env: { UNLEASH_ADMIN_TOKEN: ADMIN_TOKEN, XDG_STATE_HOME: join(driverDir, 'state') }, watch: false })
  t.teardown(() => runner.stop())
  const rampOf = async (): Promise<Ramp> => ((await (await request(`${runner.url}/ramp`)).body.json()) as { routes: Ramp[] }).routes[0] as Ramp
  const until = async (what: (r: Ramp) => boolean, ms: number): Promise<Ramp> => {
    const end = Date.now() + ms
    let r = await rampOf()
    while (!what(r) && Date.now() < end) { await sleep(250); r = await rampOf() }
    return r
  }
  t.equal(await rolloutInUnleash(), 5, 'the driver wrote the first step into Unleash')

  // Traffic for every user through every replica in turn.
  let running = true
  let sent = 0
  const loop = (async () => {
    while (running) {
      await Promise.all(USERS.map(async (user, i) => {
        const p = replicas[(sent + i) % 3] as TestProxy
        await (await request(`${p.url}/api/orders/1`, { headers: { 'x-user-id': user } })).body.dump()
      }))
      sent++
      await sleep(50)
    }
  })()
  t.teardown(async () => { running = false; await loop })

  const at20 = await until((r) => r.percent === 20, 40_000)
  t.equal(at20.percent, 20, `advanced to 20 % on the Prometheus sums (${at20.reason})`)
  t.equal(await unleashReaches(20), 20, 'and wrote it into Unleash')
  await sleep(REFRESH_MS + 1000)
  const bucket15 = USERS[14] as string
  for (const [i, p] of replicas.entries()) {
    const explain = await (await request(`${p.adminUrl}/explain?path=/api/orders/1&header=x-user-id:${bucket15}`)).body.json() as { backend: string }
    t.equal(explain.backend, 'django', `replica ${i + 1} follows within the refresh interval and a second`)
  }
  const sum = await prom.query('sum(strangler_requests_total{route="orders"})')
  t.ok(Number(sum.data?.result[0]?.value[1]) > 0, 'Prometheus sums the replicas')

  failing = true
  const back = await until((r) => r.failures > 0, 40_000)
  failing = false
  t.equal(back.targetPercent, 5, `injected 503s step it back to 5 % (${back.reason})`)
  t.match(back.reason, /stepped back from 20 % to 5 %: gate failed: errors/)
  t.equal(await unleashReaches(5), 5, 'in Unleash too')
  t.equal((await until((r) => r.percent === 5, 10_000)).percent, 5, '/ramp shows 5 % served once Unleash has it')

  // A person edits the rollout in Unleash: the driver pauses instead of writing over it.
  const id = await firstStrategyId(u, FLAG)
  await u.admin('PUT', `/projects/default/features/${FLAG}/environments/development/strategies/${id}`, { name: 'flexibleRollout', parameters: { rollout: '40', stickiness: 'default', groupId: FLAG }, constraints: [] })
  const paused = await until((r) => r.state === 'paused', 10_000)
  t.equal(paused.state, 'paused')
  t.match(paused.reason, /the rollout of orders-on-django-ramp-fleet is 40 % in Unleash, the ramp had set 5 %; it was changed outside the ramp/)
  await sleep(1500)
  t.equal(await rolloutInUnleash(), 40, 'the person\'s 40 % stands')
  const metrics = await (await request(`${runner.url}/metrics`)).body.text()
  t.match(metrics, /strangler_ramp_state\{route="orders",state="paused"\} 1/)
  t.match(metrics, /strangler_ramp_transitions_total\{route="orders",to="step_back"\} 1/)
  t.ok(logs.some((l) => /changed outside the ramp/.test(String(l.msg))), 'the driver logs why')

  // One timeline for the fleet: the person's edit, seen by three replicas, is one event.
  interface FleetEvent { kind: string, flag?: string, summary: string, after?: unknown, seenBy: Array<{ replica: string, time: string }> }
  const timelineOf = async (): Promise<{ events: FleetEvent[], replicas: Array<{ replica: string, answered: boolean }> }> => (await (await request(`${runner.url}/timeline?kind=flag_changed`)).body.json()) as { events: FleetEvent[], replicas: Array<{ replica: string, answered: boolean }> }
  let merged = await timelineOf()
  for (const end = Date.now() + 15_000; !merged.events.some((e) => /40/.test(JSON.stringify(e.after)) && e.seenBy.length === 3) && Date.now() < end; await sleep(250)) merged = await timelineOf()
  const edits = merged.events.filter((e) => /40/.test(JSON.stringify(e.after)))
  t.equal(edits.length, 1, `the edit to 40 % is one event in the fleet's timeline (${merged.events.map((e) => e.summary).join(' | ')})`)
  t.same(new Set(edits[0]?.seenBy.map((s) => s.replica)), new Set(replicas.map((p) => new URL(p.adminUrl).host)), 'naming the three replicas that saw it, each with its time')
  t.ok(merged.replicas.length === 3 && merged.replicas.every((r) => r.answered), 'and every replica answered')
  // Its impact is the fleet's, from Prometheus's sums, once the window after it has passed.
  interface SideImpact { requests: number, share: number }
  type Impacted = FleetEvent & { impact?: { from?: string, routes: Record<string, Record<string, { before: SideImpact, after: SideImpact }>> } }
  let impacted: Impacted | undefined
  for (const end = Date.now() + 15_000; impacted?.impact === undefined && Date.now() < end; await sleep(500)) {
    impacted = (await timelineOf()).events.find((e) => /40/.test(JSON.stringify(e.after))) as Impacted | undefined
  }
  const onDjango = impacted?.impact?.routes.orders?.django
  t.equal(impacted?.impact?.from, 'prometheus', 'the merged edit\'s impact comes from Prometheus')
  t.ok(onDjango !== undefined && onDjango.after.requests > 0 && onDjango.after.share > onDjango.before.share, `django's share of orders, before ${onDjango?.before.share.toFixed(3)} and after ${onDjango?.after.share.toFixed(3)} the edit to 40 %`)

  // One status for the fleet: the orders route's split is Prometheus's sum over the three.
  interface FleetStatus { overall: { newShare: number | null, requests: number }, routes: Array<{ name: string, liveSplit: number | null, guards: Record<string, string | null> }>, replicas: Array<{ replica: string, answered: boolean }> }
  const status = (await (await request(`${runner.url}/status.json`)).body.json()) as FleetStatus
  const promSplit = await prom.query('sum(increase(strangler_requests_total{route="orders",backend="django"}[5m])) / sum(increase(strangler_requests_total{route="orders"}[5m]))')
  const expected = Number(promSplit.data?.result[0]?.value[1])
  const orders = status.routes.find((r) => r.name === 'orders')
  t.ok(orders?.liveSplit !== null && Math.abs((orders?.liveSplit ?? 0) - expected) < 0.02, `the fleet's orders split ${orders?.liveSplit?.toFixed(3)} is Prometheus's sum over the replicas (${expected.toFixed(3)})`)
  t.equal(Object.keys(orders?.guards ?? {}).length, 3, 'with each replica\'s guard for the route')
  t.ok(status.replicas.length === 3 && status.replicas.every((r) => r.answered), 'every replica named and answering')
  t.ok(status.overall.requests > 0, `${status.overall.requests} requests in the fleet's last 5 minutes`)

  // One inventory for the fleet: what legacy served through the catch-all, added up over the replicas.
  for (const [i, p] of replicas.entries()) {
    for (let n = 0; n <= i; n++) await (await request(`${p.url}/legacy/pages/${n + 1}`)).body.dump()
  }
  interface Inv { entries: Array<{ template: string, requests: number }>, unanswered?: Record<string, string> }
  const own = await Promise.all(replicas.map(async (p) => (await (await request(`${p.adminUrl}/inventory`)).body.json()) as Inv))
  const fleetInventory = (await (await request(`${runner.url}/inventory`)).body.json()) as Inv
  const pages = (inv: Inv): number => inv.entries.filter((e) => e.template.startsWith('/legacy/pages')).reduce((a, e) => a + e.requests, 0)
  t.same(own.map(pages), [1, 2, 3], 'each replica saw its own share of the legacy pages')
  t.equal(pages(fleetInventory), 6, 'the fleet\'s inventory adds them up')
  t.same(fleetInventory.unanswered, {}, 'every replica answered')

  // The fleet's status page, as a person reads it.
  const html = await (await request(`${runner.url}/status`, { headers: { accept: 'text/html' } })).body.text()
  t.match(html, /<h1>Fleet migration status<\/h1>/)
  t.match(html, /3 of 3 replicas answered/)
  for (const p of replicas) t.match(html, new RegExp(`data-replica="${new URL(p.adminUrl).host}"><th scope="row">[^<]+</th><td class="">in step</td>`), `replica ${new URL(p.adminUrl).host} shown in step`)
  t.match(html, /data-route="orders"/, 'the orders route is on the page')
  t.match(html, /\/legacy\/pages/, 'and what legacy still serves')

  // The fleet view: three replicas that agree; then one serves another routes.yaml.
  interface Fleet { replicas: Array<{ instance: string, up: boolean, config?: string, flags?: string, drift: string[], since?: string }>, drifted: number, down: number }
  const fleetOf = async (): Promise<Fleet> => (await (await request(`${runner.url}/fleet`)).body.json()) as Fleet
  const fleetUntil = async (what: (f: Fleet) => boolean, ms: number): Promise<Fleet> => {
    const end = Date.now() + ms
    let f = await fleetOf()
    while (!what(f) && Date.now() < end) { await sleep(250); f = await fleetOf() }
    return f
  }
  const agreed = await fleetUntil((f) => f.replicas.length === 3 && f.replicas.every((r) => r.up && r.config !== undefined && r.flags !== undefined), 15_000)
  t.equal(agreed.replicas.length, 3, 'the fleet view lists the three replicas Prometheus scrapes')
  t.equal(agreed.drifted, 0, `and none drifts: ${JSON.stringify(agreed.replicas)}`)
  t.equal(new Set(agreed.replicas.map((r) => r.config)).size, 1, 'one routes.yaml version')
  const odd = replicas[2] as TestProxy
  const oddHost = new URL(odd.adminUrl).host
  writeFileSync(odd.file, readFileSync(odd.file, 'utf8').replace('  - { name: default, match: { path: /* }, backend: legacy }', '  - { name: default, match: { path: /* }, backend: legacy, maxBodySize: 2mb }'))
  t.equal(odd.reload('test').ok, true, 'the third replica takes an edited routes.yaml')
  const drifted = await fleetUntil((f) => f.drifted === 1, 15_000)
  const flagged = drifted.replicas.find((r) => r.drift.length > 0)
  t.equal(flagged?.instance, oddHost, 'the view names the replica that serves another routes.yaml')
  t.same(flagged?.drift, ['config'], 'and what differs')
  t.ok(flagged?.since !== undefined && Date.parse(flagged.since) <= Date.now(), `and since when (${flagged?.since})`)
  // The test's traffic goes through every replica in turn: stopped first.
  running = false
  await loop
  await odd.shutdown('test')
  const down = await fleetUntil((f) => f.down === 1, 15_000)
  t.match(down.replicas.find((r) => r.instance === oddHost), { up: false, drift: [] }, 'a replica that stopped answering is listed as down, not dropped')
  t.equal(down.replicas.length, 3)
  const partial = await timelineOf()
  t.match(partial.replicas.find((r) => r.replica === oddHost), { answered: false }, 'the fleet timeline names the replica it could not ask')
  t.ok(partial.events.length > 0, 'and still shows what the others recorded')
  const partialStatus = (await (await request(`${runner.url}/status.json`)).body.json()) as FleetStatus
  t.match(partialStatus.replicas.find((r) => r.replica === oddHost), { answered: false }, 'the fleet status names it too')
  t.ok(partialStatus.routes.some((r) => r.name === 'orders'), 'and stays up')
})
