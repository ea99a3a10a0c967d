/**
 * Header rewriting in both directions: hop-by-hop removal (RFC 9110 §7.6.1),
 * X-Forwarded-* and Forwarded built from the socket peer, the request id.
 * Pure functions over header lists; the order and repetition of end-to-end headers is kept.
 */
import type { IncomingHttpHeaders } from 'node:http'
import { randomUUID } from 'node:crypto'

/** Hop-by-hop headers and headers the proxy owns; never copied from the client (nor any proxy-*). */
const DROP_FROM_CLIENT = new Set([
  'connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade',
  'expect', 'host', 'http2-settings',
  'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'forwarded', 'x-request-id'
])

/**
 * Client-address headers that legacy stacks (nginx realip, Spring, Rails, PHP apps)
 * read as the user's address: forwarded only from trusted proxies, like X-Forwarded-For.
 */
const CLIENT_ADDRESS = new Set(['x-real-ip', 'true-client-ip', 'x-client-ip', 'x-cluster-client-ip'])

/** Hop-by-hop headers never copied from a backend response (a websocket 101 keeps connection and upgrade). */
export const HOP_BY_HOP_RESPONSE: ReadonlySet<string> = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'http2-settings'
])

/** Prefix of the proxy's own headers; clients cannot inject them. */
export const INTERNAL_HEADER_PREFIX = 'x-strangler-'

/** Header names listed in Connection headers (lower case). */
export function connectionTokens (value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined
  const tokens = new Set<string>()
  for (const line of Array.isArray(value) ? value : [value]) {
    for (const t of line.split(',')) {
      const name = t.trim().toLowerCase()
      if (name !== '') tokens.add(name)
    }
  }
  return tokens
}

export interface ForwardContext {
  readonly requestId: string
  /** Socket peer, IPv4-mapped addresses already unwrapped. */
  readonly peer: string
  /** Whether the peer is a configured trusted proxy whose X-Forwarded-* may be kept. */
  readonly peerTrusted: boolean
  /** The client address as routing sees it (the peer, or what trusted proxies report). */
  readonly clientAddress: string
  /** Header (lower case) that carries clientAddress to the backend, if any. */
  readonly realIpHeader: string | undefined
  /** The override header and cookie: tokens for the proxy, never for a backend. */
  readonly override: { readonly header: string, readonly cookie: string }
  readonly proto: 'http' | 'https'
  /** Host header sent by the client (may be undefined for HTTP/1.0). */
  readonly clientHost: string | undefined
  /** Host header to send: the client's (preserveHost) or the backend's. */
  readonly upstreamHost: string
  /** The identity bridge's header: never taken from a client; `token` is added for a backend that gets it. */
  readonly identity?: { readonly header: string, readonly token: string | undefined } | undefined
}

function joined (v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(', ') : v
}

function forwardedNode (addr: string): string {
  return addr.includes(':') ? `"[${addr}]"` : addr
}

function quoted (value: string): string {
  return /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(value) ? value : `"${value.replace(/["\\]/g, '\\$&')}"`
}

/**
 * Headers for the backend request, as a flat [name, value, ...] list.
 * Proxy-added headers are appended after filtering, so a client's Connection
 * header cannot remove them.
 */
export function upstreamRequestHeaders (rawHeaders: readonly string[], headers: IncomingHttpHeaders, ctx: ForwardContext): string[] {
  const out = clientHeaders(rawHeaders, connectionTokens(headers.connection), ctx)
  appendProxyHeaders(out, headers, ctx)
  return out
}

/** The client's headers a backend may see: no hop-by-hop, proxy-internal or spoofable ones, no proxy cookies. */
function clientHeaders (rawHeaders: readonly string[], listed: ReadonlySet<string> | undefined, ctx: ForwardContext): string[] {
  const out: string[] = []
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] as string).toLowerCase()
    if (notForwarded(name, listed, ctx)) continue
    const value = rawHeaders[i + 1] as string
    if (name === 'cookie' && (value.includes(ctx.override.cookie) || value.includes(ADMIN_SESSION_COOKIE))) {
      const rest = withoutCookie(withoutCookie(value, ctx.override.cookie), ADMIN_SESSION_COOKIE)
      if (rest !== '') out.push(name, rest)
      continue
    }
    out.push(name, value)
  }
  return out
}

function notForwarded (name: string, listed: ReadonlySet<string> | undefined, ctx: ForwardContext): boolean {
  if (DROP_FROM_CLIENT.has(name)) return true
  if (name.startsWith('proxy-') || name.startsWith(INTERNAL_HEADER_PREFIX)) return true
  if (listed?.has(name) === true) return true
  if (name === ctx.realIpHeader || (!ctx.peerTrusted && CLIENT_ADDRESS.has(name))) return true
  return name === ctx.override.header || name === ctx.identity?.header
}

/**
 * Host, the forwarding chain (extended only when the peer is a trusted proxy), the
 * request id, the real-IP header and the identity token, appended after filtering
 * so a client's Connection header cannot remove them.
 */
function appendProxyHeaders (out: string[], headers: IncomingHttpHeaders, ctx: ForwardContext): void {
  const trusted = ctx.peerTrusted
  const xff = trusted ? joined(headers['x-forwarded-for']) : undefined
  const fwd = trusted ? joined(headers.forwarded) : undefined
  const proto = (trusted ? joined(headers['x-forwarded-proto']) : undefined) ?? ctx.proto
  const xfh = (trusted ? joined(headers['x-forwarded-host']) : undefined) ?? ctx.clientHost
  const element = `for=${forwardedNode(ctx.peer)};proto=${ctx.proto}` + (ctx.clientHost === undefined ? '' : `;host=${quoted(ctx.clientHost)}`)
  out.push(
    'host', ctx.upstreamHost,
    'x-forwarded-for', xff === undefined ? ctx.peer : `${xff}, ${ctx.peer}`,
    'x-forwarded-proto', proto,
    'forwarded', fwd === undefined ? element : `${fwd}, ${element}`,
    'x-request-id', ctx.requestId
  )
  if (xfh !== undefined) out.push('x-forwarded-host', xfh)
  if (ctx.realIpHeader !== undefined) out.push(ctx.realIpHeader, ctx.clientAddress)
  if (ctx.identity?.token !== undefined) out.push(ctx.identity.header, ctx.identity.token)
}

/**
 * Backend response headers minus hop-by-hop ones, as the flat [name, value, ...] list
 * writeHead takes; a repeated field (e.g. Set-Cookie) stays one line per value.
 */
export function clientResponseHeaders (headers: Record<string, string | string[] | undefined>): string[] {
  const listed = connectionTokens(headers.connection)
  const out: string[] = []
  for (const name in headers) {
    const value = headers[name]
    if (value === undefined) continue
    if (HOP_BY_HOP_RESPONSE.has(name) || name.startsWith('proxy-')) continue
    if (listed?.has(name) === true) continue
    if (typeof value === 'string') out.push(name, value)
    else for (const v of value) out.push(name, v)
  }
  return out
}

/**
 * The status page's session cookie (admin/session.ts). Browsers send cookies to every
 * port of a host, so a signed-in browser sends it to the traffic port too: it is the
 * proxy's, never a backend's.
 */
export const ADMIN_SESSION_COOKIE = 'spx_admin_session'

/** A Cookie header value without the named cookie (every occurrence). */
export function withoutCookie (value: string, name: string): string {
  return value.split(';').filter((part) => {
    const eq = part.indexOf('=')
    return (eq === -1 ? part : part.slice(0, eq)).trim() !== name
  }).map((p) => p.trim()).filter((p) => p !== '').join('; ')
}


const REQUEST_ID = /^[\x21-\x7e]{1,200}$/

/**
 * The client's X-Request-Id when it is short, visible ASCII; otherwise a fresh one,
 * so an id with CR/LF or kilobytes of junk never reaches logs or backends.
 */
export function newRequestId (header: string | string[] | undefined): string {
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID()
}
