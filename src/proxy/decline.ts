/**
 * "Not mine yet": a new backend may decline a request by answering one of the route's
 * decline statuses with the decline header; the proxy then replays the request to the
 * route's baseline, transparently to the client. A body is replayed only when it was
 * read whole (the first 64 KiB held, request-body.ts); a streamed one never partly.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { Readable } from 'node:stream'
import type { Route } from '../routing/table.js'
import { Errors, ProxyError } from '../errors.js'

/** The new backend's decline: returned from the response head, it ends that attempt. */
export class Declined extends ProxyError {
  readonly backend: string
  /** The backend's own status (the error's `status` is the decline's, 0: never sent). */
  readonly answered: number

  constructor (backend: string, answered: number) {
    super(Errors.DECLINED, `backend "${backend}" declined the request (${answered})`)
    this.backend = backend
    this.answered = answered
  }
}

/** Whether `backend`'s answer declines the request on `route`. */
export function declines (route: Route, backend: string, status: number, headers: IncomingHttpHeaders): boolean {
  const d = route.config.decline
  return d !== undefined && backend !== route.backend && d.status.has(status) && headers[d.header] !== undefined
}

/** A request the baseline can be sent again: no body, or one read whole. */
export function replayable (body: Buffer | Readable | undefined): boolean {
  return body === undefined || Buffer.isBuffer(body)
}
