/**
 * The fleet driver (`ramp run`) against a Prometheus and an Unleash that misbehave,
 * on real sockets: NaN figures wait instead of passing, a hung Prometheus never keeps
 * a person's pause waiting, a refused write is never shown as done and is retried
 * until it lands, and afterwards the rollout in Unleash is what /ramp says.
 */
import t from 'tap'
import http from 'node:http'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { request } from 'undici'
import { runRampDriver } from '../../src/lifecycle/ramp-runner.js'
import { createLogger } from '../../src/observe/log.js'
import { tempDir, writeConfig, sleep, type T } from '../helpers/proxy.js'
import { poll } from '../helpers/poll.js'

const FLAG = 'orders-on-django'
type Mode = 'ok' | 'nan' | 'hang' | '500' | 'garbage' | '403' | 'reset'

interface Fake { url: string, mode: Mode, rollout: number, puts: number }

async function serve (t: T, handle: (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void): Promise<string> {
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => { body += c.toString() })
    req.on('end', () => handle(req, body, res))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => { server.closeAllConnections(); server.close() })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** Prometheus's query API: plausible healthy figures, or NaN, a hang, a 500 or garbage. */
async function fakePrometheus (t: T): Promise<Fake> {
  const f: Fake = { url: '', mode: 'ok', rollout: 0, puts: 0 }
  f.url = await serve(t, (req, _body, res) => {
    const query = new URL(req.url ?? '/', 'http://x').searchParams.get('query') ?? ''
    const value = (v: string): void => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [0, v] }] } }))
    switch (f.mode) {
      case 'reset': return void req.socket.destroy()
      case 'hang': return
      case '500': return void res.writeHead(500).end('query engine exploded')
      case 'garbage': return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"success","data":')
      case 'nan': return value('NaN')
      default: return value(query.includes('histogram_quantile') ? '0.02' : query.includes('5xx') || query.includes('4xx') ? '0' : '1000')
    }
  })
  return f
}

/** The part of Unleash's admin API the driver uses: one flexibleRollout strategy. */
async function fakeUnleash (t: T, rollout: number): Promise<Fake> {
  const f: Fake = { url: '', mode: 'ok', rollout, puts: 0 }
  f.url = await serve(t, (req, body, res) => {
    if (f.mode === 'hang') return
    if (f.mode === 'reset') return void req.socket.destroy()
    if (f.mode === '500') return void res.writeHead(500).end('internal error')
    if (req.method === 'PUT') {
      f.puts++
      if (f.mode === '403') return void res.writeHead(403, { 'content-type': 'application/json' }).end('{"message":"no permission"}')
      f.rollout = Number((JSON.parse(body) as { parameters: { rollout: string } }).parameters.rollout)
      return void res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify([{ id: 's1', name: 'flexibleRollout', parameters: { rollout: String(f.rollout), stickiness: 'default', groupId: FLAG }, constraints: [] }]))
  })
  return f
}

interface Ramp { percent: number, targetPercent: number, state: string, planState: string, reason: string, write: { status: string, error?: string } }

t.test('ramp run fails safe: bad figures wait, actions answer, refused writes are said and retried', async (t) => {
  const prom = await fakePrometheus(t)
  const unleash = await fakeUnleash(t, 20)
  const dir = tempDir(t)
  const yaml = `
backends:
  legacy: { url: "http://127.0.0.1:1" }
  django: { url: "http://127.0.0.1:2" }
flags:
  unleash: { url: "${unleash.url}/api", environment: development }
cohort: { userId: { header: x-user-id } }
ramps: { driver: fleet, prometheus: "${prom.url}", interval: 300ms, timeout: 250ms }
routes:
  - name: orders
    match: { path: /api/orders/* }
    backend: legacy
    flag: { name: ${FLAG}, backend: django }
    ramp: { steps: [5, 20, 50, 100], hold: 1s, minRequests: 10, approve: [100] }
`
  const logger = createLogger({ level: 'fatal' })
  const runner = await runRampDriver({ configFile: writeConfig(t, yaml, dir), logger, host: '127.0.0.1', port: 0, env: { UNLEASH_ADMIN_TOKEN: 'admin-token', XDG_STATE_HOME: join(dir, 'state') }, watch: false })
  t.teardown(() => runner.stop())
  const rampOf = async (): Promise<Ramp> => ((await (await request(`${runner.url}/ramp`)).body.json()) as { routes: Ramp[] }).routes[0] as Ramp
  const act = async (action: string): Promise<{ status: number, ms: number, body: Record<string, unknown> }> => {
    const started = Date.now()
    const res = await request(`${runner.url}/ramp/orders/${action}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
    return { status: res.statusCode, ms: Date.now() - started, body: await res.body.json() as Record<string, unknown> }
  }

  /** The ramp once its reason says `why`: said only when it has judged the step on such figures. */
  const judged = async (why: RegExp): Promise<Ramp> => await poll(rampOf, (r) => why.test(r.reason), 10_000)

  // NaN from every query: the ramp waits at 20 % and says why; nothing is written.
  prom.mode = 'nan'
  let r = await judged(/no usable evidence/)
  t.equal(unleash.rollout, 20, 'NaN figures never advanced the rollout')
  t.equal(r.percent, 20)
  t.match(r.reason, /no usable evidence \(new backend requests is NaN, not a number\)/)

  for (const [mode, why] of [['garbage', /the answer is not JSON/], ['500', /HTTP 500 query engine exploded/], ['reset', /Prometheus query for .*: (other side closed|socket hang up|read ECONNRESET)/], ['hang', /no answer within 250 ms/]] as const) {
    prom.mode = mode
    r = await judged(why)
    t.equal(unleash.rollout, 20, `${mode}: still 20 %`)
    t.match(r.reason, why, `${mode}: the reason says what Prometheus did`)
    t.notMatch(r.reason, /Unleash/, `${mode}: not blamed on Unleash`)
  }

  // Prometheus still hangs: a pause answers at once.
  const paused = await act('pause')
  t.equal(paused.status, 200)
  t.ok(paused.ms < 1000, `pause answered in ${paused.ms} ms with Prometheus hung`)
  t.equal((await act('resume')).status, 200)

  // Unleash refuses writes: an abort is recorded, said to have failed, and never shown as 0 %.
  unleash.mode = '403'
  const aborted = await act('abort')
  t.equal(aborted.status, 502, 'the abort did not reach Unleash: not a 200')
  t.match(aborted.body, { code: 'SPX_RAMP_WRITE_FAILED', detail: /could not be set to 0 % in Unleash: PUT .* → 403/ })
  t.ok(aborted.ms < 1500, `and it answered in ${aborted.ms} ms`)
  r = await rampOf()
  t.match(r, { state: 'write_failed', planState: 'aborted', percent: 20, targetPercent: 0, write: { status: 'failed' } }, 'the status says 20 % still served, abort not applied')
  t.match(r.reason, /^WRITE FAILED: the ramp is aborted at 0 %, but the rollout of orders-on-django in Unleash is still 20 %/)
  const metrics = await (await request(`${runner.url}/metrics`)).body.text()
  t.match(metrics, /strangler_ramp_write_failures_total\{route="orders"\} [1-9]/)
  t.match(metrics, /strangler_ramp_state\{route="orders",state="write_failed"\} 1/)
  t.match(metrics, /strangler_ramp_step_percent\{route="orders"\} 20/)
  const puts = unleash.puts
  await sleep(1500)
  t.ok(unleash.puts - puts <= 2, `retries back off (${unleash.puts - puts} in 1.5 s)`)

  // Unleash accepts again: the retry lands, and Unleash and /ramp agree.
  unleash.mode = 'ok'
  const end = Date.now() + 15_000
  while ((r = await rampOf()).state !== 'aborted' && Date.now() < end) await sleep(200)
  t.match(r, { state: 'aborted', percent: 0, write: { status: 'applied' } })
  t.equal(unleash.rollout, 0, 'the rollout in Unleash is what /ramp says')

  // Restarted, then Unleash hangs, fails and drops connections in turn while a person skips.
  prom.mode = 'ok'
  t.equal((await act('resume')).status, 200, 'resume restarts at the first step')
  t.equal(unleash.rollout, 5)
  for (const mode of ['hang', '500', 'reset'] as const) {
    unleash.mode = mode
    const skipped = await act('skip')
    t.ok(skipped.ms < 1500, `${mode}: skip answered in ${skipped.ms} ms`)
    t.equal(skipped.status, 502, `${mode}: the skip is not reported as applied`)
    const now = await rampOf()
    t.not(now.percent, now.targetPercent, `${mode}: /ramp shows the served ${now.percent} % apart from the wanted ${now.targetPercent} %`)
    t.equal(now.percent, unleash.rollout, `${mode}: and what it says is served is what Unleash serves`)
    unleash.mode = 'ok'
    const until = Date.now() + 15_000
    let settled = await rampOf()
    while (settled.write.status !== 'applied' && Date.now() < until) {
      await sleep(200)
      settled = await rampOf()
    }
    t.equal(settled.percent, unleash.rollout, `${mode}: once Unleash answers, /ramp and Unleash agree (${unleash.rollout} %)`)
  }
  t.equal(unleash.rollout, 100, 'three skips from 5 %: 20, 50, 100')
})
