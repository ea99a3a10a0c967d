/**
 * Transport errors from undici → what the client is told and what SREs count.
 * Classified from the error itself: a refused connection, a reset and a connect
 * timeout are different incidents and must not collapse into one 500.
 */
import { Errors, type ErrorDef } from '../errors.js'

export type UpstreamErrorKind =
  | 'connect_refused' | 'connect_timeout' | 'response_timeout' | 'reset' | 'invalid_response' | 'other'

export interface Classified {
  readonly kind: UpstreamErrorKind
  readonly error: ErrorDef
  /** Nothing reached the backend: safe to try once more for an idempotent request without a body. */
  readonly beforeSend: boolean
}

const CONNECT_FAILED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL'])
const RESET = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET', 'ECONNABORTED'])

function codeOf (err: unknown): string | undefined {
  let e: unknown = err
  // undici wraps some socket errors; the errno is on the cause.
  for (let depth = 0; depth < 3 && e !== null && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && code !== 'UND_ERR_SOCKET') return code
    if (code === 'UND_ERR_SOCKET' && (e as { cause?: unknown }).cause === undefined) return code
    e = (e as { cause?: unknown }).cause
  }
  const code = (err as { code?: unknown } | null)?.code
  // DOMExceptions (AbortSignal.timeout) carry numeric legacy codes.
  return typeof code === 'string' ? code : undefined
}

export function classifyUpstreamError (err: unknown): Classified {
  // undici's HTTPParserError carries no code for some parse failures.
  const name = (err as Error | null)?.name
  if (name === 'HTTPParserError') return { kind: 'invalid_response', error: Errors.BACKEND_INVALID_RESPONSE, beforeSend: false }
  if (name === 'TimeoutError') return { kind: 'response_timeout', error: Errors.BACKEND_TIMEOUT, beforeSend: false }
  const code = codeOf(err)
  if (code !== undefined) {
    if (CONNECT_FAILED.has(code)) return { kind: 'connect_refused', error: Errors.BACKEND_UNAVAILABLE, beforeSend: true }
    if (code === 'UND_ERR_CONNECT_TIMEOUT') return { kind: 'connect_timeout', error: Errors.BACKEND_CONNECT_TIMEOUT, beforeSend: false }
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return { kind: 'response_timeout', error: Errors.BACKEND_TIMEOUT, beforeSend: false }
    if (RESET.has(code)) return { kind: 'reset', error: Errors.BACKEND_RESET, beforeSend: false }
    if (code.startsWith('HPE_') || code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' || code === 'UND_ERR_INFO') {
      return { kind: 'invalid_response', error: Errors.BACKEND_INVALID_RESPONSE, beforeSend: false }
    }
    if (code === 'UND_ERR_CLOSED' || code === 'UND_ERR_DESTROYED') return { kind: 'other', error: Errors.BACKEND_UNAVAILABLE, beforeSend: true }
  }
  return { kind: 'other', error: Errors.BACKEND_ERROR, beforeSend: false }
}
