/**
 * Soak: the real proxy (the CLI, as a child process) under mixed traffic for a
 * configurable time, with flag flips, backend resets and client aborts. Samples
 * RSS, heap, open file descriptors and backend pool sockets from the proxy's own
 * /metrics, prints them over time, and exits non-zero if any of them keeps growing
 * after warm-up or if any request was lost (no response and not aborted on purpose).
 *
 *   SOAK_SECONDS=600 npm run soak --prefix bench
 */
import http from 'node:http'
import { freePort } from '../test/helpers/free-port.js'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Agent, request } from 'undici'

const SECONDS = Number(process.env.SOAK_SECONDS ?? 600)
// Every 2 s: heap swings by tens of MiB between garbage collections, so each third of
// a short run needs enough samples for its floor to mean something. Printed every 10 s.
const SAMPLE_MS = Number(process.env.SOAK_SAMPLE_MS ?? 2_000)
const PRINT_EVERY = Math.max(1, Math.round(10_000 / SAMPLE_MS))
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 16)
const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..')

/** A backend that answers with a body of the asked size, and resets 1 % of requests. */
async function backend (name: string): Promise<{ url: string, server: http.Server }> {
  const server = http.createServer((req, res) => {
    let n = 0
    req.on('data', (c: Buffer) => { n += c.length })
    req.on('error', () => {})
    req.on('end', () => {
      if (Math.random() < 0.01) return void req.socket.destroy()
      const size = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('size') ?? 100)
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-backend': name, 'x-received': String(n) })
      res.end(Buffer.alloc(size, 'x'))
    })
  })
  server.keepAliveTimeout = 5000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}`, server }
}

function flags (rollout: number): string {
  return JSON.stringify({ version: 2, features: [{ name: 'orders-on-django', enabled: true, strategies: [{ name: 'flexibleRollout', parameters: { rollout: String(rollout), stickiness: 'default', groupId: 'orders-on-django' } }] }] })
}

interface Sample { t: number, rss: number, heap: number, fds: number, pool: number, requests: number }

function metric (text: string, name: string): number {
  let sum = 0
  for (const line of text.split('\n')) if (line.startsWith(name + ' ') || line.startsWith(name + '{')) sum += Number(line.slice(line.lastIndexOf(' ') + 1))
  return sum
}

async function main (): Promise<void> {
  const legacy = await backend('legacy')
  const django = await backend('django')
  const dir = mkdtempSync(join(tmpdir(), 'spx-soak-'))
  const port = await freePort()
  const adminPort = await freePort()
  writeFileSync(join(dir, 'flags.json'), flags(30))
  writeFileSync(join(dir, 'routes.yaml'), `listen: { host: 127.0.0.1 }
backends:
  legacy: { url: "${legacy.url}", legacy: true, pool: { connections: 32 } }
  django: { url: "${django.url}", pool: { connections: 32 } }
flags: { file: flags.json }
cohort: { userId: { header: x-user-id } }
guard: false
routes:
  - { name: orders, match: { path: /api/orders/* }, backend: legacy, flag: { name: orders-on-django, backend: django } }
  - { name: default, match: { path: /* }, backend: legacy }
`)
  // The built CLI, as production runs it (no TypeScript loader in the measurement).
  const build = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' })
  if (build.status !== 0) throw new Error('build failed')
  const proxy = spawn(process.execPath, [join(ROOT, 'dist/cli.js'), 'start', '--config', join(dir, 'routes.yaml')], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), ADMIN_PORT: String(adminPort), LOG_LEVEL: 'warn', XDG_STATE_HOME: dir },
    stdio: ['ignore', 'ignore', 'inherit']
  })
  const base = `http://127.0.0.1:${port}`
  const admin = `http://127.0.0.1:${adminPort}`
  for (let i = 0; ; i++) {
    try {
      const r = await request(`${admin}/readyz`)
      await r.body.dump()
      if (r.statusCode === 200) break
    } catch {
      // starting
    }
    if (i > 100) throw new Error('proxy did not start')
    await new Promise((resolve) => setTimeout(resolve, 100))
  }

  const agent = new Agent({ connections: CONCURRENCY * 2, keepAliveTimeout: 2000 })
  const counts = { ok: 0, status5xx: 0, aborted: 0, lost: 0 }
  const lostSamples: string[] = []
  let running = true
  const end = Date.now() + SECONDS * 1000

  const worker = async (w: number): Promise<void> => {
    for (let i = 0; running; i++) {
      const user = `user-${(w * 7919 + i) % 5000}`
      const roll = Math.random()
      const abort = roll < 0.02 ? new AbortController() : undefined
      if (abort !== undefined) setTimeout(() => abort.abort(), Math.random() * 5)
      const size = roll < 0.05 ? 256 * 1024 : 512
      const post = roll > 0.8
      try {
        const res = await request(`${base}/api/orders/${i}?size=${size}`, {
          method: post ? 'POST' : 'GET',
          headers: { 'x-user-id': user },
          ...(post ? { body: Buffer.alloc(roll > 0.97 ? 200 * 1024 : 2048, 'y') } : {}),
          dispatcher: agent,
          ...(abort === undefined ? {} : { signal: abort.signal })
        })
        await res.body.dump({ limit: 1 << 30 })
        if (res.statusCode >= 500) counts.status5xx++
        else counts.ok++
      } catch (err) {
        if (abort?.signal.aborted === true) counts.aborted++
        else {
          counts.lost++
          if (lostSamples.length < 5) lostSamples.push((err as Error).message)
        }
      }
    }
  }

  const flips = setInterval(() => writeFileSync(join(dir, 'flags.json'), flags(Math.random() < 0.5 ? 30 : 60)), 15_000)
  const samples: Sample[] = []
  const started = Date.now()
  const sampler = setInterval(() => {
    void (async () => {
      const text = await (await request(`${admin}/metrics`)).body.text()
      const s = {
        t: Math.round((Date.now() - started) / 1000),
        rss: metric(text, 'process_resident_memory_bytes') / 2 ** 20,
        heap: metric(text, 'nodejs_heap_size_used_bytes') / 2 ** 20,
        fds: metric(text, 'process_open_fds'),
        pool: metric(text, 'strangler_upstream_pool_connected'),
        requests: metric(text, 'strangler_requests_total')
      }
      samples.push(s)
      if (samples.length % PRINT_EVERY === 0) process.stdout.write(`${String(s.t).padStart(5)}s  rss ${s.rss.toFixed(1).padStart(6)} MiB  heap ${s.heap.toFixed(1).padStart(6)} MiB  fds ${String(s.fds).padStart(4)}  pool ${String(s.pool).padStart(3)}  requests ${s.requests}\n`)
    })().catch(() => {})
  }, SAMPLE_MS)

  process.stdout.write(`soak: ${SECONDS} s, ${CONCURRENCY} clients, flag flips every 15 s, 1 % backend resets, 2 % client aborts\n`)
  const workers = Array.from({ length: CONCURRENCY }, (_, w) => worker(w))
  while (Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 500))
  running = false
  await Promise.all(workers)
  clearInterval(flips)
  clearInterval(sampler)
  await agent.close()

  // Growth after warm-up: the floor (minimum) of the last third against the floor of
  // the first third, once the first 20 % of the run is discarded. Floors, because a
  // leak raises what garbage collection can get back to; peaks only show GC timing.
  const steady = samples.slice(Math.ceil(samples.length * 0.2))
  const third = Math.max(1, Math.floor(steady.length / 3))
  const first = steady.slice(0, third)
  const last = steady.slice(-third)
  const failures: string[] = []
  const check = (name: string, pick: (s: Sample) => number, allowed: number, unit: string): void => {
    const a = Math.min(...first.map(pick))
    const b = Math.min(...last.map(pick))
    process.stdout.write(`${name.padEnd(6)} ${a.toFixed(1)} → ${b.toFixed(1)} ${unit} (allowed growth ${allowed} ${unit})\n`)
    if (b - a > allowed) failures.push(`${name} grew from ${a.toFixed(1)} to ${b.toFixed(1)} ${unit}`)
  }
  if (steady.length >= 3) {
    check('rss', (s) => s.rss, 16, 'MiB')
    check('heap', (s) => s.heap, 8, 'MiB')
    check('fds', (s) => s.fds, 10, '')
    check('pool', (s) => s.pool, 8, '')
  } else {
    failures.push('run too short to judge growth (need at least 3 samples after warm-up)')
  }
  process.stdout.write(`requests: ${counts.ok} ok, ${counts.status5xx} 5xx (injected resets), ${counts.aborted} aborted by the client, ${counts.lost} lost\n`)
  if (counts.lost > 0) failures.push(`${counts.lost} requests lost: ${lostSamples.join('; ')}`)

  proxy.kill('SIGTERM')
  await new Promise((resolve) => proxy.once('exit', resolve))
  legacy.server.close()
  django.server.close()
  legacy.server.closeAllConnections()
  django.server.closeAllConnections()
  rmSync(dir, { recursive: true, force: true })
  if (failures.length > 0) {
    process.stdout.write(`FAIL\n  ${failures.join('\n  ')}\n`)
    process.exit(1)
  }
  process.stdout.write('PASS\n')
}

await main()
