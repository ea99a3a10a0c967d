/**
 * The real proxy in-process for tests: both ports on 0, its logs captured as objects;
 * routes.yaml helpers, temporary directories, and the repository root.
 */
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Writable } from 'node:stream'
import { createLogger } from '../../src/observe/log.js'
import { startInstance, type Instance } from '../../src/lifecycle/instance.js'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** The slice of tap's Test these helpers need. */
export interface T {
  teardown (fn: () => unknown): void
}

export function tempDir (t: T): string {
  const dir = mkdtempSync(join(tmpdir(), 'spx-test-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

export function writeConfig (t: T, yaml: string, dir = tempDir(t)): string {
  const file = join(dir, 'routes.yaml')
  writeFileSync(file, yaml)
  return file
}

export type LogLine = Record<string, unknown> & { msg?: string, level?: number }

export interface TestProxy extends Omit<Instance, 'adminUrl'> {
  url: string
  adminUrl: string
  logs: LogLine[]
  file: string
}

/** The real proxy, in-process, both ports on 0, logs captured as objects. */
export interface ProxyOptions {
  adminToken?: string
  watch?: boolean
  env?: Record<string, string | undefined>
  /** Extra files next to routes.yaml (flags.yaml, keys). */
  files?: Record<string, string>
  flagsStartWaitMs?: number
  /** Start in this directory (a restart of an earlier proxy: same routes.yaml, same state). */
  dir?: string
  /** The traffic port, when the config must name the proxy's own address (default: a free one). */
  port?: number
}

export async function startProxy (t: T, yaml: string, opts: ProxyOptions = {}): Promise<TestProxy> {
  const dir = opts.dir ?? tempDir(t)
  for (const [name, content] of Object.entries(opts.files ?? {})) writeFileSync(join(dir, name), content)
  const file = writeConfig(t, yaml, dir)
  const logs: LogLine[] = []
  const destination = new Writable({
    write (chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line !== '') logs.push(JSON.parse(line) as LogLine)
      cb()
    }
  })
  const logger = createLogger({ level: 'debug', destination })
  const instance = await startInstance({
    configFile: file,
    logger,
    port: opts.port ?? 0,
    adminPort: 0,
    watch: opts.watch ?? false,
    env: { XDG_STATE_HOME: join(dir, 'state'), ...opts.env },
    ...(opts.flagsStartWaitMs === undefined ? {} : { flagsStartWaitMs: opts.flagsStartWaitMs }),
    ...(opts.adminToken === undefined ? {} : { adminToken: opts.adminToken })
  })
  t.teardown(() => instance.shutdown('test teardown'))
  return Object.assign(instance, { url: instance.proxyUrl.replace('0.0.0.0', '127.0.0.1'), adminUrl: instance.adminUrl as string, logs, file })
}

/** routes.yaml with every route pointing at the given upstreams; listen on loopback. */
export function yamlFor (backends: Record<string, string>, routes: string, extra = ''): string {
  const b = Object.entries(backends).map(([name, url]) => `  ${name}: { url: "${url}" }`).join('\n')
  return `listen: { host: 127.0.0.1 }\n${extra}\nbackends:\n${b}\nroutes:\n${routes}\n`
}

export function accessLines (logs: readonly LogLine[]): LogLine[] {
  return logs.filter((l) => l.msg === 'request')
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
