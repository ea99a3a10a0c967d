/**
 * Tester overrides: a header or cookie naming the backend a request must go to,
 * honoured only with a token signed by the configured secret
 * (STRANGLER_OVERRIDE_SECRET). The value is
 *
 *   <backend>[@<route>].<expires>.<hex HMAC-SHA256(secret, "<backend>[@<route>].<expires>")>
 *
 * where expires is Unix seconds: a token works until then (at most MAX_LIFETIME
 * ahead), and only on the named route when it names one. The secret itself is never
 * a token, so it never needs to leave the operators' hands.
 */
import { createHmac, createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { readCookie } from '../routing/cookies.js'

/** Why an override was not honoured; a label of strangler_override_rejected_total. */
export type OverrideRejection = 'disabled' | 'malformed' | 'bad_signature' | 'expired' | 'wrong_route' | 'backend_not_allowed'

export type OverrideResult =
  | { readonly kind: 'none' }
  | { readonly kind: 'accepted', readonly backend: string }
  | { readonly kind: 'rejected', readonly why: OverrideRejection, readonly reason: string }

const NONE: OverrideResult = Object.freeze({ kind: 'none' })

/** A token valid further ahead than this is refused: a leaked one must die soon. */
export const MAX_LIFETIME_SECONDS = 30 * 24 * 3600

/** The header or cookie value for `backend` (on `route` only, if given) until `expires` (Unix seconds). */
export function overrideToken (secret: string, backend: string, expires: number, route?: string): string {
  const subject = `${backend}${route === undefined ? '' : `@${route}`}.${expires}`
  return `${subject}.${sign(secret, subject)}`
}

function sign (secret: string, subject: string): string {
  return createHmac('sha256', secret).update(subject).digest('hex')
}

function same (a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest())
}

function reject (why: OverrideRejection, reason: string): OverrideResult {
  return { kind: 'rejected', why, reason }
}

export function readOverride (
  headers: IncomingHttpHeaders,
  names: { readonly header: string, readonly cookie: string },
  secret: string | undefined,
  route: string,
  allowed: ReadonlySet<string>,
  nowSeconds = Date.now() / 1000
): OverrideResult {
  const h = headers[names.header]
  const value = (Array.isArray(h) ? h[0] : h) ?? readCookie(headers.cookie, names.cookie)
  if (value === undefined || value === '') return NONE
  if (secret === undefined) return reject('disabled', 'overrides are disabled (STRANGLER_OVERRIDE_SECRET is not set)')
  const sigDot = value.lastIndexOf('.')
  // With no dot, or one at the start, this finds nothing past 0: malformed below.
  const expDot = value.lastIndexOf('.', sigDot - 1)
  const expires = Number(value.slice(expDot + 1, sigDot))
  if (expDot <= 0 || !/^\d{1,12}$/.test(value.slice(expDot + 1, sigDot))) return reject('malformed', 'expected <backend>[@<route>].<expires>.<signature>')
  const subject = value.slice(0, sigDot)
  if (!same(value.slice(sigDot + 1), sign(secret, subject))) return reject('bad_signature', 'wrong override signature')
  if (expires <= nowSeconds) return reject('expired', 'override token expired')
  if (expires > nowSeconds + MAX_LIFETIME_SECONDS) return reject('malformed', 'override token valid for more than 30 days')
  const target = value.slice(0, expDot)
  const at = target.indexOf('@')
  const backend = at === -1 ? target : target.slice(0, at)
  if (at !== -1 && target.slice(at + 1) !== route) return reject('wrong_route', `override token is for route "${target.slice(at + 1)}"`)
  if (!allowed.has(backend)) return reject('backend_not_allowed', `backend "${backend}" is not one this route can use`)
  return { kind: 'accepted', backend }
}
