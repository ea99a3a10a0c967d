/**
 * A request path as a template: numeric ids, UUIDs and long hex become :id, so the
 * inventory counts "/orders/:id" once and parity judges each user once per endpoint.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const LONG_HEX = /^[0-9a-f]{16,}$/i
const NUMBER = /^\d+$/
/** Segments kept; deeper paths end in "/…". */
const MAX_SEGMENTS = 8
const MAX_SEGMENT_LENGTH = 64

/** "/orders/123/lines/9f86d081-…?x=1" → "/orders/:id/lines/:id". */
export function pathTemplate (path: string): string {
  const q = path.indexOf('?')
  const segments = (q === -1 ? path : path.slice(0, q)).split('/').slice(1)
  const out = segments.slice(0, MAX_SEGMENTS).map((s) => NUMBER.test(s) || UUID.test(s) || LONG_HEX.test(s) ? ':id' : s.length > MAX_SEGMENT_LENGTH ? ':long' : s)
  return '/' + out.join('/') + (segments.length > MAX_SEGMENTS ? '/…' : '')
}
