/**
 * PromQL gates with the real Prometheus: the backends export their own business
 * counter (orders_created_total); a ramp climbs while the new backend creates orders
 * like legacy per request, and steps back when it stops creating them while still
 * answering 200, which no built-in gate sees. Names put into a query are escaped:
 * a hostile value cannot change the query's shape.
 */
import t from 'tap'
import { Agent, request } from 'undici'
import { startUpstream, type Handler } from '../helpers/backends.js'
import { freePort } from '../helpers/free-port.js'
import { startProxy, sleep, type TestProxy } from '../helpers/proxy.js'
import { flagsJson, flaggedYaml, rollout, usersByBucket } from '../helpers/flags.js'
import { prometheusMissing, startPrometheus } from '../helpers/prometheus.js'
import { renderQuery } from '../../src/config/promql-template.js'

const FLAG = 'orders-on-django'
const USERS = usersByBucket(FLAG)

/** A backend that creates an order per request (unless told not to) and exports its counters. */
function shop (app: string, creates: () => boolean): Handler {
  let orders = 0
  let handled = 0
  return (req, res) => {
    if (req.url === '/metrics') {
      return void res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(`# TYPE orders_created_total counter\norders_created_total{app="${app}"} ${orders}\n# TYPE handled_total counter\nhandled_total{app="${app}"} ${handled}\n`)
    }
    handled++
    if (creates()) orders++
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}')
  }
}

async function rampOf (p: TestProxy): Promise<{ percent: number, state: string, reason: string, lastJudgement?: { gates: Array<{ gate: string, name?: string, value?: number }> } }> {
  return ((await (await request(`${p.adminUrl}/ramp`)).body.json()) as { routes: Array<{ percent: number, state: string, reason: string }> }).routes[0] as { percent: number, state: string, reason: string }
}

t.test('a PromQL gate on the backends\' own counter steps a ramp back when orders stop', async (t) => {
  const missing = prometheusMissing()
  if (missing !== undefined) {
    if (process.env.STRANGLER_REQUIRE_PROMETHEUS === '1') throw new Error(missing)
    t.pass('PromQL gates', { skip: missing })
    return
  }
  let djangoCreates = true
  const legacy = await startUpstream(t, 'legacy', shop('legacy', () => true))
  const django = await startUpstream(t, 'django', shop('django', () => djangoCreates))
  const prom = await startPrometheus(t, [new URL(legacy.url).host, new URL(django.url).host])
  const query = 'sum(increase(orders_created_total{app="{{backend}}"}[{{window}}])) / sum(increase(handled_total{app="{{backend}}"}[{{window}}]))'
  const p = await startProxy(t, flaggedYaml(legacy.url, django.url, `ramps: { prometheus: "${prom.api}", interval: 500ms }\nevidence: { period: 5s }`).replace('    flag: { name: orders-on-django, backend: django }', `    flag: { name: orders-on-django, backend: django }
    ramp:
      steps: [5, 50, 100]
      hold: 3s
      minRequests: 20
      minUsers: 2
      minAddresses: 1
      gates:
        queries:
          - { name: orders_per_request, query: '${query}', compare: baseline, min: 0.8, window: 4s }`), {
    files: { 'flags.json': flagsJson([{ name: FLAG, enabled: true, strategies: [rollout(5)] }]) }
  })

  let running = true
  const agent = new Agent({ connections: 4 })
  const traffic = (async () => {
    for (let round = 0; running; round++) {
      await Promise.all([1, 2, 3, 4, 30, 31, 32, 33, 70, 71].map(async (b) => {
        await (await request(`${p.url}/api/orders/${round}`, { dispatcher: agent, headers: { 'x-user-id': USERS[b - 1] as string } })).body.dump()
      }))
      await sleep(50)
    }
  })()
  t.teardown(async () => { running = false; await traffic; await agent.close() })

  const until = async (done: (r: Awaited<ReturnType<typeof rampOf>>) => boolean, ms: number): Promise<Awaited<ReturnType<typeof rampOf>>> => {
    const end = Date.now() + ms
    let r = await rampOf(p)
    while (!done(r) && Date.now() < end) {
      await sleep(250)
      r = await rampOf(p)
    }
    return r
  }
  const climbed = await until((r) => r.percent >= 50, 60_000)
  t.equal(climbed.percent, 50, `the step passed while django created orders like legacy: ${climbed.reason}`)
  t.match(climbed.reason, /orders_per_request/, 'the query gate is part of the judgement')

  djangoCreates = false
  const back = await until((r) => r.percent < 50 || r.state !== 'running', 60_000)
  t.ok(back.percent < 50, `stepped back from 50 % (now ${back.percent} %, ${back.state})`)
  // The 4 s window may still hold orders made before the stop: the ratio is under 0.8, not always 0.
  t.match(back.reason, /query orders_per_request: (0|0\.\d+) on django vs 1 on legacy: ratio (0|0\.[0-7]\d*), min 0\.8/, 'the reason carries both figures')
  const events = await (await request(`${p.adminUrl}/timeline?route=orders`)).body.json() as { events: Array<{ kind: string, summary: string, detail?: unknown }> }
  t.ok(events.events.some((e) => /orders_per_request/.test(JSON.stringify(e))), 'and so does the timeline event')
})

t.test('a hostile name cannot change the shape of a query', async (t) => {
  const missing = prometheusMissing()
  if (missing !== undefined) {
    if (process.env.STRANGLER_REQUIRE_PROMETHEUS === '1') throw new Error(missing)
    t.pass('PromQL escaping', { skip: missing })
    return
  }
  const prom = await startPrometheus(t, [])
  const hostile = 'x"} or vector(1) # {{backend}} \\'
  const rendered = renderQuery('sum(up{job="{{route}}"}) or vector(0)', { route: hostile, backend: 'b', baseline: 'c', windowSeconds: 5 })
  const answer = await prom.query(rendered)
  t.equal(answer.status, 'success', `the rendered query parses: ${rendered}`)
  t.same(answer.data?.result.map((r) => r.value[1]), ['0'], 'the name stayed a label value: nothing matched, vector(1) never ran')
})

type Ramp = Awaited<ReturnType<typeof rampOf>>

/**
 * A proxy whose orders route ramps 5 → 50 % with one HTTP check (`check(url)`, a YAML
 * flow mapping) against django's smoke endpoint, which answers `smokeStatus()`; traffic
 * from eight users until `stop()`.
 */
async function checkedRamp (t: Parameters<typeof startProxy>[0], smokeStatus: () => number, check: (url: string) => string): Promise<{ until: (what: (r: Ramp) => boolean, ms: number) => Promise<Ramp>, stop: () => Promise<void> }> {
  const legacy = await startUpstream(t, 'legacy', (req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true, by: 'legacy', url: req.url })))
  const django = await startUpstream(t, 'django', (req, res) => {
    const smoke = req.url === '/api/orders/smoke'
    const status = smoke ? smokeStatus() : 200
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: status === 200, by: 'django' }))
  })
  const port = await freePort()
  const p = await startProxy(t, flaggedYaml(legacy.url, django.url, 'ramps: { interval: 300ms }\n# One client address here: its evidence cap (60 a period per backend) renews every 5 s, not every minute.\nevidence: { period: 5s }').replace('    flag: { name: orders-on-django, backend: django }', `    flag: { name: orders-on-django, backend: django }
    ramp:
      steps: [5, 50]
      hold: 1s
      minRequests: 10
      minUsers: 2
      minAddresses: 1
      gates:
        checks:
          - ${check(`http://127.0.0.1:${port}/api/orders/smoke`)}`), {
    port,
    env: { STRANGLER_OVERRIDE_SECRET: 'ramp-check-override-secret-of-32-bytes!' },
    files: { 'flags.json': flagsJson([{ name: FLAG, enabled: true, strategies: [rollout(5)] }]) }
  })
  let running = true
  const traffic = (async () => {
    for (let round = 0; running; round++) {
      await Promise.all([1, 2, 3, 4, 60, 61, 62, 63].map(async (b) => { await (await request(`${p.url}/api/orders/${round}`, { headers: { 'x-user-id': USERS[b - 1] as string } })).body.dump() }))
      await sleep(30)
    }
  })()
  const stop = async (): Promise<void> => { running = false; await traffic }
  t.teardown(stop)
  return {
    until: async (what, ms) => {
      const end = Date.now() + ms
      let r = await rampOf(p)
      while (!what(r) && Date.now() < end) { await sleep(200); r = await rampOf(p) }
      return r
    },
    stop
  }
}

t.test('an HTTP check sent as a next-cohort user fails the step when the new backend fails it', async (t) => {
  const run = async (djangoSmoke: number): Promise<Ramp> => {
    const ramp = await checkedRamp(t, () => djangoSmoke, (url) => `{ name: smoke, url: "${url}", as: next-cohort, expect: { json: { "$.by": django, "$.ok": true } } }`)
    const r = await ramp.until((x) => x.state !== 'running' || x.percent !== 5, 30_000)
    await ramp.stop()
    return r
  }
  const failed = await run(500)
  t.equal(failed.percent, 0, `the check failed the step: ${failed.reason}`)
  t.match(failed.reason, /gate failed: check smoke: status 500, expected 2xx \(500 in \d+ ms: "\{\\"ok\\":false,\\"by\\":\\"django\\"\}"\)/, 'with the check\'s answer in the reason')
  const passed = await run(200)
  t.equal(passed.percent, 50, `the same plan passes when the new backend passes the check: ${passed.reason}`)
  t.match(passed.reason, /smoke: 200 in \d+ ms/)
})

t.test('a `when: before` check keeps the ramp at its step until the next cohort passes it, without failing the step', async (t) => {
  let smokeStatus = 500
  const ramp = await checkedRamp(t, () => smokeStatus, (url) => `{ name: smoke, when: before, url: "${url}", as: next-cohort, expect: { json: { "$.by": django } } }`)
  const held = await ramp.until((r) => /before entering/.test(r.reason), 30_000)
  t.match(held, { percent: 5, state: 'running' }, 'the ramp stays at its step')
  t.match(held.reason, /^waiting: before entering 50 %, check failed: smoke: status 500, expected 2xx \(500 in \d+ ms: .*\) \(called again in 15 s\)$/, `and says why: ${held.reason}`)
  t.equal((held as { failures?: number }).failures, 0, 'a failed before-check is not a failure of the step it was at')
  smokeStatus = 200
  const entered = await ramp.until((r) => r.percent === 50, 30_000)
  t.equal(entered.percent, 50, `once the check passes, it enters the next step: ${entered.reason}`)
  t.match(entered.reason, /before 50 %: smoke: 200 in \d+ ms/)
})

t.test('a dry run climbs the whole plan on live evidence, records every step and writes nothing', async (t) => {
  const legacy = await startUpstream(t, 'legacy', (_req, res) => res.writeHead(200, { 'x-backend': 'legacy' }).end('{}'))
  const django = await startUpstream(t, 'django', (_req, res) => res.writeHead(200, { 'x-backend': 'django' }).end('{}'))
  const flags = flagsJson([{ name: FLAG, enabled: true, strategies: [rollout(40)] }])
  const p = await startProxy(t, flaggedYaml(legacy.url, django.url, 'ramps: { interval: 300ms }\n# One client address here: its evidence cap (60 a period per backend) renews every 5 s, not every minute.\nevidence: { period: 5s }').replace('    flag: { name: orders-on-django, backend: django }', `    flag: { name: orders-on-django, backend: django }
    ramp: { steps: [40, 60, 100], hold: 1s, minRequests: 10, minUsers: 2, minAddresses: 1, dryRun: true }`), {
    files: { 'flags.json': flags }
  })
  let running = true
  const traffic = (async () => {
    for (let round = 0; running; round++) {
      await Promise.all([1, 2, 3, 4, 70, 71, 72, 73].map(async (b) => { await (await request(`${p.url}/api/orders/${round}`, { headers: { 'x-user-id': USERS[b - 1] as string } })).body.dump() }))
      await sleep(30)
    }
  })()
  const end = Date.now() + 45_000
  let r = await rampOf(p)
  while (r.percent !== 100 && Date.now() < end) {
    await sleep(250)
    r = await rampOf(p)
  }
  running = false
  await traffic
  t.equal(r.percent, 100, `the dry run reached the end of the plan, as far as the plan goes: ${r.reason}`)
  t.equal(((await (await request(`${p.adminUrl}/ramp`)).body.json()) as { routes: Array<{ dryRun: boolean }> }).routes[0]?.dryRun, true)
  const { readFileSync } = await import('node:fs')
  const { join, dirname } = await import('node:path')
  t.equal(readFileSync(join(dirname(p.file), 'flags.json'), 'utf8'), flags, 'the flags file is untouched')
  const moved = await request(`${p.url}/api/orders/1`, { headers: { 'x-user-id': USERS[69] as string } })
  t.equal(moved.headers['x-backend'], 'legacy', 'a user of bucket 70 is still on legacy: the live rollout stayed at 40 %')
  await moved.body.dump()
  const events = ((await (await request(`${p.adminUrl}/timeline?route=orders&kind=ramp_transition`)).body.json()) as { events: Array<{ summary: string, after: { percent: number } }> }).events
  t.match(events.filter((e) => /dry run, nothing written/.test(e.summary)).map((e) => e.after.percent), [40, 60, 100], 'taking the flag up and each step it would have taken are on the timeline, marked as a dry run')
  const metrics = await (await request(`${p.adminUrl}/metrics`)).body.text()
  t.match(metrics, /^strangler_ramp_transitions_total\{route="orders",to="step_up",dry_run="true"\} 2$/m, 'counted with dry_run="true"')
})
