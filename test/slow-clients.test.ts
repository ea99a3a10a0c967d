/**
 * Slowloris and slow-body attacks (Debian's slowhttptest, bounded runs on loopback)
 * are cut at the configured timeouts while other clients keep being served, and the
 * attackers never hold a backend connection.
 */
import t, { type Test } from 'tap'
import { spawn, spawnSync } from 'node:child_process'
import { request } from 'undici'
import { startUpstream, startProxy, accessLines, sleep, type TestProxy } from './helper.js'

const missing = spawnSync('slowhttptest', ['-h']).error !== undefined

interface Attack { mode: '-H' | '-B', seconds: number }

/** Runs slowhttptest against the proxy while a well-behaved client keeps sending requests. */
async function underAttack (proxy: TestProxy, attack: Attack): Promise<{ report: string, ok: number, failed: number, worstMs: number }> {
  const child = spawn('slowhttptest', [attack.mode, '-c', '300', '-r', '150', '-i', '1', '-s', '8192', '-x', '16', '-l', String(attack.seconds), '-p', '3', '-u', `${proxy.url}/api/orders`])
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
    const attackers = legacy.seen.filter((s) => s.method !== 'GET' || Object.keys(s.headers).some((h) => h.startsWith('x-') && !/^x-(forwarded-.*|request-id)$/.test(h)))
    t.same(attackers.map((s) => `${s.method} ${s.url}`), [], 'no attacking request reached the backend')
    if (mode === '-B') {
      await sleep(50)
      t.ok(accessLines(proxy.logs).filter((l) => l.status === 408 && l.code === 'SPX_REQUEST_TIMEOUT').length > 100, 'slow bodies answered 408')
    }
  })
}
