/**
 * HTTP Upgrade requests. WebSocket upgrades are tunnelled to the route's backend:
 * the handshake goes through as HTTP (so a backend's 401 or 403 reaches the client
 * as it is), then bytes are piped both ways. Other upgrade protocols (h2c) are
 * declined by serving the request as plain HTTP/1.1, as RFC 9110 §7.8 allows.
 */
import http, { type IncomingMessage, type Server } from 'node:http'
import https from 'node:https'
import type { Duplex } from 'node:stream'
import type { Socket } from 'node:net'
import type { Logger } from 'pino'
import type { ProxyRuntime } from './scope.js'
import { Errors } from '../errors.js'
import { writeRawProblem } from '../problem.js'
import { resolve } from '../routing/resolve.js'
import { chooseBackend } from '../decision/choose.js'
import { clientAddress } from '../decision/client-address.js'
import { upstreamHeadersFor } from './forward-headers.js'
import { connectionTokens, newRequestId, HOP_BY_HOP_RESPONSE } from './headers.js'
import { classifyUpstreamError } from './upstream-errors.js'
import { newRequestState } from './request-state.js'
import type { Metrics } from '../observe/metrics.js'
import { createAccessLog } from '../observe/log.js'
import type { BackendConfig } from '../config/config.js'

function rawHead (status: number, message: string, rawHeaders: readonly string[], drop: ReadonlySet<string>, extra: string): string {
  let head = `HTTP/1.1 ${status} ${message}\r\n`
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (!drop.has((rawHeaders[i] as string).toLowerCase())) head += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\r\n`
  }
  return head + extra + '\r\n'
}

/** One upgrade in flight: what every step of it writes to and records through. */
interface Upgrade {
  readonly req: IncomingMessage
  readonly socket: Duplex
  readonly head: Buffer
  readonly id: string
  /** Open tunnels, closed at shutdown. */
  readonly tunnels: Set<Duplex>
  /** The upgrade's record step: the access line and the metrics, once. */
  readonly done: (status: number) => void
}

export function createUpgradeHandler (runtime: ProxyRuntime, server: Server, logger: Logger, metrics: Metrics) {
  const logAccess = createAccessLog(logger)
  return function onUpgrade (req: IncomingMessage, socket: Duplex, head: Buffer): void {
    tunnel(req, socket, head).catch((err: unknown) => {
      logger.error({ err }, 'websocket upgrade failed')
      socket.destroy()
    })
  }

  /** receive → match → decide, then the handshake with the chosen backend. */
  async function tunnel (req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy())
    const protocol = String(req.headers.upgrade ?? '').toLowerCase()
    if (protocol !== 'websocket') {
      declineUpgrade(req, socket, server)
      return
    }
    const id = newRequestId(req.headers['x-request-id'])
    const state = newRequestState()
    const snap = runtime.snapshot
    const log = logger.child({ reqId: id })
    // Not runtime.observe(): a 101 and a tunnel's lifetime say nothing of the
    // backend's answers, so they are no evidence for the guard or the gates
    // (docs/architecture.md).
    const done = (status: number): void => {
      const ms = performance.now() - state.start
      logAccess(id, req.method ?? 'GET', req.url ?? '', state, status, ms, false, true)
      metrics.request(state, req.method ?? 'GET', status, ms / 1000)
    }

    const target = resolve(snap, req.method ?? 'GET', req.url ?? '', req.headers, req.rawHeaders)
    if ('error' in target) {
      writeRawProblem(socket, target.error, target.error.detail, id)
      state.errorCode = target.error.code
      done(target.error.status)
      return
    }
    const { route } = target
    state.route = route.name
    if (!route.config.websocket || req.method !== 'GET') {
      writeRawProblem(socket, Errors.UPGRADE_NOT_ALLOWED, `route "${route.name}" does not accept websocket upgrades`, id)
      state.errorCode = Errors.UPGRADE_NOT_ALLOWED.code
      done(400)
      return
    }
    const client = clientAddress(snap, req)
    const { decision } = await chooseBackend(snap, route, req.headers, () => client)
    state.backend = decision.backend
    state.reason = decision.reason
    const bp = snap.pools.get(decision.backend)
    if (bp === undefined) return void socket.destroy()
    const headers = upstreamHeadersFor(snap, req, id, bp.backend, client)
    headers.push('connection', 'upgrade', 'upgrade', req.headers.upgrade as string)
    const fields = { route: route.name, backend: decision.backend, reason: decision.reason }
    const upgrade: Upgrade = { req, socket, head, id, done, tunnels: runtime.tunnels }
    handshake(upgrade, bp.backend, bp.backend.basePath + target.path, headers, (err) => {
      const c = classifyUpstreamError(err)
      state.upstreamError = c.kind
      log.warn({ err, ...fields, kind: c.kind }, 'websocket handshake with backend failed')
      writeRawProblem(socket, c.error, `websocket handshake with backend "${decision.backend}" failed`, id)
      state.errorCode = c.error.code
      done(c.error.status)
    })
  }

}

/** The upgrade request to the backend: a refusal is relayed, a 101 becomes a tunnel. */
function handshake (u: Upgrade, backend: BackendConfig, path: string, headers: string[], failed: (err: unknown) => void): void {
  const url = new URL(backend.origin)
  const upstreamReq = (url.protocol === 'https:' ? https : http).request({
    hostname: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port,
    method: 'GET',
    path,
    headers,
    setHost: false,
    agent: false,
    timeout: backend.timeouts.connect + backend.timeouts.headers
  })
  let answered = false
  const fail = (err: unknown): void => {
    if (answered) return
    answered = true
    failed(err)
  }
  upstreamReq.on('error', fail)
  upstreamReq.on('timeout', () => {
    fail(Object.assign(new Error('handshake timeout'), { code: 'UND_ERR_HEADERS_TIMEOUT' }))
    upstreamReq.destroy()
  })
  u.socket.once('close', () => { if (!answered) upstreamReq.destroy() })
  upstreamReq.on('response', (res) => {
    // The backend declined the upgrade: relay its answer and close.
    answered = true
    const drop = new Set([...HOP_BY_HOP_RESPONSE, ...(connectionTokens(res.headers.connection) ?? [])])
    u.socket.write(rawHead(res.statusCode ?? 502, res.statusMessage ?? '', res.rawHeaders, drop, `x-request-id: ${u.id}\r\nconnection: close\r\n`))
    res.pipe(u.socket)
    u.done(res.statusCode ?? 502)
  })
  upstreamReq.on('upgrade', (res, upstream, upstreamHead) => {
    answered = true
    upstreamReq.setTimeout(0)
    splice(u, res, upstream, upstreamHead)
  })
  upstreamReq.end()
}

/** The 101 to the client, then bytes both ways until either side ends. */
function splice (u: Upgrade, res: IncomingMessage, upstream: Socket, upstreamHead: Buffer): void {
  const { socket } = u
  upstream.setTimeout(0)
  // A 101 keeps Connection: upgrade and Upgrade, which the handshake needs.
  const drop = new Set([...HOP_BY_HOP_RESPONSE, ...(connectionTokens(res.headers.connection) ?? [])].filter((t) => t !== 'upgrade' && t !== 'connection'))
  socket.write(rawHead(101, 'Switching Protocols', res.rawHeaders, drop, ''))
  if (upstreamHead.length > 0) socket.write(upstreamHead)
  if (u.head.length > 0) upstream.write(u.head)
  // Either side ending ends the tunnel; a peer that never answers a FIN
  // (half-open) must not keep sockets forever.
  const closeBoth = (): void => {
    socket.destroy()
    upstream.destroy()
  }
  const halfClosed = (other: Duplex) => () => {
    other.end()
    setTimeout(closeBoth, 5000).unref()
  }
  upstream.on('error', closeBoth)
  socket.on('error', closeBoth)
  upstream.once('end', halfClosed(socket))
  socket.once('end', halfClosed(upstream))
  upstream.once('close', closeBoth)
  u.tunnels.add(socket)
  socket.once('close', () => {
    u.tunnels.delete(socket)
    closeBoth()
    u.done(101)
  })
  upstream.pipe(socket, { end: false })
  socket.pipe(upstream, { end: false })
}

/** Serve a non-WebSocket upgrade request as ordinary HTTP/1.1 on a connection that then closes. */
function declineUpgrade (req: IncomingMessage, socket: Duplex, server: Server): void {
  const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] ?? '0') !== '0'
  if (hasBody) {
    // Node has already detached its parser; the body cannot be read reliably.
    writeRawProblem(socket, Errors.UPGRADE_NOT_ALLOWED, `upgrade to "${String(req.headers.upgrade)}" is not supported`, newRequestId(undefined))
    return
  }
  const res = new http.ServerResponse(req)
  res.shouldKeepAlive = false
  res.assignSocket(socket as import('node:net').Socket)
  res.once('finish', () => socket.end())
  server.emit('request', req, res)
}
