/**
 * A request → the Unleash context its flags are evaluated with: userId, sessionId
 * and properties from the configured headers, cookies or verified JWT claims;
 * remoteAddress from the client IP as the trusted proxies report it. Anonymous
 * visitors (no user id, no session) get a proxy-issued session id, so percentage
 * rollouts stay sticky for them too.
 */
import { randomUUID } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import type { JWTPayload } from 'jose'
import type { CohortConfig, ValueSource } from '../config/config.js'
import type { Context } from '../flags/unleash-internals.js'
import type { JwtVerifier } from './jwt.js'
import { readCookie } from '../routing/cookies.js'

export interface Cohort {
  readonly context: Context
  /** A session id the proxy made up for this visitor; the response sets it as a cookie. */
  readonly issuedSession: string | undefined
  /** Where each context value came from, for explain. */
  readonly from: Readonly<Record<string, string>>
}

function describe (s: ValueSource): string {
  return 'header' in s ? `header ${s.header}` : 'cookie' in s ? `cookie ${s.cookie}` : 'jwt' in s ? `jwt claim ${s.jwt}` : `identity ${s.identity}`
}

function pick (sources: readonly ValueSource[], headers: IncomingHttpHeaders, claims: JWTPayload | undefined, identity: Readonly<Record<string, unknown>> | undefined): [string, string] | undefined {
  for (const s of sources) {
    let value: unknown
    if ('header' in s) {
      const h = headers[s.header]
      value = Array.isArray(h) ? h[0] : h
    } else if ('cookie' in s) {
      value = readCookie(headers.cookie, s.cookie)
    } else if ('jwt' in s) {
      value = claims?.[s.jwt]
    } else {
      value = identity?.[s.identity]
    }
    if ((typeof value === 'string' && value !== '') || typeof value === 'number') return [String(value), describe(s)]
  }
  return undefined
}

export interface CohortInput {
  readonly headers: IncomingHttpHeaders
  /** The client address: the socket peer, or what trusted proxies say it is. */
  readonly clientIp: string
  /** The user legacy signed in, as the identity bridge resolved it (identity/); undefined when anonymous or not bridged. */
  readonly identity?: Readonly<Record<string, unknown>> | undefined
}

/** Async only when a JWT has to be verified (not remembered); the common case stays off the microtask queue. */
export function buildCohort (config: CohortConfig, input: CohortInput, jwt: JwtVerifier | undefined): Cohort | Promise<Cohort> {
  if (jwt === undefined) return cohortFrom(config, input, undefined)
  const claims = jwt.claims(input.headers)
  return claims instanceof Promise ? claims.then((c) => cohortFrom(config, input, c)) : cohortFrom(config, input, claims)
}

function cohortFrom (config: CohortConfig, input: CohortInput, claims: JWTPayload | undefined): Cohort {
  const { headers } = input
  const from: Record<string, string> = { remoteAddress: 'client address' }
  const context: Context = { remoteAddress: input.clientIp, properties: {} }
  const user = pick(config.userId, headers, claims, input.identity)
  if (user !== undefined) {
    context.userId = user[0]
    from.userId = user[1]
  }
  let issuedSession: string | undefined
  const cookie = config.sessionCookie
  const session = pick(config.sessionId, headers, claims, input.identity) ?? (cookie === undefined ? undefined : pick([{ cookie: cookie.name }], headers, claims, input.identity))
  if (session !== undefined) {
    context.sessionId = session[0]
    from.sessionId = session[1]
  } else if (cookie !== undefined && user === undefined) {
    issuedSession = randomUUID()
    context.sessionId = issuedSession
    from.sessionId = `new ${cookie.name} cookie`
  }
  for (const name in config.properties) {
    const v = pick(config.properties[name] as readonly ValueSource[], headers, claims, input.identity)
    if (v !== undefined) {
      (context.properties as Record<string, string>)[name] = v[0]
      from[name] = v[1]
    }
  }
  return { context, issuedSession, from }
}
