/**
 * The headers of a backend request for one client request, from the snapshot's
 * settings (trusted proxies, the client-address header, the override names). Shared
 * by the traffic handler, websocket upgrades and shadow copies.
 */
import type { IncomingMessage } from 'node:http'
import type { ProxySnapshot } from './scope.js'
import type { BackendConfig } from '../config/config.js'
import { upstreamRequestHeaders } from './headers.js'
import { unmapAddress } from '../decision/client-address.js'

/** Headers for the backend request: the client's end-to-end headers plus the proxy's own. */
export function upstreamHeadersFor (snap: Pick<ProxySnapshot, 'isTrusted' | 'config'>, raw: IncomingMessage, requestId: string, backend: BackendConfig, client: string): string[] {
  const peer = unmapAddress(raw.socket.remoteAddress)
  const clientHost = raw.headers.host
  return upstreamRequestHeaders(raw.rawHeaders, raw.headers, {
    requestId,
    peer,
    peerTrusted: snap.isTrusted(peer),
    clientAddress: client,
    realIpHeader: snap.config.client.realIpHeader,
    override: snap.config.override,
    proto: 'http',
    clientHost,
    upstreamHost: backend.preserveHost && clientHost !== undefined ? clientHost : backend.host
  })
}
