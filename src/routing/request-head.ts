/**
 * The checks on a request head that come before routing: what Node's parser lets
 * through but a proxy must not forward.
 */
import { Errors, ProxyError } from '../errors.js'

/**
 * What is wrong with a request head, checked before anything else: more than one Host
 * (RFC 9112 §3.2), more header lines than allowed, or more bytes than allowed. Node's
 * own byte limit is not exact with many small headers, and past its line-count limit
 * it drops the rest silently; a cut header list must never be forwarded, so both
 * are counted here.
 */
export function requestHeadProblem (rawHeaders: readonly string[], maxCount: number, maxBytes: number): ProxyError | undefined {
  if (rawHeaders.length > maxCount * 2) return new ProxyError(Errors.HEADERS_TOO_LARGE, `more than ${maxCount} request header lines`)
  let seenHost = false
  // name + ": " + value + CRLF, as on the wire.
  let bytes = 0
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i] as string
    bytes += name.length + (rawHeaders[i + 1] as string).length + 4
    if (name.length === 4 && name.toLowerCase() === 'host') {
      if (seenHost) return new ProxyError(Errors.BAD_REQUEST, 'more than one Host header')
      seenHost = true
    }
  }
  if (bytes > maxBytes) return new ProxyError(Errors.HEADERS_TOO_LARGE, `request headers exceed ${maxBytes} bytes`)
  return undefined
}
