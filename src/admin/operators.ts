/**
 * Who may use the admin port and for what. Each operator has a name, a role and a
 * token kept only as its SHA-256 (admin.operators, the hash in an environment
 * variable); STRANGLER_ADMIN_TOKEN is one more operator, `admin`, with the admin role.
 * A token is matched by hashing what was sent and comparing in constant time against
 * every known hash, so neither a match nor its position leaks through timing.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { Config, Role } from '../config/config.js'
import { MIN_SECRET_BYTES } from '../config/secrets.js'

export interface Operator {
  readonly name: string
  readonly role: Role
}

interface Known extends Operator {
  readonly hash: Buffer
}

const RANK: Readonly<Record<Role, number>> = { viewer: 0, operator: 1, admin: 2 }

/** True when `have` may do what `need` may. */
export function allows (have: Role, need: Role): boolean {
  return RANK[have] >= RANK[need]
}

/** The name of STRANGLER_ADMIN_TOKEN's operator. */
export const ADMIN_TOKEN_OPERATOR = 'admin'

/** Read-only pages (and explain, which changes nothing) need a viewer; the ramp, guard and parity actions an operator; anything else an admin. */
export function roleFor (method: string, path: string): Role {
  if (method === 'GET' || method === 'HEAD' || (method === 'POST' && path === '/explain')) return 'viewer'
  if (/^\/(ramp\/[^/]+\/[a-z]+|ramp\/(un)?freeze|guard\/reset|parity\/[^/]+\/unlearn|alerts|identity\/sessions\/[^/]+)$/.test(path)) return 'operator'
  return 'admin'
}

export class Operators {
  readonly #known: readonly Known[]

  private constructor (known: readonly Known[]) {
    this.#known = known
  }

  /**
   * Everyone configured, or the problems that refuse the config: a hash variable unset
   * or not 64 hex digits, an admin token under 32 bytes, a name twice.
   */
  static from (admin: Config['admin'], env: Readonly<Record<string, string | undefined>>, adminToken: string | undefined): Operators | string[] {
    const problems: string[] = []
    const known: Known[] = []
    if (adminToken !== undefined) {
      if (Buffer.byteLength(adminToken) < MIN_SECRET_BYTES) problems.push(`STRANGLER_ADMIN_TOKEN holds ${Buffer.byteLength(adminToken)} bytes; a token needs at least ${MIN_SECRET_BYTES} (openssl rand -hex 32)`)
      known.push({ name: ADMIN_TOKEN_OPERATOR, role: 'admin', hash: sha256(adminToken) })
    }
    admin.operators.forEach((o, i) => {
      const hex = (env[o.tokenHashEnv] ?? '').trim().toLowerCase().replace(/^sha256:/, '')
      const valid = /^[0-9a-f]{64}$/.test(hex)
      if (!valid) problems.push(`admin.operators[${i}].tokenHashEnv: ${o.tokenHashEnv} must hold the hex SHA-256 of ${o.name}'s token (64 hex digits)${env[o.tokenHashEnv] === undefined ? '; it is not set' : ''}`)
      if (known.some((k) => k.name === o.name)) problems.push(`admin.operators[${i}].name: "${o.name}" is already an operator${o.name === ADMIN_TOKEN_OPERATOR ? ' (STRANGLER_ADMIN_TOKEN\'s)' : ''}`)
      // An invalid hash is already a problem (the config is refused): it needs no entry.
      if (valid) known.push({ name: o.name, role: o.role, hash: Buffer.from(hex, 'hex') })
    })
    return problems.length > 0 ? problems : new Operators(known)
  }

  /** Nobody: the port is open (a process without an admin port, or one on loopback with no token). */
  static none (): Operators {
    return new Operators([])
  }

  /** True when no token is configured at all: the port is open to whoever reaches it (loopback only, or --insecure-admin). */
  get open (): boolean {
    return this.#known.length === 0
  }

  /** The operator whose token this is, if any. */
  identify (token: string): Operator | undefined {
    const given = sha256(token)
    let found: Known | undefined
    for (const k of this.#known) if (timingSafeEqual(k.hash, given) && found === undefined) found = k
    return found === undefined ? undefined : { name: found.name, role: found.role }
  }
}

export function sha256 (text: string): Buffer {
  return createHash('sha256').update(text).digest()
}
