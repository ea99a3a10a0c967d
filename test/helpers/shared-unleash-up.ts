/**
 * tap's `before` for `npm run test:system`: one PostgreSQL and Unleash for every test
 * file that needs them, described in SHARED_FILE. A watchdog stops them if the run
 * dies before its `after` (shared-unleash-down.ts) could.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { launch, unavailable, SHARED_FILE } from './unleash-server.js'
import { ROOT } from './proxy.js'

const why = unavailable()
if (why === undefined) {
  const started = performance.now()
  const server = await launch({ detached: true })
  mkdirSync(dirname(SHARED_FILE), { recursive: true })
  writeFileSync(SHARED_FILE, JSON.stringify({ base: server.base, dir: server.dir, pid: server.pid }))
  spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'test/helpers/shared-unleash-down.ts'), '--after', String(process.ppid), String(server.pid)], { cwd: ROOT, detached: true, stdio: 'ignore' }).unref()
  process.stderr.write(`shared Unleash at ${server.base} for this run (ready in ${Math.round(performance.now() - started)} ms)\n`)
} else {
  // Each test says what is missing, or fails under STRANGLER_REQUIRE_UNLEASH.
  process.stderr.write(`no shared Unleash: ${why}\n`)
}
