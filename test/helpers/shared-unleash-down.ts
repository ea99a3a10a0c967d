/**
 * tap's `after` for `npm run test:system`: stops the shared PostgreSQL and Unleash.
 * With `--after RUNNER PID` it is the watchdog: it waits for the test runner to end,
 * then stops server PID if the run left it behind.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { SHARED_FILE, stopPostgres } from './unleash-server.js'

interface Shared { base: string, dir: string, pid: number }

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

function stop (only?: number): void {
  if (!existsSync(SHARED_FILE)) return
  const shared = JSON.parse(readFileSync(SHARED_FILE, 'utf8')) as Shared
  if (only !== undefined && shared.pid !== only) return
  if (alive(shared.pid)) process.kill(shared.pid, 'SIGKILL')
  stopPostgres(join(shared.dir, 'data'))
  rmSync(shared.dir, { recursive: true, force: true })
  rmSync(SHARED_FILE, { force: true })
}

const [mode, runner, server] = process.argv.slice(2)
if (mode === '--after') {
  const timer = setInterval(() => {
    if (alive(Number(runner))) return
    clearInterval(timer)
    stop(Number(server))
  }, 1000)
} else {
  stop()
}
