/**
 * What to do after an attempt failed before any byte reached the client. Pure, in
 * the manner of envoy's RetryState: the handler asks, never decides inline.
 *
 * A request is replayable only when nothing reached the backend (the connection was
 * never established), it carries no body, and its method may be sent twice. Then a
 * flag-chosen backend fails over to the route's baseline once; otherwise the first
 * attempt is retried once. Never more than one extra attempt.
 */

/** Methods that may be sent twice (RFC 9110 §9.2.2). */
export const RETRYABLE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'DELETE', 'PUT'])

export interface FailedAttempt {
  readonly method: string
  readonly hasBody: boolean
  /** Whether the failure happened before the request was sent (connect refused, DNS, connect timeout). */
  readonly beforeSend: boolean
  /** 0 for the first attempt. */
  readonly attempt: number
  /** The backend that failed. */
  readonly backend: string
  /** The route's baseline backend and whether it may take over. */
  readonly baseline: string
  readonly failover: boolean
  /** Whether this attempt was already a failover. */
  readonly failedOver: boolean
}

export type NextStep = { readonly kind: 'retry' } | { readonly kind: 'failover', readonly to: string } | { readonly kind: 'fail' }

const RETRY: NextStep = Object.freeze({ kind: 'retry' })
const FAIL: NextStep = Object.freeze({ kind: 'fail' })

export function nextStep (a: FailedAttempt): NextStep {
  const replayable = a.beforeSend && !a.hasBody && RETRYABLE_METHODS.has(a.method)
  if (!replayable) return FAIL
  if (a.failover && !a.failedOver && a.backend !== a.baseline) return { kind: 'failover', to: a.baseline }
  return a.attempt === 0 ? RETRY : FAIL
}
