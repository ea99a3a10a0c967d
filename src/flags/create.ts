/** flags: in routes.yaml → the flag source, or none when no route uses flags. */
import { homedir } from 'node:os'
import { join } from 'node:path'
import { mkdirSync, statSync } from 'node:fs'
import type { Logger } from 'pino'
import type { FlagsConfig } from '../config/config.js'
import { FileFlagSource } from './file-source.js'
import { UnleashFlagSource } from './unleash-source.js'
import type { FlagChangeListener, FlagSource } from './source.js'

export interface FlagDeps {
  readonly logger: Logger
  readonly env: Readonly<Record<string, string | undefined>>
  /** Reload the flags file when it changes (default true). */
  readonly watch?: boolean
  readonly onChange?: FlagChangeListener
}

/**
 * The backup of the last fetched flags lives in a directory only this user can read
 * and write: never the shared /tmp, where another user could plant flags.
 */
export function privateDir (configured: string | undefined, env: FlagDeps['env']): string {
  const dir = configured ?? join(env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'strangler-proxy')
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  const st = statSync(dir)
  if (process.getuid !== undefined && st.uid !== process.getuid()) throw new Error(`flags backup directory ${dir} belongs to another user (uid ${st.uid}); use a directory of this user's own`)
  if ((st.mode & 0o077) !== 0) throw new Error(`flags backup directory ${dir} is accessible to other users (mode ${(st.mode & 0o777).toString(8)}); chmod 700 it`)
  return dir
}

export function createFlagSource (config: FlagsConfig, deps: FlagDeps): FlagSource {
  const u = config.unleash
  if (u === undefined) {
    if (config.file === undefined) throw new Error('flags: needs file or unleash')
    return new FileFlagSource(config.file, deps.logger, deps.watch ?? true, deps.onChange)
  }
  return new UnleashFlagSource({
    url: deps.env.UNLEASH_URL ?? u.url,
    appName: u.appName,
    environment: u.environment,
    refreshInterval: u.refreshInterval,
    timeout: u.timeout,
    token: deps.env.UNLEASH_API_TOKEN,
    backupDir: privateDir(u.backupDir, deps.env),
    bootstrapFile: config.file,
    projectName: u.projectName,
    metrics: u.metrics,
    ...(deps.onChange === undefined ? {} : { onChange: deps.onChange })
  }, deps.logger)
}
