/**
 * Who may use an admin port: requests a browser could be tricked into sending are
 * refused (browser-guard.ts), and with a token set everything but the probes needs
 * it as a bearer token. Shared by the proxy's admin port and the fleet ramp driver's.
 */
import { timingSafeEqual, createHash } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { Config } from '../config/config.js'
import { Errors } from '../errors.js'
import { sendProblem } from '../problem.js'
import { adminRequestRefusal } from './browser-guard.js'

export interface AdminAccess {
  readonly token: string | undefined
  readonly admin: () => Config['admin']
}

function tokenMatches (expected: string, header: string | undefined): boolean {
  if (header === undefined || !header.startsWith('Bearer ')) return false
  const a = createHash('sha256').update(expected).digest()
  const b = createHash('sha256').update(header.slice(7)).digest()
  return timingSafeEqual(a, b)
}

export function protectAdmin (app: FastifyInstance, access: AdminAccess): void {
  app.addHook('onRequest', async (request, reply) => {
    const refusal = adminRequestRefusal(request.method, request.headers, access.admin())
    if (refusal !== undefined) return sendProblem(reply, refusal.status === 403 ? Errors.ADMIN_FORBIDDEN : Errors.ADMIN_BAD_REQUEST, refusal.detail)
    if (access.token === undefined) return
    const path = request.url.split('?')[0]
    if (path === '/healthz' || path === '/readyz') return
    if (!tokenMatches(access.token, request.headers.authorization)) {
      reply.header('www-authenticate', 'Bearer')
      return sendProblem(reply, Errors.ADMIN_UNAUTHORIZED, 'send Authorization: Bearer <STRANGLER_ADMIN_TOKEN>')
    }
  })
}
