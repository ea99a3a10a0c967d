/**
 * Where one target's CPU goes under load: the built proxy (or bare @fastify/http-proxy)
 * under wrk -t1 -c50 from 10,000 users, sampled by `perf record -e cpu-clock` with
 * `node --perf-basic-prof` so JIT-compiled JavaScript has names. Samples are grouped
 * by who spends them (the kernel, Node's native code, Node's own JavaScript, each
 * library, each file of src/), as a share and as microseconds per request (the share
 * times CPU per request from /proc over the same window): once by the frame running
 * when sampled, once charged to the innermost JavaScript on the stack, so a builtin or
 * a write(2) counts against the code that asked for it.
 *
 *   npm run bench:profile -- header|jwt|large|trace|identity|bare [SECONDS]   (trace: tracing on at 1 %)
 *   PROFILE_FOCUS='_http_server|undici' npm run bench:profile -- header   (whose functions to list)
 *
 * Needs perf (linux-perf) and wrk; `node --cpu-prof` is no substitute here, it charges
 * time spent waiting in epoll to whatever JavaScript ran last.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../test/helpers/free-port.js'
import { cpuSeconds, waitUp } from './proc.js'
import { headerCohort, identityBridge, jwtCohort, largeConfig, writeFlags, writeTokens, JWT_SECRET } from './configs.js'

const HERE = fileURLToPath(new URL('.', import.meta.url))
const ROOT = join(HERE, '..')
const target = process.argv[2] ?? 'header'
const SECONDS = Number(process.argv[3] ?? 10)
/** Whose functions are listed one by one (PROFILE_FOCUS, a regular expression over the owner). */
const FOCUS = new RegExp(process.env.PROFILE_FOCUS ?? '^strangler-proxy')

/** Who a sample belongs to, from perf's shared object and symbol. */
function owner (dso: string, sym: string): string {
  if (dso.includes('kernel')) return 'kernel (TCP loopback, syscalls, scheduling)'
  if (/libc|libpthread|ld-linux/.test(dso)) return 'libc'
  if (!dso.startsWith('[JIT]')) {
    if (/llhttp/.test(sym)) return 'node native: llhttp (the server\'s HTTP parser)'
    if (/Heap|Scaveng|GC|Mark|Sweep|Evacuat|Compactor|Marking/.test(sym)) return 'node native: garbage collection'
    if (/uv_|uv__/.test(sym)) return 'node native: libuv'
    if (/^Builtins_/.test(sym)) return 'V8 builtins (property loads, calls, strings, maps)'
    if (/Compile|Parser|Turbofan|Maglev|compiler|Sparkplug/.test(sym)) return 'node native: V8 compilers'
    return 'node native: V8 runtime and Node bindings'
  }
  if (/wasm-function/.test(sym)) return 'library: undici (llhttp in WebAssembly)'
  const file = /(file:\/\/\S+|node:\S+|\/\S+\.m?js)/.exec(sym)?.[1]
  if (file === undefined) return /Builtin|BytecodeHandler|Stub|RegExp/.test(sym) ? 'V8 builtins (property loads, calls, strings, maps)' : 'JavaScript, unnamed'
  if (file.startsWith('node:')) return `Node's JavaScript: ${file.replace(/^node:(internal\/)?/, '').replace(/:\d+(:\d+)?$/, '').split('/')[0] ?? ''}`
  const mod = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file)?.[1]
  if (mod !== undefined) return `library: ${mod}`
  const ours = /\/dist\/(?:([^/]+)\/)?([^/:]+)\.js/.exec(file)
  if (ours !== null) return `strangler-proxy: ${ours[1] === undefined ? '' : `${ours[1]}/`}${ours[2] ?? ''}`
  if (/bench\/bare\.mjs/.test(file)) return 'bare.mjs'
  return `JavaScript: ${file}`
}

/** The few parts a reader compares between targets, from an owner. */
function part (who: string): string {
  if (who.startsWith('strangler-proxy')) return 'strangler-proxy\'s own code'
  if (/@fastify\/(reply-from|http-proxy)|bare\.mjs/.test(who)) return '@fastify/http-proxy and reply-from'
  if (/undici/.test(who)) return 'undici: backend requests, response parsing'
  if (/fastify|find-my-way|avvio|light-my-request/.test(who)) return 'fastify'
  if (/_http_|llhttp/.test(who)) return 'Node\'s HTTP server'
  if (/streams|stream_base|net$|kernel|libc|libuv/.test(who)) return 'socket writes and reads: Node\'s streams, libuv, the kernel'
  if (/process|timers|events|event_target|abort_controller/.test(who)) return 'ticks, timers, events'
  if (/V8|garbage|native|JavaScript, unnamed/.test(who)) return 'V8: runtime, GC, compilers, builtins'
  return 'other'
}

interface Attribution { leaf: Map<string, number>, caller: Map<string, number>, focus: Map<string, number>, samples: number }

/** Counts each sample by its leaf frame's owner, and by the owner of the innermost named JavaScript frame. */
function attribute (script: string): Attribution {
  const leaf = new Map<string, number>()
  const caller = new Map<string, number>()
  const focus = new Map<string, number>()
  let samples = 0
  for (const block of script.split(/\n\s*\n/)) {
    const frames = block.split('\n').map((l) => /^\s*[0-9a-f]+\s+(.*)\s+\(([^)]*)\)\s*$/.exec(l)).filter((m) => m !== null).map((m) => ({ sym: (m[1] as string).replace(/\+0x[0-9a-f]+$/, ''), dso: m[2] as string }))
    const first = frames[0]
    if (first === undefined) continue
    samples++
    const own = owner(first.dso.includes('perf-') ? '[JIT]' : first.dso, first.sym)
    leaf.set(own, (leaf.get(own) ?? 0) + 1)
    const js = frames.find((f) => f.dso.includes('perf-') && /(file:|node:|\/[^ ]+\.m?js)/.test(f.sym))
    const by = js === undefined ? own : owner('[JIT]', js.sym)
    caller.set(by, (caller.get(by) ?? 0) + 1)
    if (js !== undefined && FOCUS.test(by)) {
      const fn = js.sym.replace(/^JS:[*~^+-]?/, '').replace(/file:\/\/\S*\/dist\//, '').replace(/\/\S*\/node_modules\//, '')
      focus.set(fn, (focus.get(fn) ?? 0) + 1)
    }
  }
  return { leaf, caller, focus, samples }
}

async function main (): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'spx-profile-'))
  const children: ChildProcess[] = []
  const start = (args: string[], env: Record<string, string> = {}): ChildProcess => {
    const c = spawn(process.execPath, args, { stdio: 'ignore', cwd: dir, env: { ...process.env, ...env } })
    children.push(c)
    return c
  }
  try {
    spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'inherit' })
    const originPort = await freePort()
    start([join(HERE, 'origin.mjs'), String(originPort)])
    const origin = `http://127.0.0.1:${originPort}`
    writeFlags(dir)
    const port = await freePort()
    let tokens: string | undefined
    let proxy: ChildProcess
    if (target === 'bare') {
      proxy = start(['--perf-basic-prof', join(HERE, 'bare.mjs'), String(port), origin])
    } else {
      const yaml = target === 'large' ? largeConfig(origin) : target === 'jwt' ? jwtCohort(origin, { secretEnv: 'BENCH_JWT_SECRET' }, 'HS256') : target === 'identity' ? identityBridge(origin, join(dir, 'identity.pem')) : headerCohort(origin)
      // trace: the header cohort with tracing on at 1 %, exporting to the stand-in collector.
      const otlp: Record<string, string> = {}
      if (target === 'trace') {
        const collectorPort = await freePort()
        start([join(HERE, 'collector.mjs'), String(collectorPort)])
        Object.assign(otlp, { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collectorPort}`, OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.01' })
      }
      if (target === 'jwt') {
        tokens = join(dir, 'hs256.tokens')
        await writeTokens(tokens, 'HS256', new TextEncoder().encode(JWT_SECRET))
      }
      writeFileSync(join(dir, 'routes.yaml'), yaml)
      proxy = start(['--perf-basic-prof', join(ROOT, 'dist/cli.js'), 'start', '--config', join(dir, 'routes.yaml')],
        { PORT: String(port), ADMIN_PORT: '0', LOG_LEVEL: 'info', XDG_STATE_HOME: dir, BENCH_JWT_SECRET: JWT_SECRET, ...otlp })
    }
    const url = `http://127.0.0.1:${port}/api/orders/1`
    await waitUp(url)
    const wrk = (seconds: number): ChildProcess => spawn('wrk', ['-t1', '-c50', `-d${seconds}s`, '-s', join(HERE, tokens === undefined ? 'users.lua' : 'tokens.lua'), url],
      { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, BENCH_USERS: '10000', BENCH_TOKENS: tokens ?? '' } })
    // Warm-up: JIT tiers settle before anything is sampled.
    await new Promise((resolve) => wrk(5).on('exit', resolve))
    const pid = proxy.pid as number
    const load = wrk(SECONDS + 2)
    let out = ''
    load.stdout?.on('data', (d: Buffer) => { out += d.toString() })
    await new Promise((resolve) => setTimeout(resolve, 1000))
    const cpuBefore = cpuSeconds(pid)
    const data = join(dir, 'perf.data')
    spawnSync('perf', ['record', '-q', '-g', '-e', 'cpu-clock', '-F', '999', '-p', String(pid), '-o', data, '--', 'sleep', String(SECONDS)], { stdio: 'inherit' })
    const cpu = cpuSeconds(pid) - cpuBefore
    await new Promise((resolve) => load.on('exit', resolve))
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN)
    const cpuPerReq = (cpu * 1e6) / (rps * SECONDS)
    const script = spawnSync('perf', ['script', '-i', data, '-F', 'ip,sym,dso'], { encoding: 'utf8', maxBuffer: 1024 * 1024 * 1024 }).stdout
    const { leaf, caller, focus, samples } = attribute(script)
    process.stdout.write(`${target}: ${rps.toFixed(0)} req/s, ${cpuPerReq.toFixed(1)} µs CPU per request over ${SECONDS} s, ${samples} samples (node ${process.version})\n`)
    const table = (title: string, counts: Map<string, number>): void => {
      process.stdout.write(`\n${title}\nshare   µs/req  owner\n`)
      for (const [who, n] of [...counts].sort((x, y) => y[1] - x[1])) {
        const share = n / samples
        if (share < 0.002) continue
        process.stdout.write(`${(share * 100).toFixed(1).padStart(5)} %  ${(share * cpuPerReq).toFixed(1).padStart(5)}  ${who}\n`)
      }
    }
    const parts = new Map<string, number>()
    for (const [who, n] of caller) parts.set(part(who), (parts.get(part(who)) ?? 0) + n)
    table('By part, charged to the innermost JavaScript on the stack', parts)
    table('Where the CPU was when sampled (leaf)', leaf)
    table('Charged to the innermost JavaScript on the stack (native work, builtins and syscalls go to the code that asked for them)', caller)
    table(`Functions of ${FOCUS.source}, charged the same way`, focus)
  } finally {
    for (const c of children) c.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
