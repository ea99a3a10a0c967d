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
/** `identity`: the signed identity and the backend it was signed for; sent to that backend only. */
export function upstreamHeadersFor (snap: Pick<ProxySnapshot, 'isTrusted' | 'config'>, raw: IncomingMessage, requestId: string, backend: BackendConfig, client: string, identity?: { readonly backend: string, readonly token: string }): string[] {
  const header = snap.config.identity?.token.header
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
    upstreamHost: backend.preserveHost && clientHost !== undefined ? clientHost : backend.host,
    identity: header === undefined ? undefined : { header, token: identity?.backend === backend.name ? identity.token : undefined }
  })
}
