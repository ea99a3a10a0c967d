/**
 * Real servers on loopback for tests: upstreams on port 0 that echo their own name,
 * the real proxy on a real socket, raw-socket clients, and the CLI as a child process.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import net from 'node:net'
import { freePort } from './free-port.js'
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Writable } from 'node:stream'
import { createLogger } from '../src/observe/log.js'
import { startInstance, type Instance } from '../src/lifecycle/instance.js'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')

/** The slice of tap's Test these helpers need. */
export interface T {
  teardown (fn: () => unknown): void
}

export interface Seen {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  rawHeaders: string[]
  bodyBytes: number
}

export interface Upstream {
  name: string
  url: string
  port: number
  server: http.Server
  seen: Seen[]
}

export type Handler = (req: IncomingMessage, res: ServerResponse, seen: Seen, name: string) => void

/** Echoes what it received as JSON, naming itself, after reading the whole body. */
export const echo: Handler = (_req, res, seen, name) => {
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ backend: name, ...seen }))
}

export async function startUpstream (t: T, name: string, handler: Handler = echo): Promise<Upstream> {
  const seen: Seen[] = []
  const server = http.createServer((req, res) => {
    const entry: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, bodyBytes: 0 }
    seen.push(entry)
    req.on('data', (c: Buffer) => { entry.bodyBytes += c.length })
    req.on('end', () => handler(req, res, entry, name))
    req.on('error', () => {})
  })
  // Upgraded sockets are not closed by closeAllConnections; track every socket.
  const sockets = new Set<net.Socket>()
  server.on('connection', (s: net.Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  t.teardown(() => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy()
    server.close(() => resolve())
  }))
  return { name, url: `http://127.0.0.1:${port}`, port, server, seen }
}

/** A raw TCP server, for backends that misbehave below HTTP. */
export async function startRawUpstream (t: T, onConnection: (socket: net.Socket) => void): Promise<{ url: string, port: number, connections: number }> {
  const state = { url: '', port: 0, connections: 0 }
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    state.connections++
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
    onConnection(socket)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  state.port = (server.address() as net.AddressInfo).port
  state.url = `http://127.0.0.1:${state.port}`
  t.teardown(() => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy()
    server.close(() => resolve())
  }))
  return state
}

export { freePort }

export const closedPort = freePort

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
}

export async function startProxy (t: T, yaml: string, opts: ProxyOptions = {}): Promise<TestProxy> {
  const dir = tempDir(t)
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
    port: 0,
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

export interface RawResponse {
  status: number
  head: string
  headers: Record<string, string>
  body: string
  elapsedMs: number
}

/** Sends bytes exactly as given and reads until the server closes (or `timeoutMs`). */
export function rawRequest (url: string, data: string | Buffer, timeoutMs = 5000): Promise<RawResponse> {
  const { hostname, port } = new URL(url)
  const start = performance.now()
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname)
    const chunks: Buffer[] = []
    const timer = setTimeout(() => socket.destroy(), timeoutMs)
    socket.on('data', (c) => chunks.push(c))
    // A reset after (or instead of) a response is part of what is being observed.
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(timer)
      resolve(parseRaw(Buffer.concat(chunks).toString('latin1'), performance.now() - start))
    })
    socket.write(data)
  })
}

export function parseRaw (text: string, elapsedMs = 0): RawResponse {
  const end = text.indexOf('\r\n\r\n')
  const head = end === -1 ? text : text.slice(0, end)
  const lines = head.split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':')
    if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim()
  }
  let body = end === -1 ? '' : text.slice(end + 4)
  if (headers['transfer-encoding'] === 'chunked') body = dechunk(body)
  return { status: Number(lines[0]?.split(' ')[1] ?? 0), head, headers, body, elapsedMs }
}

function dechunk (text: string): string {
  let out = ''
  let i = 0
  for (;;) {
    const eol = text.indexOf('\r\n', i)
    if (eol === -1) return out
    const size = parseInt(text.slice(i, eol), 16)
    if (!(size > 0)) return out
    out += text.slice(eol + 2, eol + 2 + size)
    i = eol + 2 + size + 2
  }
}

export interface Cli {
  child: ChildProcessWithoutNullStreams
  lines: LogLine[]
  stderr: () => string
  waitFor (pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null, elapsedMs: number }>
}

/** The CLI from source, as a child process; stdout parsed as JSON log lines. */
export function spawnCli (t: T, args: string[], env: Record<string, string> = {}): Cli {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), ...args], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: 'info', ...env }
  })
  const lines: LogLine[] = []
  let err = ''
  let buf = ''
  const waiters: Array<() => void> = []
  child.stdout.on('data', (c: Buffer) => {
    buf += c.toString()
    let i
    while ((i = buf.indexOf('\n')) !== -1) {
      const line = buf.slice(0, i)
      buf = buf.slice(i + 1)
      try { lines.push(JSON.parse(line) as LogLine) } catch { lines.push({ msg: line }) }
    }
    for (const w of waiters.splice(0)) w()
  })
  child.stderr.on('data', (c: Buffer) => { err += c.toString() })
  const started = performance.now()
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null, elapsedMs: number }>((resolve) => {
    child.on('exit', (code, signal) => {
      resolve({ code, signal, elapsedMs: performance.now() - started })
      for (const w of waiters.splice(0)) w()
    })
  })
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL') })
  return {
    child,
    lines,
    stderr: () => err,
    exited,
    waitFor (pred, timeoutMs = 15000) {
      return new Promise((resolve, reject) => {
        const deadline = setTimeout(() => reject(new Error(`timed out waiting for log line; stderr: ${err}; lines: ${JSON.stringify(lines.slice(-5))}`)), timeoutMs)
        const check = (): void => {
          const hit = lines.find(pred)
          if (hit !== undefined) {
            clearTimeout(deadline)
            resolve(hit)
          } else if (child.exitCode !== null) {
            clearTimeout(deadline)
            reject(new Error(`CLI exited (${child.exitCode}) before the log line; stderr: ${err}`))
          } else {
            waiters.push(check)
          }
        }
        check()
      })
    }
  }
}

/** Runs the CLI to completion. */
export async function runCli (args: string[], env: Record<string, string> = {}): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), ...args], { cwd: ROOT, env: { ...process.env, ...env } })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  return { code, stdout, stderr }
}

export function accessLines (logs: readonly LogLine[]): LogLine[] {
  return logs.filter((l) => l.msg === 'request')
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
