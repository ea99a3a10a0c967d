/**
 * Secrets the config names in the environment, checked before a config goes live (at
 * start and on every reload): a variable that is named but unset, or too short to be
 * a key, refuses the config instead of silently signing nothing or accepting guesses.
 */
import type { Config } from './types.js'

/** The least an HMAC key holds: SHA-256's block of output, as RFC 2104 advises. */
export const MIN_SECRET_BYTES = 32

/** What is wrong with the secrets `config` relies on, one line per problem, each naming where. */
export function secretProblems (config: Config, env: Readonly<Record<string, string | undefined>>): string[] {
  const problems: string[] = []
  const check = (where: string, name: string, required: boolean): void => {
    const value = env[name]
    if (value === undefined || value === '') {
      if (required) problems.push(`${where}: environment variable ${name} is not set`)
    } else if (Buffer.byteLength(value) < MIN_SECRET_BYTES) {
      problems.push(`${where}: ${name} holds ${Buffer.byteLength(value)} bytes; a signing secret needs at least ${MIN_SECRET_BYTES}`)
    }
  }
  config.notify.forEach((n, i) => { if (n.secretEnv !== undefined) check(`notify[${i}].secretEnv`, n.secretEnv, true) })
  // Unset turns overrides off; set, it must be a real key.
  check('STRANGLER_OVERRIDE_SECRET', 'STRANGLER_OVERRIDE_SECRET', false)
  return problems
}
