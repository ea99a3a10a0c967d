/**
 * Who may use an admin port: requests a browser could be tricked into sending are
 * refused (browser-guard.ts), and with a token set everything but the probes needs
 * it as a bearer token. Shared by the proxy's admin port and the fleet ramp driver's.
 */
import { timingSafeEqual, createHash } from 'node:crypto'
import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { Config } from '../config/config.js'
import { Errors } from '../errors.js'
import { sendProblem } from '../problem.js'
import { adminRequestRefusal } from './browser-guard.js'
import type { ReadSessions } from './session.js'
import { loginPage } from '../status/html.js'

export interface AdminAccess {
  readonly token: string | undefined
  readonly admin: () => Config['admin']
  /** Browser sessions from the status page's sign-in: GET and HEAD only. */
  readonly sessions?: ReadSessions
}

/** The one form the admin port takes (the status page's sign-in, usable without JavaScript). */
export const LOGIN_PATH = '/status/login'

export function secretMatches (expected: string, given: string): boolean {
  const a = createHash('sha256').update(expected).digest()
  const b = createHash('sha256').update(given).digest()
  return timingSafeEqual(a, b)
}

function tokenMatches (expected: string, header: string | undefined): boolean {
  return header !== undefined && header.startsWith('Bearer ') && secretMatches(expected, header.slice(7))
}

export function protectAdmin (app: FastifyInstance, access: AdminAccess): void {
  app.addHook('onRequest', async (request, reply) => {
    const path = request.url.split('?')[0]
    const refusal = adminRequestRefusal(request.method, request.headers, access.admin(), path === LOGIN_PATH)
    if (refusal !== undefined) return sendProblem(reply, refusal.status === 403 ? Errors.ADMIN_FORBIDDEN : Errors.ADMIN_BAD_REQUEST, refusal.detail)
    if (access.token === undefined) return
    if (path === '/healthz' || path === '/readyz' || path === LOGIN_PATH) return
    const read = request.method === 'GET' || request.method === 'HEAD'
    if (read && access.sessions?.valid(request.headers.cookie) === true) return
    if (!tokenMatches(access.token, request.headers.authorization)) {
      // A person opening the page gets the sign-in form rather than a JSON problem.
      if (read && path === '/status') return reply.code(401).header('content-type', 'text/html; charset=utf-8').send(loginPage(false))
      reply.header('www-authenticate', 'Bearer')
      return sendProblem(reply, Errors.ADMIN_UNAUTHORIZED, 'send Authorization: Bearer <STRANGLER_ADMIN_TOKEN>')
    }
  })
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
export async function openAdminRefusal (what: string, host: string, token: string | undefined, insecure: boolean): Promise<string | undefined> {
  if (token !== undefined || insecure || await loopback(host)) return undefined
  return `${what} would listen on ${host}, reachable from other machines, with no STRANGLER_ADMIN_TOKEN: anyone there could steer the migration. Set STRANGLER_ADMIN_TOKEN, listen on 127.0.0.1, or pass --insecure-admin for a lab`
}
