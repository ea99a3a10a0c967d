/**
 * The traffic server: a Fastify instance with no routes of its own; every request
 * goes to the proxy handler. Client-side limits live on the Node HTTP server.
 * Never listens by itself (instance.ts does).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { randomUUID } from 'node:crypto'
import Fastify, { LogController, type FastifyInstance, type FastifyError, type FastifyBaseLogger, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { ProxyRuntime } from './scope.js'
import { Errors } from '../errors.js'
import { sendProblem, writeRawProblem } from '../problem.js'
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

export function buildProxyServer (runtime: ProxyRuntime, logger: Logger, metrics: Metrics): FastifyInstance {
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
    const reply = state.reply
    if (reply === undefined) return
    const res = reply.raw
    if (!res.writableFinished) state.cancel?.abort()
    const status = responseStatus(res)
    const ms = performance.now() - state.start
    state.trace?.end(status, state.errorCode, state.backend, state.reason)
    logAccess(String(reply.request.id), reply.request.raw.method ?? '', reply.request.raw.url ?? '', state, status, ms, !res.writableFinished)
    metrics.request(state, reply.request.raw.method ?? 'GET', status, ms / 1000)
    runtime.observe(state)
  }

  /** 'close' comes once per response; one shared listener, no closure per request. */
  function onResponseClose (this: ServerResponse & { req: Tracked }): void {
    record(this.req[kState])
  }

  function track (request: FastifyRequest, reply: FastifyReply): void {
    const state = (request.raw as Tracked)[kState]
    state.reply = reply
    request.spx = state
  }

  const limits = runtime.snapshot.config.client
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // request.log is the root logger: a pino child per request cost microseconds on
    // every request for the few that log anything besides the access line, which
    // carry reqId themselves.
    childLoggerFactory: (root) => root,
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    genReqId: (req) => newRequestId(req.headers['x-request-id']),
    // New requests on kept-alive connections during drain are served with
    // "connection: close" by the handler instead of a bare 503.
    return503OnClosing: false,
    serverFactory: (handler) => unlimitedHeaderLines(http.createServer({
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
      const state = newRequestState(connection, req)
      connection.enter(state)
      ;(req as Tracked)[kState] = state
      res.on('close', onResponseClose)
      handler(req, res)
    })),
    // Runs before onRequest hooks (bad percent-encoding found by the router).
    frameworkErrors: (err, request, reply) => {
      track(request, reply)
      const error = err.code === 'FST_ERR_BAD_URL' ? Errors.BAD_PATH : Errors.BAD_REQUEST
      return sendProblem(reply, error, error === Errors.BAD_PATH ? 'request path has malformed percent-encoding' : 'request could not be parsed', true)
    },
    clientErrorHandler: clientErrorHandler(logger, limits)
  })

  app.decorateRequest('spx', null as never)

  // Bodies are streamed to the backend untouched, never parsed.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_request, _payload, done) => done(null))

  // Every request reaches Fastify's not-found handler (there are no routes) or
  // frameworkErrors; tracking starts there rather than in an onRequest hook, which
  // would add Fastify's hook runner to every request.
  const proxy = createProxyHandler(runtime)
  app.setNotFoundHandler((request, reply) => {
    track(request, reply)
    return proxy(request, reply)
  })
  app.setErrorHandler((err: FastifyError, request, reply) => {
    if (request.spx === null) track(request, reply)
    request.log.error({ reqId: request.id, err }, 'unexpected error in proxy')
    request.spx.errorCode = Errors.INTERNAL.code
    return sendProblem(reply, Errors.INTERNAL, 'the proxy failed to handle this request', true)
  })

  app.server.on('upgrade', createUpgradeHandler(runtime, app.server, logger, metrics))
  // Without a listener Node drops CONNECT silently; a reverse proxy answers it clearly.
  app.server.on('connect', (_req, socket: Duplex) => {
    socket.on('error', () => socket.destroy())
    writeRawProblem(socket, Errors.BAD_REQUEST_TARGET, 'CONNECT is not supported; this is a reverse proxy', randomUUID())
  })
  return app
}
