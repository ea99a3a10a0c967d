import t from 'tap'
import { writeFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { request } from 'undici'
import { Registry, Counter, Histogram, AggregatorRegistry } from 'prom-client'
import { RequestSeries } from '../../src/observe/request-series.js'
import { DURATION_BUCKETS, flagsHash } from '../../src/observe/metrics.js'
import { startUpstream, closedPort } from '../helpers/backends.js'
import { startProxy, sleep, type TestProxy } from '../helpers/proxy.js'
import { flagsJson, flaggedYaml } from '../helpers/flags.js'

async function scrape (proxy: TestProxy): Promise<string> {
  const res = await request(`${proxy.adminUrl}/metrics`)
  t.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8')
  return res.body.text()
}

/** The value of one series, by exact name and label set as printed. */
function value (text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '))
  return line === undefined ? undefined : Number(line.slice(series.length + 1))
}

/** strangler_* series only: prom-client's GC histograms grow when a new kind of GC first runs. */
const seriesCount = (text: string): number => text.split('\n').filter((l) => l.startsWith('strangler_')).length

t.test('per-backend series: requests, latency, errors, decisions, ledger, pools, flags, config', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const down = await closedPort()
  const yaml = flaggedYaml(legacy.url, django.url)
    .replace('backends:\n', `backends:\n  gone: { url: "http://127.0.0.1:${down}" }\n`)
    .replace('  legacy: {', '  legacy: { legacy: true,')
    .replace('routes:\n', 'routes:\n  - { name: gone, match: { path: /gone/* }, backend: gone }\n')
    .replace('  - { name: default, match: { path: /* }, backend: legacy }\n', '')
  const proxy = await startProxy(t, yaml, {
    files: { 'flags.json': flagsJson([{ name: 'orders-on-django', enabled: true, strategies: [{ name: 'userWithId', parameters: { userIds: 'alice' } }] }]) }
  })
  for (let i = 0; i < 3; i++) await (await request(`${proxy.url}/api/orders/${i}`, { headers: { 'x-user-id': 'alice' } })).body.dump()
  await (await request(`${proxy.url}/api/orders/9`, { headers: { 'x-user-id': 'bob' } })).body.dump()
  await (await request(`${proxy.url}/api/orders/9`, { method: 'POST', body: 'x', headers: { 'x-user-id': 'bob' } })).body.dump()
  await (await request(`${proxy.url}/gone/x`)).body.dump()
  // Requests no route matches (404 SPX_NO_ROUTE) are no part of any route's ledger.
  for (let i = 0; i < 5; i++) await (await request(`${proxy.url}/nowhere/${i}`)).body.dump()
  await sleep(20)
  const text = await scrape(proxy)
  t.equal(value(text, 'strangler_requests_total{route="_none",backend="_none",method="GET",code="404"}'), 5, 'unrouted requests are counted apart')
  t.equal(value(text, 'strangler_requests_total{route="orders",backend="django",method="GET",code="200"}'), 3)
  t.equal(value(text, 'strangler_requests_total{route="orders",backend="legacy",method="POST",code="200"}'), 1)
  t.equal(value(text, 'strangler_requests_total{route="gone",backend="gone",method="GET",code="503"}'), 1)
  t.equal(value(text, 'strangler_request_duration_seconds_count{route="orders",backend="django"}'), 3)
  t.match(text, /strangler_request_duration_seconds_bucket\{le="0\.001",route="orders",backend="django"\} \d/)
  t.equal(value(text, 'strangler_upstream_errors_total{route="gone",backend="gone",kind="connect_refused"}'), 1)
  t.equal(value(text, 'strangler_decisions_total{route="orders",backend="django",reason="flag_on"}'), 3)
  t.equal(value(text, 'strangler_decisions_total{route="orders",backend="legacy",reason="flag_off"}'), 2)
  t.equal(value(text, 'strangler_decisions_total{route="gone",backend="gone",reason="static"}'), 1)
  t.equal(value(text, 'strangler_migration_share{route="orders"}'), 0.6, '3 of 5 orders requests on a non-legacy backend')
  t.equal(value(text, 'strangler_migration_share{route="gone"}'), 1, 'a route on a backend not marked legacy counts as migrated')
  t.equal(value(text, 'strangler_route_backend_info{route="orders",backend="legacy",role="baseline"}'), 1)
  t.equal(value(text, 'strangler_route_backend_info{route="orders",backend="django",role="flag"}'), 1)
  t.equal(value(text, `strangler_config_version_info{version="${proxy.runtime.snapshot.config.version}"}`), 1)
  const hash = flagsHash([['orders-on-django', proxy.runtime.snapshot.flags?.definition('orders-on-django')]])
  t.match(hash, /^[0-9a-f]{12}$/)
  t.equal(value(text, `strangler_flags_info{hash="${hash}"}`), 1, 'a hash of the routed flags\' definitions, to catch replicas that disagree')
  t.equal(value(text, `strangler_config_info{version="${proxy.runtime.snapshot.config.version}"}`), 1)
  t.equal(value(text, 'strangler_flag_source_up'), 1)
  t.equal(value(text, 'strangler_flag_source_configured'), 1, 'the alerts key on it')
  t.equal(value(text, 'strangler_flag_source_info{source="file",origin="file"}'), 1)
  t.ok((value(text, 'strangler_flag_source_last_update_timestamp_seconds') ?? 0) > Date.now() / 1000 - 60)
  t.equal(value(text, 'strangler_upstream_pool_max_connections{backend="django"}'), 128)
  t.ok((value(text, 'strangler_upstream_pool_connected{backend="django"}') ?? -1) >= 1, 'a warm connection to django')
  t.equal(value(text, 'strangler_upstream_pool_running{backend="django"}'), 0)
  t.match(text, /^process_resident_memory_bytes \d+/m, 'process metrics')
  t.match(text, /^nodejs_eventloop_lag_seconds /m)
})

t.test('10,000 random paths add no series', async (t) => {
  const legacy = await startUpstream(t, 'legacy', (_req, res) => { res.end() })
  const proxy = await startProxy(t, `listen: { host: 127.0.0.1 }
backends: { legacy: { url: "${legacy.url}" } }
routes:
  - { name: api, match: { path: /api/* }, backend: legacy }
`)
  await (await request(`${proxy.url}/api/warm`)).body.dump()
  await (await request(`${proxy.url}/nowhere`)).body.dump()
  const before = seriesCount(await scrape(proxy))
  for (let i = 0; i < 10_000; i += 50) {
    await Promise.all(Array.from({ length: 50 }, async (_, j) => {
      const path = (i + j) % 2 === 0 ? `/api/${Math.random().toString(36).slice(2)}/${i + j}` : `/${Math.random().toString(36).slice(2)}`
      await (await request(proxy.url + path)).body.dump()
    }))
  }
  const text = await scrape(proxy)
  t.equal(seriesCount(text) - before, 0, 'no new series')
  t.equal(value(text, 'strangler_requests_total{route="_none",backend="_none",method="GET",code="404"}'), 5001)
})

t.test('reloads are counted and the live version is exposed', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const yaml = `listen: { host: 127.0.0.1 }\nbackends: { legacy: { url: "${legacy.url}" } }\nroutes: [ { name: all, match: { path: /* }, backend: legacy } ]\n`
  const proxy = await startProxy(t, yaml)
  const v1 = proxy.runtime.snapshot.config.version
  writeFileSync(proxy.file, yaml.replace('name: all', 'name: everything'))
  proxy.reload('test')
  writeFileSync(proxy.file, 'routes: [')
  proxy.reload('test')
  const text = await scrape(proxy)
  t.equal(value(text, 'strangler_config_reloads_total{result="success"}'), 1)
  t.equal(value(text, 'strangler_config_reloads_total{result="failure"}'), 1)
  t.equal(value(text, 'strangler_config_last_reload_successful'), 0)
  t.equal(value(text, `strangler_config_version_info{version="${v1}"}`), undefined, 'the old version is gone')
  t.equal(value(text, `strangler_config_version_info{version="${proxy.runtime.snapshot.config.version}"}`), 1)
})

t.test('each instance has its own registry', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const yaml = `listen: { host: 127.0.0.1 }\nbackends: { legacy: { url: "${legacy.url}" } }\nroutes: [ { name: all, match: { path: /* }, backend: legacy } ]\n`
  const a = await startProxy(t, yaml)
  const b = await startProxy(t, yaml)
  await (await request(`${a.url}/x`)).body.dump()
  await sleep(10)
  t.equal(value(await scrape(a), 'strangler_requests_total{route="all",backend="legacy",method="GET",code="200"}'), 1)
  t.equal(value(await scrape(b), 'strangler_requests_total{route="all",backend="legacy",method="GET",code="200"}'), undefined)
})

t.test('promtool check metrics accepts a scrape', async (t) => {
  const promtool = spawnSync('promtool', ['--version'])
  if (promtool.error !== undefined) {
    if (process.env.STRANGLER_REQUIRE_PROMETHEUS === '1') throw new Error('promtool is not installed')
    t.pass('promtool', { skip: 'promtool not installed (apt-get install prometheus)' })
    return
  }
  const legacy = await startUpstream(t, 'legacy')
  const proxy = await startProxy(t, `listen: { host: 127.0.0.1 }\nbackends: { legacy: { url: "${legacy.url}" } }\nroutes: [ { name: all, match: { path: /* }, backend: legacy } ]\n`)
  await (await request(`${proxy.url}/x`)).body.dump()
  await sleep(10)
  const text = await scrape(proxy)
  const res = spawnSync('promtool', ['check', 'metrics'], { input: text })
  const problems = res.stdout.toString() + res.stderr.toString()
  // prom-client's own default series break two naming conventions; ours must not.
  const ours = problems.split('\n').filter((l) => l.startsWith('strangler_'))
  t.same(ours, [], 'no lint findings on strangler_* series')
  const others = problems.split('\n').filter((l) => l !== '' && !l.startsWith('strangler_'))
  t.ok(others.every((l) => /^(nodejs_|process_)/.test(l)), `only prom-client default series are flagged: ${others.join('; ')}`)
})

t.test('the per-request series expose exactly what prom-client\'s Counter and Histogram would, alone and aggregated across workers', async (t) => {
  const ours = new Registry()
  const series = new RequestSeries(DURATION_BUCKETS)
  series.register(ours, {
    requests: { name: 'strangler_requests_total', help: 'r' },
    duration: { name: 'strangler_request_duration_seconds', help: 'd' },
    decisions: { name: 'strangler_decisions_total', help: 'x' }
  })
  const theirs = new Registry()
  const registers = [theirs]
  const requests = new Counter({ name: 'strangler_requests_total', help: 'r', labelNames: ['route', 'backend', 'method', 'code'], registers })
  const duration = new Histogram({ name: 'strangler_request_duration_seconds', help: 'd', labelNames: ['route', 'backend'], buckets: DURATION_BUCKETS, registers })
  const decisions = new Counter({ name: 'strangler_decisions_total', help: 'x', labelNames: ['route', 'backend', 'reason'], registers })
  let seed = 7
  const pick = <T>(xs: readonly T[]): T => xs[(seed = (seed * 1103515245 + 12345) % 2147483648) % xs.length] as T
  for (let i = 0; i < 2000; i++) {
    const route = pick(['orders', 'reports', '_none'])
    const backend = route === '_none' ? '_none' : pick(['legacy', 'django'])
    const method = pick(['GET', 'POST', 'DELETE'])
    const status = pick([200, 201, 404, 499, 502])
    // Bucket bounds themselves, values between them, and values past the last one.
    const seconds = pick([...DURATION_BUCKETS, 0.0004, 0.003, 0.7, 45, 120])
    const reason = route === '_none' ? undefined : pick(['static', 'flag_on', 'flag_off'])
    series.record(route, backend, method, status, seconds, reason)
    requests.inc({ route, backend, method, code: String(status) })
    duration.observe({ route, backend }, seconds)
    if (reason !== undefined) decisions.inc({ route, backend, reason })
  }
  const sorted = (text: string): string[] => text.split('\n').sort()
  t.same(sorted(await ours.metrics()), sorted(await theirs.metrics()), 'same exposition')
  const aggregated = async (r: Registry): Promise<string> => AggregatorRegistry.aggregate([await r.getMetricsAsJSON(), await r.getMetricsAsJSON()]).metrics()
  t.same(sorted(await aggregated(ours)), sorted(await aggregated(theirs)), 'same sums across two workers')
})
