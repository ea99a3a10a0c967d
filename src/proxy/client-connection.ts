/**
 * The requests in flight on one client connection, in arrival order.
 *
 * HTTP/1.1 answers pipelined requests in order, and Node hands the proxy every
 * pipelined request at once. Forwarding them all at once would let one connection
 * hold many backend connections, deliver them to the backend out of order, and, since
 * Node never closes the responses still queued behind another when the client goes
 * away, leave those backend requests running for good. So each request is forwarded
 * only once the one before it has finished, and when the connection goes every
 * request on it is cancelled and finished, queued ones included.
 */
import type { Socket } from 'node:net'

/** What a connection needs of each of its requests. */
export interface Entry {
  /** Stops the request's backend work; set once it has any. */
  cancel: { abort (): void } | undefined
  /** Resolves the request's wait for its turn. */
  wake: (() => void) | undefined
  /** The request as Node parsed it: complete once its body has arrived whole. */
  readonly incoming: { readonly complete: boolean } | undefined
}

/** Ends a request whose connection is gone: it leaves, and its access line is written. */
export type Finish = (entry: Entry) => void

const kConnection = Symbol('strangler.connection')

export class ClientConnection {
  readonly #socket: Socket
  readonly #finish: Finish
  readonly #inflight: Entry[] = []
  #endWhenIdle = false
  /** True once the socket has closed: nothing more can be answered on it. */
  gone = false

  private constructor (socket: Socket, finish: Finish) {
    this.#socket = socket
    this.#finish = finish
    socket.once('close', () => this.#closed())
  }

  /** The connection a request arrived on (one object per socket, made on first use). */
  static of (socket: Socket, finish: Finish): ClientConnection {
    const s = socket as Socket & { [kConnection]?: ClientConnection }
    return (s[kConnection] ??= new ClientConnection(socket, finish))
  }

  static find (socket: object): ClientConnection | undefined {
    return (socket as { [kConnection]?: ClientConnection })[kConnection]
  }

  enter (entry: Entry): void {
    this.#inflight.push(entry)
  }

  /** Undefined when every earlier request has finished; otherwise resolves once they have (or the connection is gone). */
  turn (entry: Entry): Promise<void> | undefined {
    if (this.gone || this.#inflight[0] === entry || !this.#inflight.includes(entry)) return undefined
    return new Promise((resolve) => { entry.wake = resolve })
  }

  leave (entry: Entry): void {
    const i = this.#inflight.indexOf(entry)
    if (i === -1) return
    this.#inflight.splice(i, 1)
    const next = this.#inflight[0]
    if (i === 0 && next?.wake !== undefined) {
      const wake = next.wake
      next.wake = undefined
      wake()
    }
    if (this.#inflight.length === 0 && this.#endWhenIdle) this.#socket.end()
  }

  /** Whether a request is in flight whose own bytes have all arrived: what follows it is not part of it. */
  get answering (): boolean {
    const last = this.#inflight[this.#inflight.length - 1]
    return last?.incoming?.complete === true
  }

  /**
   * Bytes after the requests in flight could not be parsed: those requests are still
   * answered (the backend may already be acting on them), then the connection ends.
   */
  endWhenIdle (): void {
    this.#endWhenIdle = true
  }

  #closed (): void {
    this.gone = true
    for (const entry of [...this.#inflight]) {
      entry.cancel?.abort()
      const wake = entry.wake
      entry.wake = undefined
      wake?.()
      this.#finish(entry)
    }
  }
}
