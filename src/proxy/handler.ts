/**
 * The catch-all traffic handler: resolve the route (resolve.ts), choose the backend
 * (choose.ts), hold the first body bytes (request-body.ts), forward on undici's
 * dispatch API (exchange.ts) with retry and failover as retry.ts says, and turn
 * transport failures into problem responses. Works on one snapshot of the route
 * table from start to finish.
 */
import { pipeline, PassThrough, type Readable } from 'node:stream'
import type { IncomingMessage, IncomingHttpHeaders } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { ShadowConfig } from '../config/config.js'
import type { BackendPool } from './pools.js'
import type { Captured } from '../safety/collect.js'
import type { Runtime, Snapshot } from '../lifecycle/runtime.js'
import type { Route } from '../routing/table.js'
import { Errors, ProxyError } from '../errors.js'
import { sendProblem } from '../problem.js'
import { clientResponseHeaders } from './headers.js'
import { classifyUpstreamError } from './upstream-errors.js'
import { serializeCookie } from '../decision/cookies.js'
import { exchange, Cancel, type ExchangeEvents } from './exchange.js'
import { resolve } from '../routing/resolve.js'
import { chooseBackend } from '../decision/choose.js'
import { rolloutBucket, rolloutOf } from '../flags/rollout.js'
import { setHeader, type RequestTrace } from '../observe/tracing.js'
import type { Context, FeatureInterface } from '../flags/unleash-internals.js'
import { clientAddress } from '../decision/client-address.js'
import { upstreamHeadersFor } from './forward-headers.js'
import { BodyLimit, prebuffer, PREBUFFER_BYTES, type Prebuffered } from './request-body.js'
import { nextStep } from './retry.js'

function ignore (): void {}

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
function startShadow (runtime: Runtime, snap: Snapshot, route: Route, primary: BackendPool, path: string, raw: IncomingMessage, requestId: string, client: string, who: string, body: Buffer | Readable | undefined, rawPath: string, context: Context | undefined, trace: RequestTrace | undefined): ((p: Captured | undefined) => void) | undefined {
  const config = route.config.shadow
  if (config === undefined) return undefined
  // While a ramp holds a step, copies come from the cohort that moves next only.
  if (route.config.ramp !== undefined && !inNextCohort(snap, route, context)) return undefined
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
    body: body === undefined || Buffer.isBuffer(body) ? body : 'streamed',
    who,
    ...(trace === undefined ? {} : { trace: (url: string) => trace.shadow(other, raw.method as string, url) })
  })
}

/**
 * The next cohort of a ramp: users whose bucket lies above the rollout this proxy
 * serves and at most the plan's next step. Read from the flag itself, so every
 * replica agrees whichever process drives the ramp.
 */
function inNextCohort (snap: Snapshot, route: Route, context: Context | undefined): boolean {
  const feature = route.config.flag === undefined ? undefined : snap.flags?.definition(route.config.flag.name)
  const low = feature === undefined ? undefined : rolloutOf(feature)
  const high = low === undefined ? undefined : route.config.ramp?.steps.find((s) => s > low)
  const bucket = high === undefined || context === undefined ? undefined : rolloutBucket(feature as FeatureInterface, context)
  return bucket !== undefined && bucket > (low as number) && bucket <= (high as number)
}

export function createProxyHandler (runtime: Runtime) {
  return async function proxyHandler (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const snap = runtime.snapshot
    const raw = request.raw
    const method = raw.method as string
    const state = request.spx
    if (runtime.draining) reply.header('connection', 'close')
    const tracing = runtime.tracing
    if (tracing !== undefined) state.trace = tracing.start(method, raw.headers, raw.url as string)

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
    const cohort = choice.cohort
    if (cohort !== undefined && cohort.issuedSession === undefined) state.user = cohort.context.userId ?? cohort.context.sessionId
    state.trace?.route(route.name, { backend: decision.backend, reason: decision.reason, flag: decision.flag, variant: decision.variant, guard: decision.reason === 'guard' ? 'open' : undefined })

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
      raw.once('end', () => { state.bodyEnd = performance.now() })
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
    let answered: number | undefined
    const events: ExchangeEvents = {
      head: (status, headers) => {
        answered = status
        // Timed from the request fully sent: a client's slow upload is not the backend's latency.
        const now = performance.now()
        const sent = state.bodyEnd !== undefined && state.bodyEnd > t0 && state.bodyEnd <= now ? state.bodyEnd : t0
        state.upstreamMs = now - sent
        if (status < 200 || status > 599) {
          state.upstreamError = 'invalid_response'
          return new ProxyError(Errors.BACKEND_INVALID_RESPONSE, detailFor(Errors.BACKEND_INVALID_RESPONSE, bp.backend.name))
        }
        state.upstreamStatus = status
        // The copy for parity goes out once the primary has answered, so the user's
        // latency never includes it.
        const compare = startShadow(runtime, snap, route, bp, target.path, raw, requestId, client, state.user ?? client, body, target.rawPath, choice.cohort?.context, state.trace)
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
      const span = state.trace?.attempt(bp.backend.name, method, bp.backend.origin + path, attempt)
      if (span !== undefined) setHeader(headers, 'traceparent', span.traceparent)
      t0 = performance.now()
      answered = undefined
      state.upstreamStatus = undefined
      const err = await exchange(bp.pool, { path, method, headers, body: body ?? null }, events, abort)
      span?.end(answered, err === undefined ? undefined : err instanceof ProxyError ? err.code : classifyUpstreamError(err).kind)
      if (err === undefined) return reply
      if (bodyTimedOut) return sendProblem(reply, Errors.REQUEST_TIMEOUT, 'the request body was not received within the time allowed', true)
      if (abort.aborted) return reply.hijack()
      if (err instanceof ProxyError) {
        state.errorCode = err.code
        return sendProblem(reply, err, err.detail, !raw.complete)
      }
      const failure = classifyUpstreamError(err)
      const step = nextStep({
        method,
        hasBody,
        beforeSend: failure.beforeSend,
        attempt,
        backend: bp.backend.name,
        baseline: route.backend,
        failover: route.config.failover,
        failedOver: state.reason === 'failover'
      })
      // Nothing reached the flag-selected backend: the baseline serves instead.
      const baseline = step.kind === 'failover' ? snap.pools.get(step.to) : undefined
      if (baseline !== undefined) {
        request.log.warn({ reqId: request.id, route: route.name, from: bp.backend.name, to: route.backend, kind: failure.kind }, 'failover to the baseline backend')
        state.failoverFrom = { backend: bp.backend.name, kind: failure.kind }
        bp = baseline
        state.backend = route.backend
        state.reason = 'failover'
        continue
      }
      if (step.kind === 'retry') {
        state.retried = true
        continue
      }
      state.upstreamError = failure.kind
      state.errorCode = failure.error.code
      request.log.warn({ reqId: request.id, err, route: route.name, backend: bp.backend.name, kind: failure.kind }, 'backend request failed')
      return sendProblem(reply, failure.error, detailFor(failure.error, bp.backend.name), !raw.complete)
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
