/**
 * The request body on its way to a backend: a byte limit for chunked bodies, and the
 * first bytes held before a backend connection is taken, so a client trickling its
 * body never occupies the backend pool.
 */
import { Transform, type TransformCallback, type Readable } from 'node:stream'
import { Errors, ProxyError } from '../errors.js'
import type { Cancel } from './exchange.js'

/** Counts a chunked body and fails it once it passes the route's limit. */
export class BodyLimit extends Transform {
  #left: number
  constructor (limit: number) {
    super()
    this.#left = limit
  }

  override _transform (chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#left -= chunk.length
    if (this.#left < 0) cb(new ProxyError(Errors.BODY_TOO_LARGE, 'request body exceeds the limit for this route'))
    else cb(null, chunk)
  }
}

/**
 * Bytes of a request body the proxy holds before it takes a backend connection.
 * A client trickling its body (slow POST) is then cut by client.requestTimeout
 * without ever occupying the backend pool; bodies that arrive at a normal pace
 * pass this in one or two reads and stream from there.
 */
export const PREBUFFER_BYTES = 64 * 1024

export interface Prebuffered { readonly chunks: Buffer[], readonly ended: boolean }

export function prebuffer (source: Readable, max: number, signal: Cancel): Promise<Prebuffered> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const cleanup = (): void => {
      source.off('data', onData)
      source.off('end', onEnd)
      source.off('error', onError)
      signal.onAbort = undefined
    }
    const onData = (c: Buffer): void => {
      chunks.push(c)
      size += c.length
      if (size >= max) {
        cleanup()
        source.pause()
        resolve({ chunks, ended: false })
      }
    }
    const onEnd = (): void => { cleanup(); resolve({ chunks, ended: true }) }
    const onError = (err: Error): void => { cleanup(); reject(err) }
    const onAbort = (): void => { cleanup(); reject(new Error('the client went away')) }
    source.on('data', onData)
    source.once('end', onEnd)
    source.once('error', onError)
    signal.onAbort = onAbort
  })
}

