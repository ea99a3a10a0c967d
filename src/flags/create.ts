/** flags: in routes.yaml → the flag source, or none when no route uses flags. */
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
  /** The private state directory (config/state-dir.ts), where the last flags seen are kept. */
  readonly stateDir: () => string
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
    backupDir: deps.stateDir(),
    bootstrapFile: config.file,
    projectName: u.projectName,
    metrics: u.metrics,
    ...(deps.onChange === undefined ? {} : { onChange: deps.onChange })
  }, deps.logger)
}
