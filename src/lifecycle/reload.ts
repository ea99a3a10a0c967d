/**
 * One reload of routes.yaml, the same for a single process and for the primary of
 * --workers: load and validate, keep the running table when nothing changed, swap the
 * snapshot, log what happened. A file with any problem is rejected whole and the last
 * good table keeps serving.
 */
import type { Logger } from 'pino'
import type { Config } from '../config/config.js'
import { ConfigError, formatProblem } from '../errors.js'

export type ReloadResult =
  | { ok: true, changed: boolean, version: string, restartRequired: string[] }
  | { ok: false, error: string }

/** Where the config comes from: the file, and how it is read (with PORT / ADMIN_PORT applied). */
export interface ReloadSource {
  readonly configFile: string
  readonly load: () => Config
}

/** What a reload swaps the config of: the proxy's runtime, or the fleet ramp driver's config. */
export interface ConfigHolder {
  readonly snapshot: { readonly config: Config }
  /** Takes a validated config; returns the fields that need a restart. Throws to reject it. */
  apply (config: Config): string[]
}

export function reloadConfig (runtime: ConfigHolder, source: ReloadSource, trigger: string, logger: Logger): ReloadResult {
  const current = runtime.snapshot.config
  const rejected = (err: unknown): ReloadResult => {
    const problems = err instanceof ConfigError ? err.problems.map(formatProblem) : [String((err as Error).message)]
    logger.error({ trigger, file: source.configFile, problems, keptVersion: current.version }, `config reload rejected, still serving version ${current.version}: ${problems[0] ?? ''}`)
    return { ok: false, error: problems.join('\n') }
  }
  let next: Config
  try {
    next = source.load()
  } catch (err) {
    return rejected(err)
  }
  // Valid and identical to what runs (say, a bad edit reverted): a success.
  if (next.version === current.version) return { ok: true, changed: false, version: current.version, restartRequired: [] }
  let restartRequired: string[]
  try {
    restartRequired = runtime.apply(next)
  } catch (err) {
    return rejected(err)
  }
  logger.info({ trigger, version: next.version, previousVersion: current.version, routes: next.routes.length, restartRequired }, 'config reloaded')
  if (restartRequired.length > 0) logger.warn({ fields: restartRequired }, 'these settings change only on restart')
  return { ok: true, changed: true, version: next.version, restartRequired }
}
