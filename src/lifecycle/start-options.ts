/** How a proxy process is started: by the CLI, a --workers worker, or a test. */
import type { Logger } from 'pino'

export interface StartOptions {
  configFile: string
  logger: Logger
  /** PORT / ADMIN_PORT: take precedence over the file, on start and on every reload. */
  port?: number
  adminPort?: number
  adminToken?: string
  /** Reload when the file changes (default true). */
  watch?: boolean
  /** UNLEASH_URL, UNLEASH_API_TOKEN, STRANGLER_OVERRIDE_SECRET, JWT secrets, XDG_STATE_HOME. */
  env?: Readonly<Record<string, string | undefined>>
  /** How long start waits for the flag service before serving from backup/bootstrap/baseline (default 2 s). */
  flagsStartWaitMs?: number
  /** false in a --workers worker: the primary serves the admin port. */
  admin?: boolean
  /** --insecure-admin: allow a non-loopback admin listener without a token (a lab). */
  insecureAdmin?: boolean
}
