/**
 * The migration timeline with real parts: a flags file edit, a bad routes.yaml, a
 * rollback guard trip each yield one event with its cause (a real Unleash edit:
 * test/system/timeline-unleash.test.ts);
 * impact numbers agree with the counters; webhooks get exactly one signed POST per
 * event and a dead receiver costs traffic nothing; history survives a restart.
 */
import t from 'tap'
import http from 'node:http'
import { createHmac } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { request } from 'undici'
import { startUpstream, closedPort } from '../helpers/backends.js'
import { startProxy, sleep, type TestProxy } from '../helpers/proxy.js'
import { flagsJson, flaggedYaml, rollout, usersByBucket } from '../helpers/flags.js'
import { runCli } from '../helpers/cli.js'

const FLAG = 'orders-on-django'
const USERS = usersByBucket(FLAG)

interface Side { requests: number, share: number, errorRatio: number | null, p99: number | null }
interface Event { id: string, time: string, kind: string, routes: string[], flag?: string, cause: string, summary: string, before?: Record<string, unknown>, after?: Record<string, unknown>, configVersion: string, instance: { host: string, pid: number }, impact?: { windowMs: number, routes: Record<string, Record<string, { before: Side, after: Side }>> } }

async function events (p: TestProxy, query = ''): Promise<Event[]> {
  const res = await request(`${p.adminUrl}/timeline${query}`)
  return ((await res.body.json()) as { events: Event[] }).events
}

async function waitFor (p: TestProxy, what: (e: Event[]) => boolean, ms: number, query = ''): Promise<Event[]> {
  const end = Date.now() + ms
  let e = await events(p, query)
  while (!what(e) && Date.now() < end) { await sleep(100); e = await events(p, query) }
  return e
}

/** One request per bucket, `rounds` times. */
async function traffic (p: TestProxy, rounds: number): Promise<void> {
  for (let r = 0; r < rounds; r++) {
    await Promise.all(USERS.map(async (user) => (await request(`${p.url}/api/orders/1`, { headers: { 'x-user-id': user } })).body.dump()))
  }
}

t.test('a flags file edit 30 → 60 % is one flag_changed event, and its impact agrees with the counters', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const p = await startProxy(t, flaggedYaml(legacy.url, django.url, 'timeline: { impactDelay: 6s }'), {
    files: { 'flags.json': flagsJson([{ name: FLAG, enabled: true, strategies: [rollout(30)] }]) },
    watch: true
  })
  await sleep(300)
  await traffic(p, 4)
  await sleep(300)
  writeFileSync(join(dirname(p.file), 'flags.json'), flagsJson([{ name: FLAG, enabled: true, strategies: [rollout(60)] }]))
  const got = await waitFor(p, (e) => e.some((x) => x.kind === 'flag_changed'), 5000)
  await traffic(p, 4)
  const changed = got.filter((e) => e.kind === 'flag_changed')
  t.equal(changed.length, 1, 'exactly one event')
  const e = changed[0] as Event
  t.match(e, { kind: 'flag_changed', routes: ['orders'], flag: FLAG, cause: 'flag-source', before: { enabled: true, rollout: 30 }, after: { enabled: true, rollout: 60 } })
  t.equal(e.summary, 'flag orders-on-django changed in the flags file: rollout 30 → 60 %')
  t.match(e.instance, { pid: process.pid })
  t.match(e.configVersion, /^[0-9a-f]{12}$/)
  t.match(e.id, /^[0-9a-z]+-[0-9a-z]+-[0-9a-z]+$/)

  const measured = (await waitFor(p, (x) => x.some((y) => y.id === e.id && y.impact !== undefined), 9000)).find((y) => y.id === e.id) as Event
  const orders = measured.impact?.routes.orders
  t.ok(orders !== undefined, 'the event gained its impact')
  t.equal(orders?.django?.before.requests, 120, '4 rounds × buckets 1–30 on django before')
  t.equal(orders?.legacy?.before.requests, 280)
  t.equal(orders?.django?.before.share, 0.3)
  t.equal(orders?.django?.after.requests, 240, '4 rounds × buckets 1–60 after')
  t.equal(orders?.django?.after.share, 0.6)
  t.equal(orders?.django?.after.errorRatio, 0)
  t.ok((orders?.django?.after.p99 ?? 0) > 0, 'a p99')
  const metrics = await (await request(`${p.adminUrl}/metrics`)).body.text()
  t.match(metrics, /strangler_timeline_events_total\{kind="flag_changed",route="orders"\} 1/)
  // The counters the impact was computed from.
  t.match(metrics, /strangler_requests_total\{route="orders",backend="django",method="GET",code="200"\} 360/)
})

t.test('a rejected routes.yaml is a config_rejected event with file and line; a good edit a field-level diff', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const yaml = flaggedYaml(legacy.url, django.url)
  const p = await startProxy(t, yaml, { files: { 'flags.json': flagsJson([{ name: FLAG, enabled: true, strategies: [rollout(30)] }]) } })
  writeFileSync(p.file, yaml.replace('  - { name: default, match: { path: /* }, backend: legacy }', '  - { name: default, match: { path: /* }, backend: nowhere }'))
  p.reload('SIGHUP')
  writeFileSync(p.file, yaml.replace('    backend: legacy\n    flag:', '    backend: legacy\n    failover: false\n    flag:').replace('routes:\n', 'routes:\n  - { name: reports, match: { path: /reports/* }, backend: django }\n'))
  p.reload('file-change')
  const all = await events(p)
  const rejected = all.find((e) => e.kind === 'config_rejected') as Event
  t.equal(rejected.cause, 'SIGHUP')
  t.match((rejected.after as { problems: string[] }).problems[0], /routes\.yaml:\d+:\d+: routes\[1\]\.backend: unknown backend "nowhere"/)
  t.match(rejected.summary, /^config rejected, still serving [0-9a-f]{12}: .*unknown backend "nowhere"/)
  const applied = all.find((e) => e.kind === 'config_applied') as Event
  t.equal(applied.cause, 'file-change')
  t.same(applied.routes.sort(), ['orders', 'reports'])
  t.match(applied.after, { routes: { added: ['reports'], removed: [], changed: [{ name: 'orders', fields: [{ field: 'failover', before: true, after: false }] }] } })
  t.match(applied.summary, /routes added: reports; route orders: failover changed/)
  const cli = await runCli(['timeline', '--admin', p.adminUrl, '--kind', 'config_applied'])
  t.equal(cli.code, 0, cli.stderr)
  t.match(cli.stdout, /^TIME\s+KIND\s+ROUTES\s+WHO\s+WHAT\n\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?Z?\s+config_applied\s+(orders,reports|reports,orders)\s+file-change\s+config [0-9a-f]{12} → [0-9a-f]{12}/)
  const bad = await request(`${p.adminUrl}/timeline?since=yesterday`)
  t.equal(bad.statusCode, 400)
  t.match(await bad.body.json(), { code: 'SPX_ADMIN_BAD_REQUEST' })
})

t.test('a guard trip is guard_tripped; webhooks get one signed POST per event, a dead one costs nothing', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django', (_req, res) => { res.writeHead(500).end() })
  const received: Array<{ headers: http.IncomingHttpHeaders, body: string }> = []
  const receiver = http.createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => { body += c.toString() })
    req.on('end', () => { received.push({ headers: req.headers, body }); res.end() })
  })
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => receiver.close(() => resolve())))
  const hook = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/secret-path`
  const dead = `http://127.0.0.1:${await closedPort()}/hook`
  const p = await startProxy(t, flaggedYaml(legacy.url, django.url, `guard: { window: 5s, minRequests: 10, minClients: 1, cooldown: 1h }
evidence: { perAddress: 100000 }   # every request comes from 127.0.0.1
notify:
  - { url: "${hook}", kinds: [guard_tripped, config_applied], secretEnv: HOOK_SECRET }
  - { url: "${dead}", timeout: 1s }`), {
    files: { 'flags.json': flagsJson([{ name: FLAG, enabled: true, strategies: [rollout(100)] }]) },
    env: { HOOK_SECRET: 'a-webhook-signing-secret-32-bytes' }
  })
  const statuses: number[] = []
  // Spread over about four seconds: a trip waits for the regression to be confirmed.
  for (let i = 0; i < 150; i++) {
    const res = await request(`${p.url}/api/orders/1`, { headers: { 'x-user-id': `u${i}` } })
    await res.body.dump()
    statuses.push(res.statusCode)
    await sleep(25)
  }
  const tripped = (await waitFor(p, (e) => e.some((x) => x.kind === 'guard_tripped'), 3000)).filter((e) => e.kind === 'guard_tripped')
  t.equal(tripped.length, 1)
  t.match(tripped[0], { routes: ['orders'], cause: 'guard', before: { state: 'closed' }, after: { state: 'open' }, summary: /^rollback guard on orders tripped on/ })
  t.ok(statuses.slice(-20).every((s) => s === 200), 'after the trip, traffic is served by the baseline; the dead receiver slowed nothing')

  const end = Date.now() + 3000
  while (received.length < 1 && Date.now() < end) await sleep(50)
  await sleep(300)
  t.equal(received.length, 1, 'exactly one POST: the trip (other kinds are not subscribed)')
  const post = received[0] as { headers: http.IncomingHttpHeaders, body: string }
  const expected = `v1=${createHmac('sha256', 'a-webhook-signing-secret-32-bytes').update(`${String(post.headers['x-strangler-timestamp'])}.${post.body}`).digest('hex')}`
  t.equal(post.headers['x-strangler-signature'], expected, 'signed with HMAC-SHA256 of "timestamp.body", computed here')
  const body = JSON.parse(post.body) as Event & { text: string }
  t.equal(body.id, tripped[0]?.id)
  t.equal(post.headers['x-strangler-event-id'], body.id)
  t.match(body.text, /^strangler-proxy: rollback guard on orders tripped/)

  // The dead receiver: retried, then counted; the host only, never the URL's path.
  let metrics = ''
  const until = Date.now() + 8000
  while (!/strangler_notify_failures_total\{target="127\.0\.0\.1:\d+",reason="failed"\} [1-9]/.test(metrics) && Date.now() < until) {
    await sleep(250)
    metrics = await (await request(`${p.adminUrl}/metrics`)).body.text()
  }
  t.match(metrics, /strangler_notify_failures_total\{target="127\.0\.0\.1:\d+",reason="failed"\} [1-9]/)
  t.notMatch(metrics, /secret-path/)
  t.ok(p.logs.some((l) => l.msg === 'timeline webhook failed; the event stays in the timeline'), 'and logged')
})

t.test('history survives a restart', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const yaml = `listen: { host: 127.0.0.1 }\nbackends:\n  legacy: { url: "${legacy.url}" }\nroutes:\n  - { name: default, match: { path: /* }, backend: legacy }\n`
  const first = await startProxy(t, yaml)
  writeFileSync(first.file, yaml.replace('name: default', 'name: everything'))
  first.reload('SIGHUP')
  await first.shutdown('restart')
  const second = await startProxy(t, yaml, { dir: dirname(first.file) })
  const kinds = (await events(second)).map((e) => e.kind)
  t.same(kinds, ['config_applied', 'drain_started'], 'the reload and the drain from before the restart')
})

t.test('failovers are one burst: failover_started, then failover_ended with its count after a quiet spell', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const down = `http://127.0.0.1:${await closedPort()}`
  // Without the guard: django is down on purpose, and this is about failover events.
  const p = await startProxy(t, flaggedYaml(legacy.url, down, 'guard: false'), {
    files: { 'flags.json': flagsJson([{ name: FLAG, enabled: true, strategies: [rollout(100)] }]) }
  })
  for (let i = 0; i < 25; i++) {
    const res = await request(`${p.url}/api/orders/1`, { headers: { 'x-user-id': `u${i}` } })
    await res.body.dump()
    t.equal(res.statusCode, 200, 'served by the baseline')
  }
  const started = (await events(p)).filter((e) => e.kind === 'failover_started')
  t.equal(started.length, 1, 'one event for 25 failovers')
  const ended = (await waitFor(p, (e) => e.some((x) => x.kind === 'failover_ended'), 15_000)).filter((e) => e.kind === 'failover_ended')
  t.equal(ended.length, 1)
  t.match(ended[0], { routes: ['orders'], cause: 'failover', after: { requests: 25 }, summary: /^failover ended on orders after 25 request\(s\)/ })
})

t.test('shadow parity crossing its threshold is parity_low, once', async (t) => {
  const legacy = await startUpstream(t, 'legacy', (_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }).end('{"total":10}') })
  const django = await startUpstream(t, 'django', (_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }).end('{"total":11}') })
  const p = await startProxy(t, `listen: { host: 127.0.0.1 }
backends:
  legacy: { url: "${legacy.url}" }
  django: { url: "${django.url}" }
timeline: { parityThreshold: 0.95 }
routes:
  - { name: invoices, match: { path: /invoices/* }, backend: legacy, shadow: { backend: django } }
`)
  for (let i = 0; i < 20; i++) await (await request(`${p.url}/invoices/${i}`)).body.dump()
  const low = (await waitFor(p, (e) => e.some((x) => x.kind === 'parity_low'), 4000)).filter((e) => e.kind === 'parity_low')
  t.equal(low.length, 1)
  t.match(low[0], { routes: ['invoices'], cause: 'shadow', after: { parity: 0, threshold: 0.95 }, summary: 'shadow parity on invoices fell below 95.0 %: 0.00 %' })
  await sleep(1500)
  t.equal((await events(p, '?kind=parity_low')).length, 1, 'not repeated while it stays low')
})
