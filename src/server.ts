/**
 * The traffic server: a Fastify instance with no routes of its own; every request
 * goes to the proxy handler. Client-side limits live on the Node HTTP server.
 * Never listens by itself (instance.ts does).
 */
import http from 'node:http'
import type { Duplex } from 'node:stream'
import { randomUUID } from 'node:crypto'
import Fastify, { LogController, type FastifyInstance, type FastifyError, type FastifyBaseLogger, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { Runtime } from './runtime.js'
import { Errors } from './errors.js'
import { sendProblem, writeRawProblem } from './problem.js'
import { newRequestId } from './headers.js'
import { createProxyHandler } from './forward.js'
import { createUpgradeHandler } from './websocket.js'
import { newRequestState } from './request-state.js'
import { createAccessLog } from './log.js'
import { responseStatus } from './request-state.js'
import type { Metrics } from './metrics.js'

function ignore (): void {}

export function buildProxyServer (runtime: Runtime, logger: Logger, metrics: Metrics): FastifyInstance {
  const logAccess = createAccessLog(logger)
  /**
   * Starts the per-request state. Its one close listener stops a backend request the
   * client left behind, then writes the access line and the metrics.
   */
  function track (request: FastifyRequest, reply: FastifyReply): void {
    const state = newRequestState()
    request.spx = state
    const res = reply.raw
    // 'close' comes once per response; on() spares the once() wrapper.
    res.on('close', () => {
      clearTimeout(state.bodyDeadline)
      if (!res.writableFinished) state.cancel?.abort()
      const status = responseStatus(res)
      const ms = performance.now() - state.start
      logAccess(request, reply, status, ms)
      metrics.request(state, request.raw.method ?? 'GET', status, ms / 1000)
      runtime.observe(state, status, ms / 1000)
    })
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
    serverFactory: (handler) => http.createServer({
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
      handler(req, res)
    }),
    // Runs before onRequest hooks (bad percent-encoding found by the router).
    frameworkErrors: (err, request, reply) => {
      track(request, reply)
      const error = err.code === 'FST_ERR_BAD_URL' ? Errors.BAD_PATH : Errors.BAD_REQUEST
      return sendProblem(reply, error, error === Errors.BAD_PATH ? 'request path has malformed percent-encoding' : 'request could not be parsed', true)
    },
    clientErrorHandler: (err: NodeJS.ErrnoException, socket) => {
      // Writing the answer can fail too (the client may already have reset); an
      // error with no listener would take the whole process down.
      socket.on('error', () => socket.destroy())
      if (err.code === 'ECONNRESET' || socket.destroyed) return
      const id = randomUUID()
      if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') writeRawProblem(socket, Errors.REQUEST_TIMEOUT, 'the request was not received completely within the time allowed', id)
      else if (err.code === 'HPE_HEADER_OVERFLOW') writeRawProblem(socket, Errors.HEADERS_TOO_LARGE, `request headers exceed ${limits.maxHeaderSize} bytes`, id)
      else writeRawProblem(socket, Errors.BAD_REQUEST, 'the request is not valid HTTP/1.1', id)
      logger.info({ reqId: id, err: { code: err.code, message: err.message } }, 'client error')
    }
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
