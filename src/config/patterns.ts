/**
 * Path and host patterns of routes.yaml: syntax, compilation and matching.
 *
 * Path: "/" + segments; a segment is a literal, ":name" (exactly one segment),
 * or "*" as the last segment (zero or more segments: "/api/*" matches "/api",
 * "/api/" and everything below). Host: "example.com" or "*.example.com".
 * Here in config/ because validation and the route table (routing/) share one grammar,
 * and with it the one way a request path is read for matching.
 */

export const Seg = { Wildcard: 1, End: 2, Param: 3, Literal: 4 } as const
export type Seg = typeof Seg[keyof typeof Seg]

export interface PathPattern {
  /** Literal segments as strings, params as null. */
  readonly segments: ReadonlyArray<string | null>
  readonly wildcard: boolean
}

export function parsePathPattern (path: string): { pattern?: PathPattern, error?: string } {
  if (!path.startsWith('/')) return { error: 'must start with "/"' }
  if (path.includes('?') || path.includes('#')) return { error: 'must not contain "?" or "#"; match the path only' }
  if (path === '/') return { pattern: { segments: [''], wildcard: false } }
  const parts = path.slice(1).split('/')
  const wildcard = parts[parts.length - 1] === '*'
  if (wildcard) parts.pop()
  const segments: Array<string | null> = []
  for (const part of parts) {
    if (part.includes('*')) return { error: '"*" is only allowed as the whole last segment, as in /api/*' }
    if (part.startsWith(':')) {
      if (!/^:[A-Za-z_][A-Za-z0-9_]*$/.test(part)) return { error: `"${part}" is not a valid parameter segment` }
      segments.push(null)
    } else if (part === '.' || part === '..') {
      return { error: 'must not contain "." or ".." segments' }
    } else {
      segments.push(part)
    }
  }
  return { pattern: { segments, wildcard } }
}

/** `segs` are the request path split on "/" without the leading empty string. */
export function matchPath (p: PathPattern, segs: readonly string[]): boolean {
  const n = p.segments.length
  if (p.wildcard) {
    if (segs.length < n) return false
  } else if (segs.length !== n) {
    return false
  }
  for (let i = 0; i < n; i++) {
    const want = p.segments[i]
    const got = segs[i] as string
    if (want === null) {
      if (got === '') return false
    } else if (want !== got) {
      return false
    }
  }
  return true
}

/** Rank of the i-th position, for "most specific wins". */
export function segmentRank (p: PathPattern, i: number): Seg {
  if (i < p.segments.length) return p.segments[i] === null ? Seg.Param : Seg.Literal
  return p.wildcard ? Seg.Wildcard : Seg.End
}

export interface HostPattern {
  /** Exact host, or the suffix ".example.com" for a wildcard. */
  readonly value: string
  readonly wildcard: boolean
}

export function parseHostPattern (host: string): { pattern?: HostPattern, error?: string } {
  const h = host.toLowerCase()
  const wildcard = h.startsWith('*.')
  const name = wildcard ? h.slice(2) : h
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(name) && !/^\[[0-9a-f:.]+\]$/.test(name)) {
    return { error: `"${host}" is not a host name or "*.domain" pattern (no port, no scheme)` }
  }
  return { pattern: { value: wildcard ? '.' + name : name, wildcard } }
}

/** `host` is lower-case without port. */
export function matchHost (p: HostPattern, host: string): boolean {
  return p.wildcard ? host.endsWith(p.value) && host.length > p.value.length : host === p.value
}

const UNRESERVED = /[A-Za-z0-9\-._~]/

/**
 * The request path as routes see it: percent-encoded unreserved characters
 * decoded (RFC 3986 §6.2.2.2), so "/%6Frders" and "/orders" match the same route.
 * Reserved characters stay encoded: "/a%2Fb" is one segment. The bytes sent to the
 * backend are never changed by this; it only feeds matching.
 * Dot segments, "%00" and malformed escapes are refused rather than guessed at.
 */
export function routingSegments (rawPath: string): { segs?: string[], error?: string } {
  let path = rawPath
  let decoded = rawPath
  if (path.includes('%')) {
    let out = ''
    for (let i = 0; i < path.length; i++) {
      const ch = path[i] as string
      if (ch !== '%') { out += ch; continue }
      const hex = path.slice(i + 1, i + 3)
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return { error: 'malformed percent-encoding in path' }
      const char = String.fromCharCode(parseInt(hex, 16))
      if (char === '\0') return { error: 'encoded NUL in path' }
      out += UNRESERVED.test(char) ? char : '%' + hex.toUpperCase()
      i += 2
    }
    path = out
    try {
      decoded = decodeURIComponent(rawPath)
    } catch {
      return { error: 'malformed percent-encoding in path (not UTF-8)' }
    }
  }
  // Judged on the fully decoded path with "/" and "\\" as separators: a backend that
  // decodes "%2F" or treats "\\" as a separator must not be walked out of the route.
  if (DOT_SEGMENT.test(decoded)) return { error: 'dot segments are not allowed in paths' }
  return { segs: path.slice(1).split('/') }
}

/**
 * "." or "..", alone or with a path parameter (";x"): Tomcat, Jetty and Spring read
 * "/..;/" as "/../", which would walk a legacy app out of the route.
 */
const DOT_SEGMENT = /(^|[/\\])\.{1,2}(;[^/\\]*)?([/\\]|$)/
