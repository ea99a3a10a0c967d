/**
 * Tester overrides: a header or cookie naming the backend a request must go to,
 * honoured only with the configured secret (STRANGLER_OVERRIDE_SECRET) or its
 * HMAC. The value is "<backend>.<token>", where token is the secret itself or
 * hex HMAC-SHA256(secret, backend). Prefer the HMAC in cookies: cookies reach backends.
 */
import { createHmac, createHash, timingSafeEqual } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { readCookie } from './cookies.js'

export type OverrideResult =
  | { readonly kind: 'none' }
  | { readonly kind: 'accepted', readonly backend: string }
  | { readonly kind: 'rejected', readonly reason: string }

const NONE: OverrideResult = Object.freeze({ kind: 'none' })

export function overrideToken (secret: string, backend: string): string {
  return createHmac('sha256', secret).update(backend).digest('hex')
}

function same (a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest())
}

export function readOverride (
  headers: IncomingHttpHeaders,
  names: { readonly header: string, readonly cookie: string },
  secret: string | undefined,
  allowed: ReadonlySet<string>
): OverrideResult {
  const h = headers[names.header]
  const value = (Array.isArray(h) ? h[0] : h) ?? readCookie(headers.cookie, names.cookie)
  if (value === undefined || value === '') return NONE
  if (secret === undefined) return { kind: 'rejected', reason: 'overrides are disabled (STRANGLER_OVERRIDE_SECRET is not set)' }
  const dot = value.indexOf('.')
  const backend = dot === -1 ? value : value.slice(0, dot)
  const token = dot === -1 ? '' : value.slice(dot + 1)
  if (!same(token, secret) && !same(token, overrideToken(secret, backend))) return { kind: 'rejected', reason: 'wrong or missing override token' }
  if (!allowed.has(backend)) return { kind: 'rejected', reason: `backend "${backend}" is not one this route can use` }
  return { kind: 'accepted', backend }
}
