/**
 * Slowloris and slow-body attacks (Debian's slowhttptest, bounded runs on loopback)
 * are cut at the configured timeouts while other clients keep being served, and the
 * attackers never hold a backend connection.
 */
import t, { type Test } from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { request } from 'undici'
import { startUpstream } from '../helpers/backends.js'
import { startProxy, accessLines, sleep, type TestProxy } from '../helpers/proxy.js'
import { backendPool, until } from '../helpers/pool-metrics.js'

const missing = spawnSync('slowhttptest', ['-h']).error !== undefined

interface Attack { mode: '-H' | '-B' | '-X' | '-R', seconds: number }

/** Per mode: slow headers and bodies trickle 16 bytes a second; slow read pipelines 3 requests and reads 32 bytes a second through a tiny window; the range attack asks for 2,000 overlapping ranges. */
const ARGS: Record<Attack['mode'], string[]> = {
  '-H': ['-i', '1', '-s', '8192', '-x', '16'],
  '-B': ['-i', '1', '-s', '8192', '-x', '16'],
  '-X': ['-k', '3', '-w', '512', '-y', '1024', '-n', '1', '-z', '32'],
  '-R': ['-a', '5', '-b', '2000']
}

/** Runs slowhttptest against the proxy while a well-behaved client keeps sending requests. */
async function underAttack (proxy: TestProxy, attack: Attack): Promise<{ report: string, ok: number, failed: number, worstMs: number }> {
  const child = spawn('slowhttptest', [attack.mode, '-c', '300', '-r', '150', ...ARGS[attack.mode], '-l', String(attack.seconds), '-p', '3', '-u', `${proxy.url}/api/orders`])
  let report = ''
  child.stdout.on('data', (c: Buffer) => { report += c.toString() })
  child.stderr.on('data', (c: Buffer) => { report += c.toString() })
  const done = new Promise<void>((resolve) => child.on('exit', () => resolve()))
  let ok = 0
  let failed = 0
  let worstMs = 0
  let running = true
  void done.then(() => { running = false })
  await sleep(1000)
  while (running) {
    const start = performance.now()
    try {
      const res = await request(`${proxy.url}/api/orders/1`, { headersTimeout: 5000, bodyTimeout: 5000 })
      await res.body.dump()
      if (res.statusCode === 200) ok++
      else failed++
    } catch {
      failed++
    }
    worstMs = Math.max(worstMs, performance.now() - start)
    await sleep(100)
  }
  await done
  // slowhttptest paints a terminal screen; keep the text.
  return { report: report.replace(/\x1b\[[0-9;]*[A-Za-z]/g, ''), ok, failed, worstMs }
}

async function setup (t: Test) {
  const legacy = await startUpstream(t, 'legacy', (_req, res) => { res.end('ok') })
  const proxy = await startProxy(t, `listen: { host: 127.0.0.1 }
client: { headersTimeout: 2s, requestTimeout: 3s }
backends: { legacy: { url: "${legacy.url}", pool: { connections: 8 } } }
routes: [ { name: orders, match: { path: /api/orders/* }, backend: legacy } ]
`)
  return { legacy, proxy }
}

for (const [name, mode] of [['slowloris (slow headers)', '-H'], ['slow body (R-U-Dead-Yet)', '-B']] as const) {
  t.test(`${name} is cut at the timeouts; others are served; no backend connection is held`, async (t) => {
    if (missing) {
      if (process.env.STRANGLER_REQUIRE_SLOWHTTPTEST === '1') throw new Error('slowhttptest is not installed')
      t.pass(name, { skip: 'slowhttptest not installed (apt-get install slowhttptest)' })
      return
    }
    const { legacy, proxy } = await setup(t)
    const result = await underAttack(proxy, { mode, seconds: 9 })
    t.ok(result.ok >= 30, `${result.ok} normal requests served during the attack`)
    t.equal(result.failed, 0, 'none failed')
    t.ok(result.worstMs < 1000, `worst normal request took ${result.worstMs.toFixed(0)} ms`)
    // slowhttptest stops early once the server has closed every connection it opened.
    t.match(result.report, /Exit status: No open connections left/, 'the proxy closed every attacking connection')
    const ended = Number(/Test ended on (\d+)\w* second/.exec(result.report)?.[1] ?? 99)
    t.ok(ended <= 7, `all cut by second ${ended} (timeouts 2 s headers, 3 s request, plus the 2 s ramp-up)`)
    t.match(result.report, /service available:\s+YES/, 'slowhttptest saw the service available')
    t.notMatch(result.report, /service available:\s+NO/, 'and never unavailable')
    // Only slowhttptest's probe (a plain, complete GET) and our client may reach it.
    const attackers = legacy.seen.filter((s) => s.method !== 'GET' || Object.keys(s.headers).some((h) => h.startsWith('x-') && !/^x-(forwarded-.*|request-id|real-ip)$/.test(h)))
    t.same(attackers.map((s) => `${s.method} ${s.url}`), [], 'no attacking request reached the backend')
    if (mode === '-B') {
      await sleep(50)
      t.ok(accessLines(proxy.logs).filter((l) => l.status === 408 && l.code === 'SPX_REQUEST_TIMEOUT').length > 100, 'slow bodies answered 408')
    }
  })
}

for (const [name, mode] of [['slow read (pipelined, tiny window)', '-X'], ['range attack (Apache killer)', '-R']] as const) {
  t.test(`${name}: the backend pool is released once the attack ends, and serves normally`, async (t) => {
    if (missing) {
      if (process.env.STRANGLER_REQUIRE_SLOWHTTPTEST === '1') throw new Error('slowhttptest is not installed')
      t.pass(name, { skip: 'slowhttptest not installed (apt-get install slowhttptest)' })
      return
    }
    // 4 MiB answers: more than the socket buffers on loopback take, so a reader
    // taking 32 bytes a second through a 1 KiB window stalls the response, and
    // without sendTimeout would keep its backend connection for good.
    const body = Buffer.alloc(4 * 1024 * 1024, 'x')
    const legacy = await startUpstream(t, 'legacy', (_req, res) => { res.end(body) })
    const proxy = await startProxy(t, `listen: { host: 127.0.0.1 }
client: { headersTimeout: 2s, requestTimeout: 3s, sendTimeout: 2s }
backends: { legacy: { url: "${legacy.url}", pool: { connections: 128 } } }
routes: [ { name: orders, match: { path: /api/orders/* }, backend: legacy } ]
`)
    const result = await underAttack(proxy, { mode, seconds: 10 })
    t.comment(`during the attack: ${result.ok} served, ${result.failed} failed, worst ${result.worstMs.toFixed(0)} ms`)
    // While 300 slow readers last, each may hold a backend connection for up to
    // sendTimeout, so ordinary requests can queue behind them (docs/operations.md says
    // so); what must hold is that the pool is free again once they are cut.
    if (mode === '-R') {
      t.ok(result.ok >= 1, `${result.ok} normal requests served during the attack`)
      t.equal(result.failed, 0, 'none failed')
    }
    const released = await until(async () => {
      const p = await backendPool(proxy.adminUrl, 'legacy')
      return p.running === 0 && p.queued === 0
    }, 4000)
    t.ok(released, `backend pool released: ${JSON.stringify(await backendPool(proxy.adminUrl, 'legacy'))}`)
    const after = await request(`${proxy.url}/api/orders/1`, { headersTimeout: 2000, bodyTimeout: 2000 })
    t.equal((await after.body.arrayBuffer()).byteLength, body.length, 'a normal request afterwards gets the whole answer')
    t.equal(after.statusCode, 200)
    if (mode === '-X') t.ok(accessLines(proxy.logs).some((l) => l.code === 'SPX_SEND_TIMEOUT'), 'slow readers were cut (SPX_SEND_TIMEOUT)')
  })
}
