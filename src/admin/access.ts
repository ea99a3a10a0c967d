/**
 * Who may use an admin port, and for what: requests a browser could be tricked into
 * sending are refused (browser-guard.ts); with any operator configured, every request
 * but the probes and the sign-in names its operator, by bearer token or (GET only) by
 * the status page's session, and the operator's role must allow it (operators.ts).
 * Every answer carries headers that keep it out of frames and caches. Shared by the
 * proxy's admin port and the fleet ramp driver's.
 */
import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Config } from '../config/config.js'
import { Errors } from '../errors.js'
import { sendProblem } from '../problem.js'
import { adminRequestRefusal } from './browser-guard.js'
import type { ReadSessions } from './session.js'
import { loginPage } from '../status/html.js'
import { allows, roleFor, type Operator, type Operators } from './operators.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** Who sent an admin request; undefined on an open (token-less) port. */
    operator: Operator | undefined
  }
}

export interface AdminAccess {
  readonly operators: () => Operators
  readonly admin: () => Config['admin']
  /** Browser sessions from the status page's sign-in: GET and HEAD only. */
  readonly sessions?: ReadSessions
}

/** The one form the admin port takes (the status page's sign-in, usable without JavaScript), and the sign-out. */
export const LOGIN_PATH = '/status/login'
export const LOGOUT_PATH = '/status/logout'

/**
 * On every admin answer: never framed, never sniffed, no scripts (none are used), no
 * referrer to other sites. same-origin, not no-referrer: with no-referrer a browser
 * sends `Origin: null` on the page's own sign-in form, which the browser guard refuses.
 */
const SECURITY_HEADERS: ReadonlyArray<readonly [string, string]> = [
  ['x-frame-options', 'DENY'],
  ['content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"],
  ['x-content-type-options', 'nosniff'],
  ['referrer-policy', 'same-origin']
]

/** The actor a request's actions are recorded with. */
export function actorOf (request: FastifyRequest): string {
  return request.operator?.name ?? 'admin API'
}

export function protectAdmin (app: FastifyInstance, access: AdminAccess): void {
  app.decorateRequest('operator', undefined)
  app.addHook('onSend', async (request, reply) => {
    for (const [name, value] of SECURITY_HEADERS) reply.header(name, value)
    if (request.operator !== undefined) reply.header('cache-control', 'no-store')
  })
  // The admin port's access line: every request that changes something, and who sent it.
  app.addHook('onResponse', async (request, reply) => {
    if (request.method === 'GET' || request.method === 'HEAD') return
    request.log.info({ method: request.method, path: request.url.split('?')[0], status: reply.statusCode, operator: request.operator?.name ?? null, address: request.ip }, 'admin request')
  })
  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0] as string
    const refusal = adminRequestRefusal(request.method, request.headers, access.admin(), path === LOGIN_PATH || path === LOGOUT_PATH)
    if (refusal !== undefined) return sendProblem(reply, refusal.status === 403 ? Errors.ADMIN_FORBIDDEN : Errors.ADMIN_BAD_REQUEST, refusal.detail)
    const operators = access.operators()
    if (operators.open || path === '/healthz' || path === '/readyz' || path === LOGIN_PATH || path === LOGOUT_PATH || path === '/.well-known/jwks.json') return
    const read = request.method === 'GET' || request.method === 'HEAD'
    const auth = request.headers.authorization
    const operator = auth?.startsWith('Bearer ') === true ? operators.identify(auth.slice(7)) : read ? access.sessions?.operator(request.headers.cookie) : undefined
    if (operator === undefined) return unauthorized(reply, read && path === '/status')
    request.operator = operator
    const need = roleFor(request.method, path)
    if (!allows(operator.role, need)) return sendProblem(reply, Errors.ADMIN_FORBIDDEN, `${request.method} ${path} needs the ${need} role; ${operator.name} is a ${operator.role}`)
  })
}

function unauthorized (reply: FastifyReply, page: boolean): FastifyReply {
  // A person opening the page gets the sign-in form rather than a JSON problem.
  if (page) return reply.code(401).header('content-type', 'text/html; charset=utf-8').send(loginPage(false))
  reply.header('www-authenticate', 'Bearer')
  return sendProblem(reply, Errors.ADMIN_UNAUTHORIZED, 'send Authorization: Bearer <an operator\'s token, or STRANGLER_ADMIN_TOKEN>')
}

const isLoopbackAddress = (a: string): boolean => a === '::1' || /^127\.\d+\.\d+\.\d+$/.test(a) || /^::ffff:127\./.test(a)

/** True for a host only this machine can reach: a loopback address, or a name that resolves only to them. */
async function loopback (host: string): Promise<boolean> {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase()
  if (h === 'localhost' || isLoopbackAddress(h)) return true
  if (isIP(h) !== 0) return false
  const addresses = await lookup(h, { all: true }).catch(() => [])
  return addresses.length > 0 && addresses.every((a) => isLoopbackAddress(a.address))
}

/**
 * Why an admin listener must not start: reachable from other machines with no token,
 * anyone there could pause, skip or abort a migration. `insecure` (--insecure-admin)
 * is for a lab that wants it anyway.
 */
export async function openAdminRefusal (what: string, host: string, guarded: boolean, insecure: boolean): Promise<string | undefined> {
  if (guarded || insecure || await loopback(host)) return undefined
  return `${what} would listen on ${host}, reachable from other machines, with no STRANGLER_ADMIN_TOKEN or admin.operators: anyone there could steer the migration. Set one, listen on 127.0.0.1, or pass --insecure-admin for a lab`
}
