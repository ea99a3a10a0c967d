/**
 * The response side of forwarding: the problem details of a failed backend, the
 * headers the client gets, and the primary's body kept for a shadow comparison.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { CohortConfig, RetireConfig } from '../config/config.js'
import { Errors, type ProxyError } from '../errors.js'
import { clientResponseHeaders } from './headers.js'
import { serializeCookie } from '../routing/cookies.js'
import type { CompareWithPrimary } from './scope.js'

export function detailFor (error: ProxyError | { code: string }, backend: string): string {
  switch (error.code) {
    case Errors.BACKEND_UNAVAILABLE.code: return `backend "${backend}" is not accepting connections`
    case Errors.BACKEND_CONNECT_TIMEOUT.code: return `backend "${backend}" did not accept the connection within its connect timeout`
    case Errors.BACKEND_TIMEOUT.code: return `backend "${backend}" did not send response headers within its timeout`
    case Errors.BACKEND_RESET.code: return `backend "${backend}" closed the connection before responding`
    case Errors.BACKEND_INVALID_RESPONSE.code: return `backend "${backend}" sent a response that is not valid HTTP`
    default: return `request to backend "${backend}" failed`
  }
}

export interface ShadowCapture {
  readonly data: (chunk: Buffer) => void
  readonly done: (error: Error | undefined) => void
}

/** Keeps the primary's body (up to the shadow's limit) and hands it to the comparison when complete. */
export function captureForShadow (compare: CompareWithPrimary, status: number, headers: IncomingHttpHeaders, max: number): ShadowCapture {
  let chunks: Buffer[] | undefined = []
  let size = 0
  return {
    data: (chunk) => {
      size += chunk.length
      if (chunks !== undefined && size <= max) chunks.push(chunk)
      else chunks = undefined
    },
    done: (error) => compare(error === undefined ? { status, headers, body: chunks === undefined ? undefined : Buffer.concat(chunks) } : undefined)
  }
}

const retireHeaderCache = new WeakMap<RetireConfig, readonly string[]>()

/**
 * What a retiring route's legacy answers say: Deprecation (RFC 9745, a structured-field
 * date), Sunset (RFC 8594, an HTTP-date) and Link with rel deprecation and sunset.
 */
export function retireHeaders (r: RetireConfig): readonly string[] {
  let out = retireHeaderCache.get(r)
  if (out === undefined) {
    const list: string[] = []
    if (r.deprecation !== undefined) list.push('deprecation', `@${Math.floor(r.deprecation / 1000)}`)
    if (r.sunset !== undefined) list.push('sunset', new Date(r.sunset).toUTCString())
    if (r.link !== undefined && r.deprecation !== undefined) list.push('link', `<${r.link}>; rel="deprecation"; type="text/html"`)
    if (r.link !== undefined && r.sunset !== undefined) list.push('link', `<${r.link}>; rel="sunset"; type="text/html"`)
    out = Object.freeze(list)
    retireHeaderCache.set(r, out)
  }
  return out
}

/** The backend's response headers as the client gets them; `retiring`: a retiring route's headers, on legacy's answers. */
export function responseHeadersFor (headers: IncomingHttpHeaders, requestId: string, close: boolean, issuedSession: string | undefined, sessionCookie: CohortConfig['sessionCookie'], retiring?: readonly string[]): string[] {
  const out = clientResponseHeaders(headers)
  if (retiring !== undefined) out.push(...retiring)
  if (!hasName(out, 'x-request-id')) out.push('x-request-id', requestId)
  if (close) out.push('connection', 'close')
  if (issuedSession !== undefined && sessionCookie !== undefined) out.push('set-cookie', serializeCookie(sessionCookie.name, issuedSession, sessionCookie))
  return out
}

function hasName (list: readonly string[], name: string): boolean {
  for (let i = 0; i < list.length; i += 2) if (list[i] === name) return true
  return false
}
