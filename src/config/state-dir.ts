/**
 * The directory of what the proxy keeps across restarts (state.dir): the last flags
 * seen, ramp state, freezes, the timeline and readiness evidence. Only this user may
 * read or write it: never the shared /tmp, where another user could plant flags or
 * a ramp's state.
 */
import { homedir } from 'node:os'
import { join } from 'node:path'
import { mkdirSync, statSync } from 'node:fs'
import { Errors, ProxyError } from '../errors.js'
import type { Config } from './types.js'

/** Created 0700 when missing; refused (SPX_STATE_DIR_UNSAFE) when another user owns it or may open it. */
export function stateDir (config: Pick<Config, 'state'>, env: Readonly<Record<string, string | undefined>>): string {
  const dir = config.state.dir ?? join(env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'strangler-proxy')
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
  } catch (err) {
    throw new ProxyError(Errors.STATE_DIR_UNSAFE, `state directory ${dir} (state.dir) cannot be created: ${(err as Error).message}`, { cause: err })
  }
  const st = statSync(dir)
  if (process.getuid !== undefined && st.uid !== process.getuid()) throw new ProxyError(Errors.STATE_DIR_UNSAFE, `state directory ${dir} (state.dir) belongs to another user (uid ${st.uid}); use a directory of this user's own`)
  if ((st.mode & 0o077) !== 0) throw new ProxyError(Errors.STATE_DIR_UNSAFE, `state directory ${dir} (state.dir) is accessible to other users (mode ${(st.mode & 0o777).toString(8)}); chmod 700 it`)
  return dir
}
