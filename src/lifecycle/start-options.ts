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
  /**
   * Set in a --workers worker, its slot (0 to N-1, kept when a worker is replaced): the
   * primary serves the admin port and asks the workers over IPC; a worker keeps its own
   * timeline, status and inventory under state files of its slot, and drives no ramp.
   */
  worker?: number
  /**
   * In a --workers worker: the routes.yaml the primary serves, read instead of the
   * file, so a worker started or reloaded later never takes up an edit the primary
   * has not accepted.
   */
  configText?: () => string
  /**
   * In a --workers worker: whether it is the one that announces (webhooks, the events
   * counter) the changes every worker sees; the primary names one live worker.
   */
  announcer?: () => boolean
  /** --insecure-admin: allow a non-loopback admin listener without a token (a lab). */
  insecureAdmin?: boolean
}
