/**
 * What a finished request tells about the backend that served it: the only input the
 * rollback guard, the ramp gates and the parity windows judge. A request is evidence
 * only if the backend itself answered it (or could not be reached): the proxy's own
 * answers (400, 413, 431, timeouts of the client's body, a client that left before
 * the answer), tester overrides and explain never are. Its latency is the backend's
 * time to response headers from the moment the request was fully sent, so a slow
 * uploader or a slow reader cannot make a backend look slow.
 */
import type { RequestState } from '../proxy/request-state.js'
import type { UpstreamErrorKind } from '../proxy/upstream-errors.js'

export interface Sample {
  /** The backend's status; 502/503/504 when it could not be reached or answered nothing. */
  readonly status: number
  /** Seconds to response headers from the request fully sent; undefined when it never answered. */
  readonly seconds: number | undefined
  /** The client address as routing saw it. */
  readonly address: string
  /** The user id or an earlier session: undefined for a visitor the proxy just issued a session to. */
  readonly user: string | undefined
}

/** Why a finished request is not evidence, for strangler_evidence_ignored_total. */
export type Ignored = 'proxy_answered' | 'override' | 'not_flagged'

/** The backend's evidence in one finished request, or why there is none. */
export function evidenceOf (state: RequestState): Sample | Ignored {
  if (state.reason === 'override') return 'override'
  if (state.reason !== 'flag_on' && state.reason !== 'flag_off' && state.reason !== 'guard' && state.reason !== 'failover') return 'not_flagged'
  const address = state.clientAddress ?? 'unknown'
  if (state.upstreamStatus !== undefined) return { status: state.upstreamStatus, seconds: (state.upstreamMs as number) / 1000, address, user: state.user }
  // Transport failures: the backend could not be reached or sent nothing usable.
  if (state.upstreamError !== undefined) return { status: failureStatus(state.upstreamError), seconds: undefined, address, user: state.user }
  return 'proxy_answered'
}

/** The status a transport failure counts as: 504 for a timeout, else 502. */
export function failureStatus (kind: UpstreamErrorKind): number {
  return kind === 'response_timeout' || kind === 'connect_timeout' ? 504 : 502
}
