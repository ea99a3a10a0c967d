/**
 * The catch-all traffic handler: match a route, forward to its backend's pool,
 * stream bodies both ways, and turn transport failures into problem responses.
 * Works on one snapshot of the route table from start to finish.
 */
import { pipeline, PassThrough, Transform, type TransformCallback, type Readable } from 'node:stream'
import type { IncomingMessage } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { BackendConfig, ShadowConfig } from './config.js'
import type { BackendPool } from './pools.js'
import type { Captured } from './shadow.js'
import type { Runtime, Snapshot } from './runtime.js'
import type { Route } from './routing.js'
import { routingSegments } from './patterns.js'
import { Errors, ProxyError } from './errors.js'
import { sendProblem } from './problem.js'
import { upstreamRequestHeaders, clientResponseHeaders, unmapAddress, requestHeadProblem } from './headers.js'
import { classifyUpstreamError } from './upstream-errors.js'
import proxyAddr from 'proxy-addr'
import type { IncomingHttpHeaders } from 'node:http'
import { decide, routeBackends, type Decision } from './decision.js'
import { buildCohort, type Cohort } from './cohort.js'
import { readOverride, type OverrideResult } from './override.js'
import { serializeCookie } from './cookies.js'
import { exchange, Cancel, type ExchangeEvents } from './exchange.js'

/** Methods that may be sent twice: retried once, and only when they carry no body. */
const RETRYABLE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'DELETE', 'PUT'])

export interface ResolvedTarget {
  readonly route: Route
  /** Path (after the route's rewrite) and query; the chosen backend's base path goes in front. */
  readonly path: string
  /** The request's path as the client sent it, without the query. */
  readonly rawPath: string
}

export type Resolution = ResolvedTarget | { readonly error: ProxyError }

/**
 * Request target → route and outgoing path; shared by traffic, websocket and explain.
 * The path reaches the backend byte for byte, apart from the route's rewrite.
 */
export function resolve (snap: Snapshot, method: string, url: string, headers: Readonly<Record<string, string | string[] | undefined>>, rawHeaders?: readonly string[]): Resolution {
  const limits = snap.config.client
  if (rawHeaders !== undefined) {
    const problem = requestHeadProblem(rawHeaders, limits.maxHeaderCount, limits.maxHeaderSize)
    if (problem !== undefined) return { error: problem }
  }
  if (url.length > limits.maxUrlLength) return { error: new ProxyError(Errors.URI_TOO_LONG, `request target is longer than ${limits.maxUrlLength} bytes`) }
  if (url.charCodeAt(0) !== 47 /* / */) return { error: new ProxyError(Errors.BAD_REQUEST_TARGET, 'use origin-form: a path starting with "/"') }
  const q = url.indexOf('?')
  const rawPath = q === -1 ? url : url.slice(0, q)
  const { segs, error } = routingSegments(rawPath)
  if (segs === undefined) return { error: new ProxyError(Errors.BAD_PATH, error as string) }
  const host = headers.host
  const route = snap.table.match({ method, host: typeof host === 'string' ? host : undefined, segs, headers })
  if (route === undefined) return { error: new ProxyError(Errors.NO_ROUTE, `no route matches ${method} on this host and path`) }
  return { route, rawPath, path: rewritePath(rawPath, route) + (q === -1 ? '' : url.slice(q)) }
}

export interface Choice {
  readonly decision: Decision
  readonly cohort: Cohort | undefined
  readonly override: OverrideResult
}

const NO_OVERRIDE: OverrideResult = Object.freeze({ kind: 'none' })

/**
 * The backend for this request. Static routes cost nothing here (not even the client
 * address, which `clientIp` only works out when asked); flagged routes build the
 * cohort and ask the flags (in memory, never over the network).
 */
export function chooseBackend (snap: Snapshot, route: Route, headers: IncomingHttpHeaders, clientIp: () => string): Choice | Promise<Choice> {
  if (route.config.flag === undefined) return { decision: decide(route, undefined, undefined, undefined), cohort: undefined, override: NO_OVERRIDE }
  const override = readOverride(headers, snap.config.override, snap.overrideSecret, route.name, routeBackends(route))
  const cohort = buildCohort(snap.config.cohort, { headers, clientIp: clientIp() }, snap.jwt)
  return cohort instanceof Promise ? cohort.then((c) => flagChoice(snap, route, c, override)) : flagChoice(snap, route, cohort, override)
}

function flagChoice (snap: Snapshot, route: Route, cohort: Cohort, override: OverrideResult): Choice {
  let decision = decide(route, snap.flags, cohort.context, override.kind === 'accepted' ? override.backend : undefined)
  // A tripped rollback guard sends the flag's traffic back to the baseline.
  if (decision.reason === 'flag_on' && decision.backend !== route.backend && route.config.guard !== undefined && snap.guard.admit(route.name) === 'baseline') {
    decision = { ...decision, backend: route.backend, reason: 'guard' }
  }
  return { decision, cohort, override }
}

/** The client address as routing sees it: the peer, or what trusted proxies in front report. */
export function clientAddress (snap: Snapshot, raw: IncomingMessage): string {
  // With no trusted proxies the peer is the client; no X-Forwarded-For to parse.
  if (snap.config.client.trustedProxies.length === 0) return unmapAddress(raw.socket.remoteAddress)
  return unmapAddress(proxyAddr(raw, snap.trust))
}

/** Headers for the backend request: the client's end-to-end headers plus the proxy's own. */
export function upstreamHeadersFor (snap: Snapshot, raw: IncomingMessage, requestId: string, backend: BackendConfig, client: string): string[] {
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

function rewritePath (rawPath: string, route: Route): string {
  const rw = route.config.rewrite
  if (rw === undefined) return rawPath
  let path = rawPath
  if (rw.stripPrefix !== undefined) {
    const prefix = rw.stripPrefix.replace(/\/$/, '')
    // Validation guarantees the routing path starts with the prefix; the raw path may
    // encode it differently ("%61pi"), in which case it is forwarded unchanged.
    if (path === prefix) path = '/'
    else if (path.startsWith(prefix + '/')) path = path.slice(prefix.length)
  }
  if (rw.addPrefix !== undefined) path = rw.addPrefix.replace(/\/$/, '') + path
  return path
}

/** Counts a chunked body and fails it once it passes the route's limit. */
class BodyLimit extends Transform {
  #left: number
  constructor (limit: number) {
    super()
    this.#left = limit
  }

  override _transform (chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#left -= chunk.length
    if (this.#left < 0) cb(new ProxyError(Errors.BODY_TOO_LARGE, 'request body exceeds the limit for this route'))
    else cb(null, chunk)
  }
}

/**
 * Bytes of a request body the proxy holds before it takes a backend connection.
 * A client trickling its body (slow POST) is then cut by client.requestTimeout
 * without ever occupying the backend pool; bodies that arrive at a normal pace
 * pass this in one or two reads and stream from there.
 */
export const PREBUFFER_BYTES = 64 * 1024

function ignore (): void {}

interface Prebuffered { readonly chunks: Buffer[], readonly ended: boolean }

function prebuffer (source: Readable, max: number, signal: Cancel): Promise<Prebuffered> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const cleanup = (): void => {
      source.off('data', onData)
      source.off('end', onEnd)
      source.off('error', onError)
      signal.onAbort = undefined
    }
    const onData = (c: Buffer): void => {
      chunks.push(c)
      size += c.length
      if (size >= max) {
        cleanup()
        source.pause()
        resolve({ chunks, ended: false })
      }
    }
    const onEnd = (): void => { cleanup(); resolve({ chunks, ended: true }) }
    const onError = (err: Error): void => { cleanup(); reject(err) }
    const onAbort = (): void => { cleanup(); reject(new Error('aborted')) }
    source.on('data', onData)
    source.once('end', onEnd)
    source.once('error', onError)
    signal.onAbort = onAbort
  })
}

function detailFor (error: ProxyError | { code: string }, backend: string): string {
  switch (error.code) {
    case Errors.BACKEND_UNAVAILABLE.code: return `backend "${backend}" is not accepting connections`
    case Errors.BACKEND_CONNECT_TIMEOUT.code: return `backend "${backend}" did not accept the connection within its connect timeout`
    case Errors.BACKEND_TIMEOUT.code: return `backend "${backend}" did not send response headers within its timeout`
    case Errors.BACKEND_RESET.code: return `backend "${backend}" closed the connection before responding`
    case Errors.BACKEND_INVALID_RESPONSE.code: return `backend "${backend}" sent a response that is not valid HTTP`
    default: return `request to backend "${backend}" failed`
  }
}

/** Starts the shadow copy for routes with shadow:, returning the comparison to run when the primary's body is in. */
function startShadow (runtime: Runtime, snap: Snapshot, route: Route, primary: BackendPool, path: string, raw: IncomingMessage, requestId: string, client: string, body: Buffer | Readable | undefined, rawPath: string): ((p: Captured | undefined) => void) | undefined {
  const config = route.config.shadow
  if (config === undefined) return undefined
  const other = primary.backend.name === config.backend ? route.backend : config.backend
  const target = snap.pools.get(other)
  if (target === undefined || other === primary.backend.name) return undefined
  return runtime.shadow.start({
    route: route.name,
    config,
    requestId,
    method: raw.method as string,
    path: rawPath,
    primaryBackend: primary.backend.name,
    target,
    primary,
    upstreamPath: path,
    headers: (pool) => upstreamHeadersFor(snap, raw, requestId, pool.backend, client),
    body: body === undefined || Buffer.isBuffer(body) ? body : 'streamed'
  })
}

export function createProxyHandler (runtime: Runtime) {
  return async function proxyHandler (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const snap = runtime.snapshot
    const raw = request.raw
    const method = raw.method as string
    const state = request.spx
    if (runtime.draining) reply.header('connection', 'close')

    const target = resolve(snap, method, raw.url as string, raw.headers, raw.rawHeaders)
    if ('error' in target) {
      state.errorCode = target.error.code
      return sendProblem(reply, target.error, target.error.detail, !raw.complete)
    }
    const { route } = target
    state.route = route.name
    const chosen = chooseBackend(snap, route, raw.headers, () => (state.clientAddress ??= clientAddress(snap, raw)))
    const choice = chosen instanceof Promise ? await chosen : chosen
    const { decision } = choice
    if (choice.override.kind === 'rejected') {
      state.overrideRejected = choice.override.why
      runtime.overrideWarnings.warn(choice.override.why, { reqId: request.id, route: route.name, reason: choice.override.reason })
    }
    const pool = snap.pools.get(decision.backend)
    if (pool === undefined) throw new Error(`backend ${decision.backend} has no pool`)
    let bp: BackendPool = pool
    state.backend = decision.backend
    state.reason = decision.reason
    state.flag = decision.flag
    state.variant = decision.variant

    const cl = raw.headers['content-length']
    const chunked = raw.headers['transfer-encoding'] !== undefined
    const limit = route.config.maxBodySize
    if (cl !== undefined && Number(cl) > limit) {
      state.errorCode = Errors.BODY_TOO_LARGE.code
      return sendProblem(reply, Errors.BODY_TOO_LARGE, `request body of ${cl} bytes exceeds the limit of ${limit} bytes for this route`, true)
    }
    const hasBody = chunked || (cl !== undefined && cl !== '0')

    // A client that goes away must not keep a backend connection busy (the response's
    // close listener, set up in server.ts, aborts it).
    const abort = new Cancel()
    state.cancel = abort
    if (state.connection?.gone === true) abort.abort()
    // Node's requestTimeout does not cover a body still arriving once the request is
    // being handled, so a slow body is cut here, at the same deadline.
    let bodyTimedOut = false
    if (hasBody && snap.config.client.requestTimeout > 0) {
      const bodyDeadline = setTimeout(() => {
        if (raw.complete) return
        bodyTimedOut = true
        state.errorCode = Errors.REQUEST_TIMEOUT.code
        abort.abort()
        if (reply.raw.headersSent) raw.socket.destroy()
      }, Math.max(0, snap.config.client.requestTimeout - (performance.now() - state.start)))
      state.bodyDeadline = bodyDeadline
      raw.once('end', () => clearTimeout(bodyDeadline))
    }

    let body: Buffer | Readable | undefined
    if (hasBody) {
      const source = chunked ? raw.pipe(new BodyLimit(limit)) : raw
      if (chunked) {
        raw.once('error', (err) => source.destroy(err))
        // Errors reach whoever reads the body (prebuffer, then the dispatch); this
        // listener only keeps a late one, after the request was answered, from
        // becoming an uncaught exception.
        source.on('error', ignore)
      }
      let head: Prebuffered
      try {
        head = await prebuffer(source, PREBUFFER_BYTES, abort)
      } catch (err) {
        if (bodyTimedOut) return sendProblem(reply, Errors.REQUEST_TIMEOUT, 'the request body was not received within the time allowed', true)
        if (err instanceof ProxyError) {
          state.errorCode = err.code
          return sendProblem(reply, err, err.detail, true)
        }
        return reply.hijack()
      }
      if (head.ended) {
        body = Buffer.concat(head.chunks)
      } else {
        const rest = new PassThrough()
        for (const c of head.chunks) rest.write(c)
        pipeline(source, rest, () => {})
        body = rest
      }
    }

    // Pipelined requests reach the backend one after another, in the client's order.
    const turn = state.connection?.turn(state)
    if (turn !== undefined) {
      await turn
      if (abort.aborted) return reply.hijack()
    }

    const requestId = String(request.id)
    const client = state.clientAddress ??= clientAddress(snap, raw)
    const out = reply.raw
    let shadow: ShadowCapture | undefined
    let t0 = 0
    const events: ExchangeEvents = {
      head: (status, headers) => {
        state.upstreamMs = performance.now() - t0
        if (status < 200 || status > 599) {
          state.upstreamError = 'invalid_response'
          return new ProxyError(Errors.BACKEND_INVALID_RESPONSE, detailFor(Errors.BACKEND_INVALID_RESPONSE, bp.backend.name))
        }
        // The copy for parity goes out once the primary has answered, so the user's
        // latency never includes it.
        const compare = startShadow(runtime, snap, route, bp, target.path, raw, requestId, client, body, target.rawPath)
        if (compare !== undefined) {
          shadow = captureForShadow(compare, status, headers, (route.config.shadow as ShadowConfig).maxBodySize)
          events.data = shadow.data
        }
        // From here the backend's answer is written as is; Fastify would add a content type.
        reply.hijack()
        out.writeHead(status, responseHeadersFor(headers, requestId, !raw.complete || runtime.draining, choice.cohort?.issuedSession, snap.config.cohort.sessionCookie))
        return out
      },
      data: undefined,
      sendTimeout: snap.config.client.sendTimeout,
      done: (err) => {
        shadow?.done(err)
        if (err === undefined) return
        if (err instanceof ProxyError) {
          state.errorCode = err.code
          request.log.info({ reqId: request.id, route: route.name, backend: bp.backend.name, code: err.code }, err.detail)
        } else if (!abort.aborted) {
          const c = classifyUpstreamError(err)
          state.upstreamError = c.kind
          request.log.warn({ reqId: request.id, err, route: route.name, backend: bp.backend.name, kind: c.kind }, 'backend response failed mid-stream')
        }
        out.destroy()
      }
    }
    for (let attempt = 0; ; attempt++) {
      const path = bp.backend.basePath + target.path
      const headers = upstreamHeadersFor(snap, raw, requestId, bp.backend, client)
      t0 = performance.now()
      const err = await exchange(bp.pool, { path, method, headers, body: body ?? null }, events, abort)
      if (err === undefined) return reply
      if (bodyTimedOut) return sendProblem(reply, Errors.REQUEST_TIMEOUT, 'the request body was not received within the time allowed', true)
      if (abort.aborted) return reply.hijack()
      if (err instanceof ProxyError) {
        state.errorCode = err.code
        return sendProblem(reply, err, err.detail, !raw.complete)
      }
      const c = classifyUpstreamError(err)
      const replayable = c.beforeSend && !hasBody && RETRYABLE.has(method)
      // Nothing reached the flag-selected backend: the baseline serves instead.
      if (replayable && route.config.failover && state.reason !== 'failover' && bp.backend.name !== route.backend) {
        const baseline = snap.pools.get(route.backend)
        if (baseline !== undefined) {
          request.log.warn({ reqId: request.id, route: route.name, from: bp.backend.name, to: route.backend, kind: c.kind }, 'failover to the baseline backend')
          state.failoverFrom = { backend: bp.backend.name, kind: c.kind }
          bp = baseline
          state.backend = route.backend
          state.reason = 'failover'
          continue
        }
      }
      if (attempt === 0 && replayable) {
        state.retried = true
        continue
      }
      state.upstreamError = c.kind
      state.errorCode = c.error.code
      request.log.warn({ reqId: request.id, err, route: route.name, backend: bp.backend.name, kind: c.kind }, 'backend request failed')
      return sendProblem(reply, c.error, detailFor(c.error, bp.backend.name), !raw.complete)
    }
  }
}

interface ShadowCapture {
  readonly data: (chunk: Buffer) => void
  readonly done: (error: Error | undefined) => void
}

/** Keeps the primary's body (up to the shadow's limit) and hands it to the comparison when complete. */
function captureForShadow (compare: (p: Captured | undefined) => void, status: number, headers: IncomingHttpHeaders, max: number): ShadowCapture {
  let chunks: Buffer[] | undefined = []
  let size = 0
  return {
    data: (chunk) => {
      size += chunk.length
      if (chunks !== undefined && size <= max) chunks.push(chunk)
      else chunks = undefined
    },
    done: (error) => compare(error === undefined ? { status, headers, body: chunks === undefined ? undefined : Buffer.concat(chunks) } : undefined)
  }
}

/** The backend's response headers as the client gets them. */
function responseHeadersFor (headers: IncomingHttpHeaders, requestId: string, close: boolean, issuedSession: string | undefined, sessionCookie: Snapshot['config']['cohort']['sessionCookie']): string[] {
  const out = clientResponseHeaders(headers)
  if (!hasName(out, 'x-request-id')) out.push('x-request-id', requestId)
  if (close) out.push('connection', 'close')
  if (issuedSession !== undefined && sessionCookie !== undefined) out.push('set-cookie', serializeCookie(sessionCookie.name, issuedSession, sessionCookie))
  return out
}

function hasName (list: readonly string[], name: string): boolean {
  for (let i = 0; i < list.length; i += 2) if (list[i] === name) return true
  return false
}
