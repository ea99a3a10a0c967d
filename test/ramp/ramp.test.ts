/**
 * Ramp plans on a single proxy with file flags, on real sockets: the proxy climbs the
 * steps on its own traffic, holds with too little of it, steps back on injected 5xx
 * keeping the earlier cohort on the new backend, waits for approval, obeys the CLI
 * and resumes at the same step after a restart. Holds are seconds here.
 */
import t, { type Test } from 'tap'
import { dirname, join } from 'node:path'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { request } from 'undici'
import { startUpstream, type Upstream } from '../helpers/backends.js'
import { startProxy, sleep, type TestProxy } from '../helpers/proxy.js'
import { flagsJson, flaggedYaml, rollout, usersByBucket } from '../helpers/flags.js'
import { runCli } from '../helpers/cli.js'

const FLAG = 'orders-on-django'

const USERS = usersByBucket(FLAG)

interface Ramp { route: string, percent: number, nextPercent?: number, state: string, reason: string, failures: number, lastJudgement?: { verdict: string, gates: Array<{ gate: string, pass: boolean | null }> } }

async function rampOf (p: TestProxy): Promise<Ramp> {
  const res = await request(`${p.adminUrl}/ramp`)
  const body = await res.body.json() as { routes: Ramp[] }
  return body.routes[0] as Ramp
}

/**
 * Sends a round of requests, one per bucket, until stopped; records which backend each
 * user got. `pause` between rounds bounds the traffic whatever the host's speed, and
 * leaves the host's CPU to the proxy and the other tests: a ramp needs evidence, not a flood.
 */
function traffic (p: TestProxy, seen: Map<number, string[]>, users = USERS, pause = 50): { stop: () => Promise<void> } {
  let running = true
  const loop = (async () => {
    while (running) {
      if (pause > 0) await sleep(pause)
      await Promise.all(users.map(async (user, i) => {
        const res = await request(`${p.url}/api/orders/1`, { headers: { 'x-user-id': user } })
        const text = await res.body.text()
        const backend = res.statusCode >= 500 ? `${res.statusCode}` : (JSON.parse(text) as { backend: string }).backend
        const list = seen.get(i + 1) ?? []
        list.push(backend)
        seen.set(i + 1, list)
      }))
    }
  })()
  return { stop: async () => { running = false; await loop } }
}

async function until (p: TestProxy, what: (r: Ramp) => boolean, ms: number): Promise<Ramp> {
  const end = Date.now() + ms
  let r = await rampOf(p)
  while (!what(r) && Date.now() < end) {
    await sleep(200)
    r = await rampOf(p)
  }
  return r
}

/**
 * Each cohort here is one user bucket, all from 127.0.0.1: the distinct-user and
 * distinct-address minimums are 1 and one address may be all the evidence
 * (test/ramp/ramp-evidence.test.ts checks those defaults against a hostile client).
 */
async function setup (t: Test, ramp: string, django?: Upstream, flagPercent = 0, dir?: string): Promise<{ p: TestProxy, legacy: Upstream, django: Upstream }> {
  const legacy = await startUpstream(t, 'legacy')
  django ??= await startUpstream(t, 'django')
  const p = await startProxy(t, flaggedYaml(legacy.url, django.url, 'evidence: { perAddress: 100000, perUser: 100000 }   # all traffic comes from 127.0.0.1, a round a few ms').replace('    flag: { name: orders-on-django, backend: django }', `    flag: { name: orders-on-django, backend: django }\n    ramp: ${ramp.replace('{ ', '{ minUsers: 1, minAddresses: 1, minFailingClients: 1, ')}`), {
    files: { 'flags.json': flagsJson([{ name: FLAG, enabled: true, strategies: [rollout(flagPercent)] }]) },
    ...(dir === undefined ? {} : { dir })
  })
  return { p, legacy, django }
}

t.test('a ramp climbs 1 → 5 → 25 on the traffic it sees, and says why at each step', async (t) => {
  const { p } = await setup(t, '{ steps: [1, 5, 25, 50, 100], hold: 2s, minRequests: 3, approve: [50], gates: { maxLatencyRatio: 10 } }')
  t.equal((await rampOf(p)).percent, 1, 'starts at the first step')
  const seen = new Map<number, string[]>()
  const load = traffic(p, seen)
  const at5 = await until(p, (r) => r.percent === 5, 15_000)
  t.equal(at5.percent, 5, `then 5 % (${at5.reason})`)
  t.match(at5.reason, /entered 5 %; gates passed: 5xx 0\.00 %/, 'the reason names the gates')
  const at25 = await until(p, (r) => r.state === 'awaiting_approval', 15_000)
  await load.stop()
  t.equal(at25.percent, 25, 'then 25 %')
  t.equal(at25.nextPercent, 50)
  t.match(at25.reason, /waits for approval to enter 50 %/, 'and 50 % waits for a person')
  // What users see: bucket 3 has been on django since 5 %, bucket 60 never left legacy.
  t.equal(seen.get(60)?.every((b) => b === 'legacy'), true, 'bucket 60 always on legacy')
  t.equal(seen.get(1)?.every((b) => b === 'django'), true, 'bucket 1 always on django')
  const metrics = await (await request(`${p.adminUrl}/metrics`)).body.text()
  t.match(metrics, /strangler_ramp_step_percent\{route="orders"\} 25/)
  t.match(metrics, /strangler_ramp_state\{route="orders",state="awaiting_approval"\} 1/)
  t.match(metrics, /strangler_ramp_transitions_total\{route="orders",to="step_up"\} [3-9]/)
  const timeline = await (await request(`${p.adminUrl}/timeline?kind=ramp_transition`)).body.json() as { events: Array<{ routes: string[], cause: string, after: { transition: string, percent: number } }> }
  t.same(timeline.events.map((e) => [e.after.transition, e.after.percent]), [['step_up', 1], ['step_up', 5], ['step_up', 25], ['awaiting_approval', 25]], 'every ramp transition is on the timeline')
  const explain = await (await request(`${p.adminUrl}/explain?path=/api/orders/1&header=x-user-id:${USERS[9] as string}`)).body.json() as { backend: string, ramp: { percent: number, state: string } }
  t.same([explain.backend, explain.ramp.percent, explain.ramp.state], ['django', 25, 'awaiting_approval'], 'explain shows the step')

  const approved = await request(`${p.adminUrl}/ramp/orders/approve`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
  t.equal(approved.statusCode, 200)
  t.equal(((await approved.body.json()) as Ramp).percent, 50, 'approved: 50 %')
  const again = await request(`${p.adminUrl}/ramp/orders/approve`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
  t.equal(again.statusCode, 409, 'nothing left to approve')
  t.match(await again.body.json(), { code: 'SPX_RAMP_CONFLICT', detail: /nothing to approve: the ramp is running/ })
})

t.test('too little traffic neither promotes nor fails: the ramp waits and says so', async (t) => {
  const { p } = await setup(t, '{ steps: [10, 50], hold: 1s, minRequests: 1000 }')
  const seen = new Map<number, string[]>()
  // At most 35 rounds of 10 new-backend requests in 3.5 s: short of 1,000 on any host.
  const load = traffic(p, seen, USERS, 100)
  await sleep(3500)
  await load.stop()
  const r = await rampOf(p)
  t.equal(r.percent, 10)
  t.equal(r.state, 'running')
  t.match(r.reason, /^waiting: \d+ of 1000 requests on the new backend/)
  t.equal(r.failures, 0)
})

t.test('5xx at 25 % step back to 5 %: only the newest cohort returns to legacy', async (t) => {
  let failing = false
  const django = await startUpstream(t, 'django', (_req, res) => {
    res.writeHead(failing ? 500 : 200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ backend: 'django' }))
  })
  const { p } = await setup(t, '{ steps: [1, 5, 25, 50], hold: 2s, minRequests: 5, maxFailures: 5, gates: { maxLatencyRatio: 10 } }', django)
  const seen = new Map<number, string[]>()
  const load = traffic(p, seen)
  await until(p, (r) => r.percent === 25, 20_000)
  seen.clear()
  failing = true
  const back = await until(p, (r) => r.failures > 0, 15_000)
  failing = false
  await sleep(1500)
  await load.stop()
  t.equal(back.percent, 5, `stepped back to 5 % (${back.reason})`)
  t.match(back.reason, /stepped back from 25 % to 5 %: gate failed: errors \(5xx [\d.]+ % on the new backend vs 0\.00 % on the baseline/)
  // Buckets 1–5 reached django (or its 500s) on every request: never sent back to legacy.
  for (let b = 1; b <= 5; b++) t.notOk(seen.get(b)?.includes('legacy'), `bucket ${b} never back on legacy`)
  const after = (seen.get(20) ?? []).slice(-3)
  t.same(after, ['legacy', 'legacy', 'legacy'], 'bucket 20 is back on legacy')
  const metrics = await (await request(`${p.adminUrl}/metrics`)).body.text()
  t.match(metrics, /strangler_ramp_transitions_total\{route="orders",to="step_back"\} 1/)
  t.ok(p.logs.some((l) => l.level === 40 && /stepped back from 25 %/.test(String(l.msg))), 'a warning in the log')
})

t.test('pause, resume, skip and abort from the CLI; a restart resumes at the same step', async (t) => {
  const first = await setup(t, '{ steps: [10, 30, 60], hold: 1h, minRequests: 1 }')
  const dir = dirname(first.p.file)
  const cli = async (...args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> => await runCli(['ramp', ...args, '--admin', first.p.adminUrl])
  let r = await cli('skip', 'orders')
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /orders\s+orders-on-django\s+30 %\s+60 %\s+running\s+10 → 30 → 60\s+skipped to 30 % by admin API/)
  r = await cli('pause', 'orders')
  t.match(r.stdout, /30 %\s+60 %\s+paused/)
  r = await cli('pause', 'orders')
  t.equal(r.code, 1, 'pausing twice is refused')
  t.match(r.stderr, /SPX_RAMP_CONFLICT: cannot pause a paused ramp/)
  r = await cli('resume', 'orders')
  t.match(r.stdout, /running/)
  r = await cli('status')
  t.match(r.stdout, /^ROUTE\s+FLAG\s+STEP\s+NEXT\s+STATE/)
  r = await cli('approve', 'nope')
  t.equal(r.code, 1)
  t.match(r.stderr, /SPX_ADMIN_NOT_FOUND: route "nope" has no ramp plan/)
  r = await runCli(['ramp', 'jump', 'orders', '--admin', first.p.adminUrl])
  t.equal(r.code, 2, 'an unknown action is a usage error')

  // A user in bucket 20 is on django at 30 %.
  const user20 = USERS[19] as string
  const backendOf = async (p: TestProxy): Promise<string> => ((await (await request(`${p.url}/api/orders/1`, { headers: { 'x-user-id': user20 } })).body.json()) as { backend: string }).backend
  t.equal(await backendOf(first.p), 'django')
  await first.p.shutdown('restart')
  const second = await setup(t, '{ steps: [10, 30, 60], hold: 1h, minRequests: 1 }', undefined, 0, dir)
  const resumed = await rampOf(second.p)
  t.equal(resumed.percent, 30, 'the restart resumes at 30 %, not at the start')
  t.equal(await backendOf(second.p), 'django', 'and serves it')
  r = await runCli(['ramp', 'abort', 'orders', '--admin', second.p.adminUrl])
  t.match(r.stdout, /0 %\s+10 %\s+aborted/)
  t.equal(await backendOf(second.p), 'legacy', 'abort: back on legacy')
})

t.test('a restart under an edited plan never resumes above the saved percentage; a damaged state file is refused', async (t) => {
  const first = await setup(t, '{ steps: [10, 30, 60], hold: 1h, minRequests: 1 }')
  const dir = dirname(first.p.file)
  t.equal((await runCli(['ramp', 'skip', 'orders', '--admin', first.p.adminUrl])).code, 0)
  t.equal((await rampOf(first.p)).percent, 30)
  await first.p.shutdown('restart')
  // The plan is edited while the proxy is down: 30 % is no step of it.
  const second = await setup(t, '{ steps: [25, 50, 75, 100], hold: 1h, minRequests: 1 }', undefined, 0, dir)
  const r = await rampOf(second.p)
  t.equal(r.percent, 25, 'resumed at 25 %, the highest step at or below the saved 30 %')
  t.match(r.reason, /the plan changed while the proxy was stopped: resumed at 25 %, the highest step at or below the saved 30 %/)
  const bucket28 = ((await (await request(`${second.p.url}/api/orders/1`, { headers: { 'x-user-id': USERS[27] as string } })).body.json()) as { backend: string }).backend
  t.equal(bucket28, 'legacy', 'a user in bucket 28 is not moved by the edit')
  await second.p.shutdown('restart')

  const stateDir = join(dir, 'state', 'strangler-proxy')
  const file = join(stateDir, readdirSync(stateDir).find((f) => f.startsWith('ramps-')) as string)
  const saved = JSON.parse(readFileSync(file, 'utf8')) as { routes: { orders: { percent: number } } }
  saved.routes.orders.percent = 250
  writeFileSync(file, JSON.stringify(saved))
  const third = await setup(t, '{ steps: [25, 50, 75, 100], hold: 1h, minRequests: 1 }', undefined, 0, dir)
  const res = await request(`${third.p.adminUrl}/ramp`)
  t.equal(res.statusCode, 200, 'GET /ramp answers')
  const refused = ((await res.body.json()) as { routes: Ramp[] }).routes[0] as Ramp
  t.match(refused, { state: 'paused', percent: 0 }, 'the ramp is paused and nothing was applied')
  t.match(refused.reason, /the saved ramp state was refused \(.*route orders: percent 250 is not in \[0, 100\]\)/)
  t.ok(third.p.logs.some((l) => l.msg === 'ramp state refused: every ramp stays paused where it is until the file is fixed or removed' && String(l.file) === file), 'a log line names the file')
  const all = ((await (await request(`${third.p.url}/api/orders/1`, { headers: { 'x-user-id': USERS[0] as string } })).body.json()) as { backend: string }).backend
  t.equal(all, 'legacy', 'the flags file\'s own 0 % applies: the damaged file never gave a 100 % rollout')
})

t.test('a rollout edited in flags.yaml under a ramp pauses it instead of writing over it', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const { writeFileSync } = await import('node:fs')
  const p = await startProxy(t, flaggedYaml(legacy.url, django.url, 'evidence: { perAddress: 100000, perUser: 100000 }   # all traffic comes from 127.0.0.1, a round a few ms').replace('    flag: { name: orders-on-django, backend: django }', '    flag: { name: orders-on-django, backend: django }\n    ramp: { steps: [10, 30], hold: 1h }'), {
    files: { 'flags.json': flagsJson([{ name: FLAG, enabled: true, strategies: [rollout(0)] }]) },
    watch: true
  })
  t.equal((await rampOf(p)).percent, 10)
  writeFileSync(`${dirname(p.file)}/flags.json`, flagsJson([{ name: FLAG, enabled: true, strategies: [rollout(70)] }]))
  const r = await until(p, (x) => x.state === 'paused', 5000)
  t.equal(r.state, 'paused')
  t.match(r.reason, /the rollout of orders-on-django is 70 % in flags\.yaml, the ramp had set 10 %; it was changed outside the ramp/)
  const explain = await (await request(`${p.adminUrl}/explain?path=/api/orders/1&header=x-user-id:${USERS[49] as string}`)).body.json() as { backend: string }
  t.equal(explain.backend, 'django', 'the person\'s 70 % applies (bucket 50)')
})

t.test('while a ramp holds a step, shadow copies come only from the cohort that moves next', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const p = await startProxy(t, flaggedYaml(legacy.url, django.url).replace('    flag: { name: orders-on-django, backend: django }', '    flag: { name: orders-on-django, backend: django }\n    shadow: { backend: django, compare: { ignore: [$.backend, $.headers, $.rawHeaders] } }\n    ramp: { steps: [10, 30, 60], hold: 1h, minRequests: 1, minComparisons: 5 }'), {
    files: { 'flags.json': flagsJson([{ name: FLAG, enabled: true, strategies: [rollout(0)] }]) }
  })
  const load = traffic(p, new Map())
  const r = await until(p, (x) => x.lastJudgement?.gates.find((g) => g.gate === 'parity')?.pass !== undefined, 8000)
  await load.stop()
  await sleep(300)
  const copies = django.seen.filter((s) => s.headers['x-strangler-shadow'] === '1').map((s) => USERS.indexOf(String(s.headers['x-user-id'])) + 1)
  t.ok(copies.length >= 20, `${copies.length} copies`)
  t.same(copies.filter((b) => b <= 10 || b > 30), [], 'every copy is from a user in buckets 11–30')
  t.same([...new Set(copies)].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 11), 'and every user of that cohort is copied')
  const parity = r.lastJudgement?.gates.find((g) => g.gate === 'parity')
  t.equal(parity?.pass, true, `the parity gate judges those copies: ${JSON.stringify(parity)}`)
})

t.test('a bad ramp plan is refused with file, line and field, every problem at once', async (t) => {
  const legacy = 'http://127.0.0.1:1'
  const yaml = flaggedYaml(legacy, legacy, 'ramps: { driver: fleet, interval: 10ms }')
    .replace('    flag: { name: orders-on-django, backend: django }', '    flag: { name: orders-on-django, variants: { a: django } }\n    ramp: { steps: [5, 5, 2], approve: [50], hold: 500ms, onFail: retreat }')
  const dir = (await import('../helpers/proxy.js')).tempDir(t)
  const { writeFileSync } = await import('node:fs')
  writeFileSync(`${dir}/routes.yaml`, yaml)
  writeFileSync(`${dir}/flags.json`, flagsJson([]))
  const r = await runCli(['validate', `${dir}/routes.yaml`])
  t.equal(r.code, 1)
  const lines = r.stderr.trim().split('\n')
  t.equal(lines.at(-1), 'SPX_CONFIG_INVALID: 9 problem(s)')
  for (const expected of [
    /routes\.yaml:15:\d+: routes\[0\]\.ramp\.onFail: must be one of "stepBack", "abort"$/,
    /routes\.yaml:\d+:\d+: ramps\.driver: fleet needs flags\.unleash/,
    /routes\.yaml:\d+:\d+: ramps\.interval: must be at least 100ms/,
    /routes\.yaml:\d+:\d+: routes\[0\]\.ramp: needs a route flag with backend:/,
    /routes\.yaml:\d+:\d+: routes\[0\]\.ramp\.steps\[1\]: 5 is not above the step before it \(5\); steps climb/,
    /routes\.yaml:\d+:\d+: routes\[0\]\.ramp\.steps\[2\]: 2 is not above the step before it \(5\)/,
    /routes\.yaml:\d+:\d+: routes\[0\]\.ramp\.approve\[0\]: 50 is not one of the steps \(5, 5, 2\)/,
    /routes\.yaml:\d+:\d+: routes\[0\]\.ramp\.hold: must be at least 1s/
  ]) t.ok(lines.some((l) => expected.test(l)), String(expected))
})

t.test('ramp run refuses a config whose proxies drive their own ramps', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const { p } = await setup(t, '{ steps: [10, 30] }', legacy)
  const r = await runCli(['ramp', 'run', '--config', p.file, '--listen', '127.0.0.1:0'])
  t.equal(r.code, 1)
  t.match(r.stderr, /ramp run: ramps\.driver is not fleet: every proxy drives its own ramps, and a second driver would fight them/)
})
