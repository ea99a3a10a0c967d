/** The CLI built from source as a child process: run to completion, or kept running with its log lines parsed. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { ROOT, type T, type LogLine } from './proxy.js'
import { builtCli } from './cli-build.js'

export interface Cli {
  child: ChildProcessWithoutNullStreams
  lines: LogLine[]
  stderr: () => string
  waitFor (pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null, elapsedMs: number }>
}

/** The CLI built from source (cli-build.ts), as a child process; stdout parsed as JSON log lines. */
export function spawnCli (t: T, args: string[], env: Record<string, string> = {}): Cli {
  const child = spawn(process.execPath, [builtCli(), ...args], {
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
  const child = spawn(process.execPath, [builtCli(), ...args], { cwd: ROOT, env: { ...process.env, ...env } })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  return { code, stdout, stderr }
}
