/**
 * What the proxy learned about one request, filled in as it goes and read once
 * by the access log when the response closes.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { UpstreamErrorKind } from './upstream-errors.js'
import type { DecisionReason } from '../decision/decide.js'
import type { Cancel } from './exchange.js'
import type { OverrideRejection } from '../decision/override.js'
import type { ClientConnection, Entry } from './client-connection.js'
import type { RequestTrace } from '../observe/tracing.js'

export interface RequestState extends Entry {
  /** performance.now() when the request arrived. */
  readonly start: number
  route: string | undefined
  backend: string | undefined
  reason: DecisionReason | undefined
  flag: string | undefined
  variant: string | undefined
  /** Time to the backend's response headers from the request fully sent (dispatch, or the client body's end if later). */
  upstreamMs: number | undefined
  /** The status the backend answered with (the client may have got another, or none). */
  upstreamStatus: number | undefined
  /** performance.now() when the client's streamed body ended: the backend cannot answer a request it has not had. */
  bodyEnd: number | undefined
  /** The cohort's user id or returning session, for the evidence caps; undefined for anonymous visitors. */
  user: string | undefined
  upstreamError: UpstreamErrorKind | undefined
  errorCode: string | undefined
  retried: boolean
  /** The flag-selected backend that could not be reached before failover. */
  failoverFrom: { readonly backend: string, readonly kind: UpstreamErrorKind } | undefined
  /** Stops the backend request if the client leaves before the response is finished. */
  cancel: Cancel | undefined
  /** The request body's deadline, cleared when the response closes. */
  bodyDeadline: NodeJS.Timeout | undefined
  /** The client connection it arrived on (undefined for upgrades, which own theirs). */
  readonly connection: ClientConnection | undefined
  /** The client address as routing sees it, worked out once when first needed. */
  clientAddress: string | undefined
  /** Why a backend override on this request was not honoured, if one was tried. */
  overrideRejected: OverrideRejection | undefined
  /** Set once its access line and metrics are written. */
  finished: boolean
  /** The client's request; undefined for upgrades. */
  readonly incoming: IncomingMessage | undefined
  /** The request id (the client's x-request-id when usable, else a new one). */
  id: string
  /** The response to the client; undefined for upgrades, which answer on their socket. */
  res: ServerResponse | undefined
  /** The request's trace when tracing is on and it is sampled. */
  trace: RequestTrace | undefined
  /** The new backend that declined the request before the baseline served it. */
  declinedFrom: string | undefined
  /** The signed identity for the chosen backend (identity bridge), sent to that backend only. */
  identity: { readonly backend: string, readonly token: string } | undefined
  /** The same for the route's shadow copy, signed for the backend the copy goes to. */
  shadowIdentity: { readonly backend: string, readonly token: string } | undefined
}

export function newRequestState (connection?: ClientConnection, incoming?: IncomingMessage, id = '', res?: ServerResponse): RequestState {
  return {
    connection,
    incoming,
    id,
    res,
    clientAddress: undefined,
    wake: undefined,
    finished: false,
    overrideRejected: undefined,
    trace: undefined,
    identity: undefined,
    shadowIdentity: undefined,
    declinedFrom: undefined,
    start: performance.now(),
    route: undefined,
    backend: undefined,
    reason: undefined,
    flag: undefined,
    variant: undefined,
    upstreamMs: undefined,
    upstreamStatus: undefined,
    bodyEnd: undefined,
    user: undefined,
    upstreamError: undefined,
    errorCode: undefined,
    retried: false,
    failoverFrom: undefined,
    cancel: undefined,
    bodyDeadline: undefined
  }
}

/** The status the client got; 499 (nginx's "client closed request") when it left before any response. */
export function responseStatus (res: { writableFinished: boolean, headersSent: boolean, statusCode: number }): number {
  return res.writableFinished || res.headersSent ? res.statusCode : 499
}
