/**
 * The client address as routing, cohorts, the guard and X-Real-IP see it: the socket
 * peer, or what trusted proxies in front of this one report.
 */
import type { IncomingMessage } from 'node:http'
import proxyAddr from 'proxy-addr'
import type { DecisionScope } from './scope.js'

/** "::ffff:10.0.0.1" → "10.0.0.1"; the form people grep logs for. */
export function unmapAddress (addr: string | undefined): string {
  if (addr === undefined) return 'unknown'
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr
}

/** The client address as routing sees it: the peer, or what trusted proxies in front report. */
export function clientAddress (snap: Pick<DecisionScope, 'config' | 'trust'>, raw: IncomingMessage): string {
  // With no trusted proxies the peer is the client; no X-Forwarded-For to parse.
  if (snap.config.client.trustedProxies.length === 0) return unmapAddress(raw.socket.remoteAddress)
  return unmapAddress(proxyAddr(raw, snap.trust))
}
