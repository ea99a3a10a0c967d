/**
 * One request to a backend on undici's dispatch API, its response body written
 * straight into the client's response with backpressure. pool.request() would wrap
 * every body in a Readable to be piped on: measurably more CPU per request.
 */
import type { ServerResponse, IncomingHttpHeaders } from 'node:http'
import type { Dispatcher, Pool } from 'undici'
import { Errors, ProxyError } from '../errors.js'

export interface ExchangeEvents {
  /**
   * The backend's response head. Runs inside undici's parser callback, before any of
   * the body: write the client's head and return the response to stream into, or an
   * error to refuse the response (the backend request is then aborted).
   */
  head: (status: number, headers: IncomingHttpHeaders) => ServerResponse | Error
  /** Each body chunk on its way to the client (for the shadow comparison). */
  data: ((chunk: Buffer) => void) | undefined
  /** The body is complete (no error) or broke off after the head was written. */
  done: (error: Error | undefined) => void
  /**
   * How long the client may take nothing of the response (ms; 0: no limit). Past it
   * the client is cut and the backend request aborted, so a client that stops reading
   * cannot hold a backend connection.
   */
  readonly sendTimeout: number
}

/**
 * Cancels the backend request when the client goes away or its body is too slow.
 * A plain object with one callback for the body reader: an AbortController per
 * request cost several microseconds of DOMException machinery on the hot path.
 */
export class Cancel {
  aborted = false
  /** The exchange in flight, stopped on abort. */
  exchange: Exchange | undefined
  /** Wakes whoever is reading the request body. */
  onAbort: (() => void) | undefined
  abort (): void {
    if (this.aborted) return
    this.aborted = true
    this.exchange?.abort()
    this.onAbort?.()
  }
}

function clientGone (): Error {
  return new Error('the client went away')
}

export class Exchange implements Dispatcher.DispatchHandler {
  readonly #events: ExchangeEvents
  readonly #settle: (error: Error | undefined) => void
  #controller: Dispatcher.DispatchController | undefined
  #out: ServerResponse | undefined
  #cancelled = false
  #settled = false
  #stallTimer: NodeJS.Timeout | undefined
  /** Resumes the backend once the client has taken what was written. */
  #onDrain = (): void => {
    clearTimeout(this.#stallTimer)
    this.#controller?.resume()
  }

  constructor (events: ExchangeEvents, settle: (error: Error | undefined) => void) {
    this.#events = events
    this.#settle = settle
  }

  abort (): void {
    this.#cancelled = true
    this.#controller?.abort(clientGone())
  }

  onRequestStart (controller: Dispatcher.DispatchController): void {
    this.#controller = controller
    // Cancelled while waiting in the pool's queue.
    if (this.#cancelled) controller.abort(clientGone())
  }

  onResponseStart (controller: Dispatcher.DispatchController, status: number, headers: IncomingHttpHeaders): void {
    const out = this.#events.head(status, headers)
    this.#settled = true
    if (out instanceof Error) {
      controller.abort(out)
      this.#settle(out)
      return
    }
    this.#out = out
    this.#settle(undefined)
  }

  onResponseData (controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const out = this.#out
    if (out === undefined) return
    this.#events.data?.(chunk)
    if (!out.write(chunk)) {
      controller.pause()
      out.once('drain', this.#onDrain)
      const ms = this.#events.sendTimeout
      if (ms > 0) {
        this.#stallTimer = setTimeout(() => {
          out.off('drain', this.#onDrain)
          controller.abort(new ProxyError(Errors.SEND_TIMEOUT, `the client took nothing of the response for ${ms} ms`))
        }, ms)
      }
    }
  }

  onResponseEnd (): void {
    const out = this.#out
    if (out === undefined) return
    out.end()
    this.#events.done(undefined)
    // The backend is done, but a client that never reads the rest would keep the
    // socket and its buffered bytes open for good.
    const ms = this.#events.sendTimeout
    if (ms > 0 && out.writableLength > 0) {
      const timer = setTimeout(() => out.destroy(), ms)
      out.once('close', () => clearTimeout(timer))
    }
  }

  onResponseError (_controller: Dispatcher.DispatchController | undefined, error: Error): void {
    clearTimeout(this.#stallTimer)
    if (!this.#settled) {
      this.#settled = true
      this.#settle(error)
    } else if (this.#out !== undefined) {
      this.#events.done(error)
    }
  }
}

/**
 * Sends one request. Resolves with undefined once the response head has been handed
 * to `events.head` (the body then streams on its own), or with the error that ended
 * the exchange before that: nothing was written to the client yet, so the caller may
 * retry, fail over or answer with a problem.
 */
export function exchange (pool: Pool, options: Dispatcher.DispatchOptions, events: ExchangeEvents, cancel: Cancel): Promise<Error | undefined> {
  return new Promise((resolve) => {
    if (cancel.aborted) {
      resolve(clientGone())
      return
    }
    const ex = new Exchange(events, resolve)
    cancel.exchange = ex
    pool.dispatch(options, ex)
  })
}
