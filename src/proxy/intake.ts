/**
 * The request body's way in: the route's size limit, the deadline Node's own
 * requestTimeout does not cover once a request is being handled, and the first bytes
 * held so a failed attempt can be retried or failed over (request-body.ts).
 */
import { pipeline, PassThrough, type Readable } from 'node:stream'
import type { IncomingMessage } from 'node:http'
import { Errors, ProxyError, type ErrorDef } from '../errors.js'
import { respondProblem } from '../problem.js'
import { Cancel } from './exchange.js'
import { BodyLimit, prebuffer, PREBUFFER_BYTES, type Prebuffered } from './request-body.js'
import type { RequestState } from './request-state.js'

function ignore (): void {}

/** A request admitted with its body: what forwarding sends, and how it can be stopped. */
export interface Intake {
  readonly hasBody: boolean
  readonly chunked: boolean
  readonly limit: number
  readonly abort: Cancel
  /** Set when the body did not arrive by the request deadline. */
  timedOut: boolean
  body: Buffer | Readable | undefined
}

export const BODY_TIMEOUT_DETAIL = 'the request body was not received within the time allowed'

/** Answers the request with a problem and closes its connection (the rest of its body is not read). */
function refuse (state: RequestState, error: ErrorDef, detail: string): void {
  if (state.res !== undefined) respondProblem(state.res, state.id, error, detail, true)
}

/**
 * The size check and the deadline, before any byte is read; undefined when the
 * request was refused (413) and answered.
 */
export function admit (raw: IncomingMessage, state: RequestState, limit: number, requestTimeout: number): Intake | undefined {
  const cl = raw.headers['content-length']
  const chunked = raw.headers['transfer-encoding'] !== undefined
  if (cl !== undefined && Number(cl) > limit) {
    state.errorCode = Errors.BODY_TOO_LARGE.code
    refuse(state, Errors.BODY_TOO_LARGE, `request body of ${cl} bytes exceeds the limit of ${limit} bytes for this route`)
    return undefined
  }
  // A client that goes away must not keep a backend connection busy (the response's
  // close listener, set up in server.ts, aborts it).
  const abort = new Cancel()
  state.cancel = abort
  if (state.connection?.gone === true) abort.abort()
  const intake: Intake = { hasBody: chunked || (cl !== undefined && cl !== '0'), chunked, limit, abort, timedOut: false, body: undefined }
  if (intake.hasBody && requestTimeout > 0) bodyDeadline(raw, state, intake, requestTimeout)
  return intake
}

function bodyDeadline (raw: IncomingMessage, state: RequestState, intake: Intake, requestTimeout: number): void {
  const timer = setTimeout(() => {
    if (raw.complete) return
    intake.timedOut = true
    state.errorCode = Errors.REQUEST_TIMEOUT.code
    intake.abort.abort()
    if (state.res?.headersSent === true) raw.socket.destroy()
  }, Math.max(0, requestTimeout - (performance.now() - state.start)))
  state.bodyDeadline = timer
  raw.once('end', () => clearTimeout(timer))
}

/**
 * Reads the body's first `hold` bytes (all of it when smaller); false when the request
 * was answered instead (too large, too slow, or the client left).
 */
export async function readBody (raw: IncomingMessage, state: RequestState, intake: Intake, hold = PREBUFFER_BYTES): Promise<boolean> {
  raw.once('end', () => { state.bodyEnd = performance.now() })
  const source = intake.chunked ? raw.pipe(new BodyLimit(intake.limit)) : raw
  if (intake.chunked) {
    raw.once('error', (err) => source.destroy(err))
    // Errors reach whoever reads the body (prebuffer, then the dispatch); this
    // listener only keeps a late one, after the request was answered, from
    // becoming an uncaught exception.
    source.on('error', ignore)
  }
  let head: Prebuffered
  try {
    head = await prebuffer(source, hold, intake.abort)
  } catch (err) {
    if (intake.timedOut) refuse(state, Errors.REQUEST_TIMEOUT, BODY_TIMEOUT_DETAIL)
    else if (err instanceof ProxyError) {
      state.errorCode = err.code
      refuse(state, err, err.detail)
    }
    return false
  }
  if (head.ended) {
    intake.body = Buffer.concat(head.chunks)
  } else {
    const rest = new PassThrough()
    for (const c of head.chunks) rest.write(c)
    pipeline(source, rest, () => {})
    intake.body = rest
  }
  return true
}
