/**
 * The catch-all traffic handler, as its steps: receive (the request's state and
 * trace), match (resolve.ts: route and path), decide (choose.ts: backend, with the
 * guard's diversion), take the body (intake.ts), forward (exchange.ts on undici's
 * dispatch API, with retry and failover as retry.ts says). Every ending, answered or
 * not, is recorded once in server.ts's `record` when the response closes. Works on
 * one snapshot of the route table from start to finish.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import type { ShadowConfig } from '../config/config.js'
import type { BackendPool } from './pools.js'
import type { ProxyRuntime, ProxySnapshot } from './scope.js'
import type { ResolvedTarget } from '../routing/resolve.js'
import type { Route } from '../routing/table.js'
import { Errors, ProxyError, type ErrorDef } from '../errors.js'
import { respondProblem } from '../problem.js'
import { classifyUpstreamError } from './upstream-errors.js'
import { exchange, type ExchangeEvents } from './exchange.js'
import { resolve } from '../routing/resolve.js'
import { chooseBackend, type Choice } from '../decision/choose.js'
import { setHeader } from '../observe/tracing.js'
import { clientAddress } from '../decision/client-address.js'
import { upstreamHeadersFor } from './forward-headers.js'
import { nextStep } from './retry.js'
import { afterFailedIdentity, identityFor, shadowIdentityFor } from './identity-step.js'
import { Declined, declines, replayable } from './decline.js'
import type { Resolved } from '../identity/bridge.js'
import type { RequestState } from './request-state.js'
import { admit, readBody, BODY_TIMEOUT_DETAIL, type Intake } from './intake.js'
import { PREBUFFER_BYTES } from './request-body.js'
import { captureForShadow, detailFor, responseHeadersFor, retireHeaders, type ShadowCapture } from './response.js'
import { legacyBackends } from '../config/roles.js'

/** One request on its way through: what every step reads. */
interface Inbound {
  readonly runtime: ProxyRuntime
  readonly log: Logger
  readonly snap: ProxySnapshot
  readonly res: ServerResponse
  readonly raw: IncomingMessage
  readonly method: string
  readonly state: RequestState
}

/** Answers the request with a problem; undefined, for the step that stops there. */
function problem (i: Inbound, error: ErrorDef, detail: string, closeConnection: boolean): undefined {
  respondProblem(i.res, i.state.id, error, detail, closeConnection || i.runtime.draining)
  return undefined
}

export function createProxyHandler (runtime: ProxyRuntime, log: Logger) {
  return async function proxyHandler (state: RequestState, raw: IncomingMessage, res: ServerResponse): Promise<void> {
    const i = receive(runtime, log, state, raw, res)
    const target = match(i)
    if (target === undefined) return
    const who = identityFor(i.snap, target.route, i.raw.headers)
    const identity = who instanceof Promise ? await traced(i, who) : who
    const chosen = chooseBackend(i.snap, target.route, i.raw.headers, () => (i.state.clientAddress ??= clientAddress(i.snap, i.raw)), identity?.kind === 'user' ? identity.claims : undefined)
    const choice = decided(i, target.route, withIdentity(i, target.route, chosen instanceof Promise ? await chosen : chosen, identity))
    if (choice === undefined) return
    const signed = identity?.kind === 'user' && i.snap.identity?.config.token.backends.has(choice.decision.backend) === true ? i.snap.identity.token(identity, choice.decision.backend) : undefined
    i.state.identity = signed === undefined ? undefined : { backend: choice.decision.backend, token: signed instanceof Promise ? await signed : signed }
    const copy = shadowIdentityFor(i.snap, target.route, choice.decision.backend, identity)
    i.state.shadowIdentity = copy === undefined ? undefined : { backend: copy.backend, token: copy.token instanceof Promise ? await copy.token : copy.token }
    const intake = admit(i.raw, i.state, target.route.config.maxBodySize, i.snap.config.client.requestTimeout)
    if (intake === undefined) return
    if (intake.hasBody && !(await readBody(i.raw, i.state, intake, holdFor(target.route)))) return
    // Pipelined requests reach the backend one after another, in the client's order.
    const turn = i.state.connection?.turn(i.state)
    if (turn !== undefined) {
      await turn
      if (intake.abort.aborted) return
    }
    await forward(i, target, choice, intake)
  }
}

/** How much of a request body is held before it is sent: all of it (up to decline.maxBodySize) where a decline may replay it. */
function holdFor (route: Route): number {
  const d = route.config.decline
  return d === undefined ? PREBUFFER_BYTES : Math.max(PREBUFFER_BYTES, d.maxBodySize + 1)
}

function receive (runtime: ProxyRuntime, log: Logger, state: RequestState, raw: IncomingMessage, res: ServerResponse): Inbound {
  const method = raw.method as string
  const tracing = runtime.tracing
  if (tracing !== undefined) state.trace = tracing.start(method, raw.headers, raw.url as string)
  return { runtime, log, snap: runtime.snapshot, res, raw, method, state }
}

/** The route and the path the backend receives; undefined when the request was refused. */
function match (i: Inbound): ResolvedTarget | undefined {
  const target = resolve(i.snap, i.method, i.raw.url as string, i.raw.headers, i.raw.rawHeaders)
  if ('error' in target) {
    i.state.errorCode = target.error.code
    return problem(i, target.error, target.error.detail, !i.raw.complete)
  }
  i.state.route = target.route.name
  return target
}

/** A lookup legacy is asked (not a cached answer) as a span of the request's trace. */
async function traced (i: Inbound, lookup: Promise<Resolved>): Promise<Resolved> {
  const span = i.state.trace?.identity(i.snap.config.identity?.resolve.url ?? '')
  const resolved = await lookup
  span?.end(undefined, resolved.kind === 'failed' ? 'identity_unavailable' : undefined)
  return resolved
}

/** The choice after the identity lookup: unchanged, served from the baseline, or refused (503, undefined). */
function withIdentity (i: Inbound, route: Route, choice: Choice, identity: Resolved | undefined): Choice | undefined {
  if (identity?.kind !== 'failed') return choice
  const after = afterFailedIdentity(i.snap, route, choice)
  if (after !== choice) i.log.warn({ reqId: i.state.id, route: route.name, error: identity.error, onFailure: after === undefined ? 'deny' : 'legacy' }, 'identity lookup failed')
  if (after === undefined) {
    i.state.errorCode = Errors.IDENTITY_UNAVAILABLE.code
    problem(i, Errors.IDENTITY_UNAVAILABLE, `who is signed in could not be asked of ${i.snap.config.identity?.resolve.url ?? 'legacy'} (${identity.error}); this route needs it`, !i.raw.complete)
  }
  return after
}

/** The choice written into the request's state, its trace and (for a refused override) the log. */
function decided (i: Inbound, route: Route, choice: Choice | undefined): Choice | undefined {
  if (choice === undefined) return undefined
  const { decision } = choice
  const state = i.state
  if (choice.override.kind === 'rejected') {
    state.overrideRejected = choice.override.why
    i.runtime.overrideWarnings.warn(choice.override.why, { reqId: i.state.id, route: route.name, reason: choice.override.reason })
  }
  state.backend = decision.backend
  state.reason = decision.reason
  state.flag = decision.flag
  state.variant = decision.variant
  const cohort = choice.cohort
  if (cohort !== undefined && cohort.issuedSession === undefined) state.user = cohort.context.userId ?? cohort.context.sessionId
  state.trace?.route(route.name, { backend: decision.backend, reason: decision.reason, flag: decision.flag, variant: decision.variant, guard: decision.reason === 'guard' ? 'open' : undefined })
  return choice
}

/** One attempt's context: the backend it goes to, and when it went. */
interface Attempt {
  bp: BackendPool
  t0: number
  answered: number | undefined
  shadow: ShadowCapture | undefined
}

/** Sends the request, and again to the baseline or the same backend where retry.ts allows. */
async function forward (i: Inbound, target: ResolvedTarget, choice: Choice, intake: Intake): Promise<void> {
  const pool = i.snap.pools.get(choice.decision.backend)
  if (pool === undefined) throw new Error(`backend ${choice.decision.backend} has no pool`)
  const requestId = i.state.id
  const client = i.state.clientAddress ??= clientAddress(i.snap, i.raw)
  const a: Attempt = { bp: pool, t0: 0, answered: undefined, shadow: undefined }
  const events = responseEvents(i, target, choice, intake, a, client)
  for (let attempt = 0; ; attempt++) {
    const path = a.bp.backend.basePath + target.path
    const headers = upstreamHeadersFor(i.snap, i.raw, requestId, a.bp.backend, client, i.state.identity)
    const span = i.state.trace?.attempt(a.bp.backend.name, i.method, a.bp.backend.origin + path, attempt)
    if (span !== undefined) setHeader(headers, 'traceparent', span.traceparent)
    a.t0 = performance.now()
    a.answered = undefined
    i.state.upstreamStatus = undefined
    const err = await exchange(a.bp.pool, { path, method: i.method, headers, body: intake.body ?? null }, events, intake.abort)
    span?.end(a.answered, err === undefined ? undefined : err instanceof ProxyError ? err.code : classifyUpstreamError(err).kind)
    if (err === undefined) return
    if (afterFailure(i, target.route, intake, a, attempt, err) !== 'again') return
  }
}

/** After a failed attempt: 'again' (failover or retry, `a` updated), or undefined once answered. */
function afterFailure (i: Inbound, route: Route, intake: Intake, a: Attempt, attempt: number, err: Error): 'again' | undefined {
  const { state, raw } = i
  if (intake.timedOut) return problem(i, Errors.REQUEST_TIMEOUT, BODY_TIMEOUT_DETAIL, true)
  if (intake.abort.aborted) return undefined
  if (err instanceof Declined) return declined(i, route, intake, a, err)
  if (err instanceof ProxyError) {
    state.errorCode = err.code
    return problem(i, err, err.detail, !raw.complete)
  }
  const failure = classifyUpstreamError(err)
  const step = nextStep({ method: i.method, hasBody: intake.hasBody, beforeSend: failure.beforeSend, attempt, backend: a.bp.backend.name, baseline: route.backend, failover: route.config.failover, failedOver: state.reason === 'failover' })
  // Nothing reached the flag-selected backend: the baseline serves instead.
  const baseline = step.kind === 'failover' ? i.snap.pools.get(step.to) : undefined
  if (baseline !== undefined) {
    i.log.warn({ reqId: i.state.id, route: route.name, from: a.bp.backend.name, to: route.backend, kind: failure.kind }, 'failover to the baseline backend')
    state.failoverFrom = { backend: a.bp.backend.name, kind: failure.kind }
    a.bp = baseline
    state.backend = route.backend
    state.reason = 'failover'
    return 'again'
  }
  if (step.kind === 'retry') {
    state.retried = true
    return 'again'
  }
  state.upstreamError = failure.kind
  state.errorCode = failure.error.code
  i.log.warn({ reqId: i.state.id, err, route: route.name, backend: a.bp.backend.name, kind: failure.kind }, 'backend request failed')
  return problem(i, failure.error, detailFor(failure.error, a.bp.backend.name), !raw.complete)
}

/** The new backend declined: the baseline serves the same request, or (a streamed body) a 502. */
function declined (i: Inbound, route: Route, intake: Intake, a: Attempt, err: Declined): 'again' | undefined {
  const baseline = i.snap.pools.get(route.backend)
  i.state.declinedFrom = err.backend
  if (baseline === undefined || !replayable(intake.body)) {
    i.state.errorCode = Errors.DECLINE_NOT_REPLAYABLE.code
    return problem(i, Errors.DECLINE_NOT_REPLAYABLE, `backend "${err.backend}" declined the request (${err.answered}), and its body was larger than decline.maxBodySize, so it streamed and cannot be sent to "${route.backend}" again`, !i.raw.complete)
  }
  i.log.info({ reqId: i.state.id, route: route.name, from: err.backend, to: route.backend, status: err.answered }, 'declined by the new backend; replayed to the baseline')
  i.state.upstreamStatus = undefined
  a.bp = baseline
  i.state.backend = route.backend
  i.state.reason = 'declined'
  return 'again'
}

/** What happens as the backend answers: the head relayed (and a shadow copy started), the end noted. */
function responseEvents (i: Inbound, target: ResolvedTarget, choice: Choice, intake: Intake, a: Attempt, client: string): ExchangeEvents {
  const { state, raw, snap } = i
  const route = target.route
  const requestId = i.state.id
  const out = i.res
  const events: ExchangeEvents = {
    head: (status, headers) => {
      a.answered = status
      if (declines(route, a.bp.backend.name, status, headers)) return new Declined(a.bp.backend.name, status)
      // Timed from the request fully sent: a client's slow upload is not the backend's latency.
      const now = performance.now()
      const sent = state.bodyEnd !== undefined && state.bodyEnd > a.t0 && state.bodyEnd <= now ? state.bodyEnd : a.t0
      state.upstreamMs = now - sent
      if (status < 200 || status > 599) {
        state.upstreamError = 'invalid_response'
        return new ProxyError(Errors.BACKEND_INVALID_RESPONSE, detailFor(Errors.BACKEND_INVALID_RESPONSE, a.bp.backend.name))
      }
      state.upstreamStatus = status
      // The copy for parity goes out once the primary has answered, so the user's
      // latency never includes it.
      const compare = route.config.shadow === undefined
        ? undefined
        : i.runtime.startShadow({ snap, route, primary: a.bp, upstreamPath: target.path, rawPath: target.rawPath, method: i.method, requestId, who: state.user ?? client, body: intake.body, context: choice.cohort?.context, trace: state.trace, headers: (pool) => upstreamHeadersFor(snap, raw, requestId, pool.backend, client, state.shadowIdentity) })
      if (compare !== undefined) {
        a.shadow = captureForShadow(compare, status, headers, (route.config.shadow as ShadowConfig).maxBodySize)
        events.data = a.shadow.data
      }
      const retiring = route.config.retire !== undefined && legacyBackends(snap.config).has(a.bp.backend.name) ? retireHeaders(route.config.retire) : undefined
      out.writeHead(status, responseHeadersFor(headers, requestId, !raw.complete || i.runtime.draining, choice.cohort?.issuedSession, snap.config.cohort.sessionCookie, retiring))
      return out
    },
    data: undefined,
    sendTimeout: snap.config.client.sendTimeout,
    done: (err) => {
      a.shadow?.done(err)
      if (err === undefined) return
      if (err instanceof ProxyError) {
        state.errorCode = err.code
        i.log.info({ reqId: i.state.id, route: route.name, backend: a.bp.backend.name, code: err.code }, err.detail)
      } else if (!intake.abort.aborted) {
        state.upstreamError = classifyUpstreamError(err).kind
        i.log.warn({ reqId: i.state.id, err, route: route.name, backend: a.bp.backend.name, kind: state.upstreamError }, 'backend response failed mid-stream')
      }
      out.destroy()
    }
  }
  return events
}
