/**
 * The traffic server: Node's HTTP server, every request to the proxy handler, with no
 * web framework between them (a framework's router, hooks and reply object cost
 * microseconds per request and route nothing here). Client-side limits live on the
 * server. Never listens by itself (instance.ts does).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { ProxyRuntime } from './scope.js'
import { Errors } from '../errors.js'
import { respondProblem, writeRawProblem } from '../problem.js'
import { newRequestId } from './headers.js'
import { createProxyHandler } from './handler.js'
import { createUpgradeHandler } from './websocket.js'
import { newRequestState, responseStatus, type RequestState } from './request-state.js'
import { createAccessLog } from '../observe/log.js'
import { ClientConnection, type Entry } from './client-connection.js'
import type { Metrics } from '../observe/metrics.js'
import type { ClientLimits } from '../config/config.js'

function ignore (): void {}

/**
 * Node drops header lines past server.maxHeadersCount without a word; the proxy
 * counts them itself (client.maxHeaderCount, reloadable) and answers 431 instead.
 */
function unlimitedHeaderLines (server: http.Server): http.Server {
  server.maxHeadersCount = 0
  return server
}

const kState = Symbol('strangler.state')
type Tracked = IncomingMessage & { [kState]: RequestState }

/**
 * Bytes Node's parser refused: a problem answer on the raw socket, or, after a
 * request still in flight, the end of the connection once it is answered.
 */
function clientErrorHandler (logger: Logger, limits: ClientLimits): (err: NodeJS.ErrnoException, socket: Duplex) => void {
  return (err, socket) => {
    // Writing the answer can fail too (the client may already have reset); an
    // error with no listener would take the whole process down.
    socket.on('error', () => socket.destroy())
    if (err.code === 'ECONNRESET' || socket.destroyed) return
    // Bytes after a request still in flight (say, after a "Connection: close" POST):
    // that request is answered by its backend, never replaced by a 400 here, and the
    // connection ends after it. Nothing after it is parsed as another request.
    const connection = ClientConnection.find(socket)
    if (connection?.answering === true) {
      connection.endWhenIdle()
      logger.info({ err: { code: err.code, message: err.message } }, 'unparsable bytes after a request in flight; the connection ends after its response')
      return
    }
    const id = randomUUID()
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') writeRawProblem(socket, Errors.REQUEST_TIMEOUT, 'the request was not received completely within the time allowed', id)
    else if (err.code === 'HPE_HEADER_OVERFLOW') writeRawProblem(socket, Errors.HEADERS_TOO_LARGE, `request headers exceed ${limits.maxHeaderSize} bytes`, id)
    else writeRawProblem(socket, Errors.BAD_REQUEST, 'the request is not valid HTTP/1.1', id)
    logger.info({ reqId: id, err: { code: err.code, message: err.message } }, 'client error')
  }
}

/** The traffic port: Node's HTTP server, with the proxy handler as its one listener. */
export interface ProxyServer {
  readonly server: http.Server
  listen (at: { readonly host: string, readonly port: number }): Promise<void>
  /** Stops accepting; resolves once every connection has ended. */
  close (): Promise<void>
}

export function buildProxyServer (runtime: ProxyRuntime, logger: Logger, metrics: Metrics): ProxyServer {
  const logAccess = createAccessLog(logger)

  /**
   * The record step, once per request whatever its ending: it leaves its connection,
   * a backend request the client left behind is stopped, and the access line, the
   * metrics and the runtime's evidence are written. Runs when the response closes, or
   * when the connection goes while the response is still queued behind an earlier one
   * (Node never closes those).
   */
  function record (entry: Entry): void {
    const state = entry as RequestState
    if (state.finished) return
    state.finished = true
    state.connection?.leave(state)
    clearTimeout(state.bodyDeadline)
    const res = state.res
    const req = state.incoming
    if (res === undefined || req === undefined) return
    if (!res.writableFinished) state.cancel?.abort()
    const status = responseStatus(res)
    const ms = performance.now() - state.start
    state.trace?.end(status, state.errorCode, state.backend, state.reason)
    logAccess(state.id, req.method ?? '', req.url ?? '', state, status, ms, !res.writableFinished)
    metrics.request(state, req.method ?? 'GET', status, ms / 1000)
    runtime.observe(state)
  }

  /** 'close' comes once per response; one shared listener, no closure per request. */
  function onResponseClose (this: ServerResponse & { req: Tracked }): void {
    record(this.req[kState])
  }

  const proxy = createProxyHandler(runtime, logger)
  /** A failure no step handled: a 500 problem, the rest of the process unaffected. */
  const failed = (state: RequestState, res: ServerResponse, err: unknown): void => {
    logger.error({ reqId: state.id, err }, 'unexpected error in proxy')
    state.errorCode = Errors.INTERNAL.code
    if (res.headersSent) res.destroy()
    else respondProblem(res, state.id, Errors.INTERNAL, 'the proxy failed to handle this request', true)
  }

  const limits = runtime.snapshot.config.client
  const server = unlimitedHeaderLines(http.createServer({
    maxHeaderSize: limits.maxHeaderSize,
    headersTimeout: limits.headersTimeout,
    requestTimeout: limits.requestTimeout,
    keepAliveTimeout: limits.keepAliveTimeout,
    // Node checks the two timeouts above on this interval (default 30 s).
    connectionsCheckingInterval: Math.min(1000, limits.headersTimeout),
    requireHostHeader: false
  }, (req, res) => {
    // A client that goes away mid-request makes Node emit 'error' ("aborted") on the
    // request; with no listener that would crash the process. Handlers see the
    // abort through 'close' and their own streams.
    req.on('error', ignore)
    // Registered here, synchronously as Node emits the request, so bytes that follow
    // it on the socket always find it in flight (see clientErrorHandler).
    const connection = ClientConnection.of(req.socket, record)
    const state = newRequestState(connection, req, newRequestId(req.headers['x-request-id']), res)
    connection.enter(state)
    ;(req as Tracked)[kState] = state
    res.on('close', onResponseClose)
    // An async function: whatever it throws arrives here as a rejection.
    proxy(state, req, res).catch((err: unknown) => failed(state, res, err))
  }))
  server.on('clientError', clientErrorHandler(logger, limits))
  server.on('upgrade', createUpgradeHandler(runtime, server, logger, metrics))
  // Without a listener Node drops CONNECT silently; a reverse proxy answers it clearly.
  server.on('connect', (_req, socket: Duplex) => {
    socket.on('error', () => socket.destroy())
    writeRawProblem(socket, Errors.BAD_REQUEST_TARGET, 'CONNECT is not supported; this is a reverse proxy', randomUUID())
  })
  return {
    server,
    listen: async (at) => await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(at.port, at.host, () => {
        server.off('error', reject)
        resolve()
      })
    }),
    close: async () => await new Promise<void>((resolve) => {
      server.close(() => resolve())
      // Kept-alive connections with nothing in flight would hold the close open.
      server.closeIdleConnections()
    })
  }
}
