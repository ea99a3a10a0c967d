/**
 * A plan's HTTP checks (gates.checks): smoke tests called when every other gate has
 * passed, before the step is judged passed. With `as: next-cohort` the call carries a
 * tester override for the route's new backend, so a check sent through the proxy
 * reaches it as the next step's users will. A check that fails, times out or cannot
 * connect fails the step, with its answer in the reason.
 */
import { request } from 'undici'
import type { HttpCheck } from '../config/config.js'
import type { GateResult } from './gates.js'
import { overrideToken } from '../decision/override.js'

/** What a check needs of the route: where it sends a next-cohort user, and that user's override. */
export interface CheckContext {
  readonly route: string
  readonly candidate: string
  /** The override header and a token for the candidate on this route; undefined without STRANGLER_OVERRIDE_SECRET. */
  readonly override: (backend: string, route: string) => { readonly header: string, readonly token: string } | undefined
}

const FIRST_BYTES = 200

/** "$.order.lines[0].sku" → the value there, or undefined. */
export function atPath (value: unknown, path: string): unknown {
  let at = value
  for (const step of path.slice(1).match(/\.[^.[]+|\[\d+\]/g) ?? []) {
    if (at === null || typeof at !== 'object') return undefined
    at = step.startsWith('[') ? (at as unknown[])[Number(step.slice(1, -1))] : (at as Record<string, unknown>)[step.slice(1)]
  }
  return at
}

/** Why the answer is not what the check expects, or undefined. */
export function unexpected (c: HttpCheck, status: number, body: string): string | undefined {
  const statusOk = c.expect.status.length === 0 ? status >= 200 && status < 300 : c.expect.status.includes(status)
  if (!statusOk) return `status ${status}, expected ${c.expect.status.length === 0 ? '2xx' : c.expect.status.join(' or ')}`
  if (c.expect.bodyContains !== undefined && !body.includes(c.expect.bodyContains)) return `the body does not contain "${c.expect.bodyContains}"`
  const paths = Object.entries(c.expect.json)
  if (paths.length === 0) return undefined
  let json: unknown
  try {
    json = JSON.parse(body)
  } catch {
    return 'the body is not JSON'
  }
  for (const [path, want] of paths) {
    const got = atPath(json, path)
    if (JSON.stringify(got) !== JSON.stringify(want)) return `${path} is ${JSON.stringify(got) ?? 'missing'}, expected ${JSON.stringify(want)}`
  }
  return undefined
}

async function runOne (c: HttpCheck, ctx: CheckContext): Promise<GateResult> {
  const headers: Record<string, string> = { ...c.headers }
  if (c.as === 'next-cohort') {
    const o = ctx.override(ctx.candidate, ctx.route)
    if (o === undefined) return { gate: 'check', name: c.name, pass: false, value: undefined, limit: 0, detail: `${c.name}: as: next-cohort needs STRANGLER_OVERRIDE_SECRET to reach ${ctx.candidate}` }
    headers[o.header] = o.token
  }
  const started = Date.now()
  try {
    const res = await request(c.url, { method: c.method as 'GET', headers, headersTimeout: c.timeout, bodyTimeout: c.timeout, signal: AbortSignal.timeout(c.timeout) })
    const body = await res.body.text()
    const why = unexpected(c, res.statusCode, body)
    const answer = `${res.statusCode} in ${Date.now() - started} ms`
    return why === undefined
      ? { gate: 'check', name: c.name, pass: true, value: res.statusCode, limit: 0, detail: `${c.name}: ${answer}` }
      : { gate: 'check', name: c.name, pass: false, value: res.statusCode, limit: 0, detail: `${c.name}: ${why} (${answer}: ${JSON.stringify(body.slice(0, FIRST_BYTES))})` }
  } catch (err) {
    const e = err as Error
    const why = e.name === 'TimeoutError' || e.name === 'AbortError' ? `no answer within ${c.timeout} ms` : e.message
    return { gate: 'check', name: c.name, pass: false, value: undefined, limit: 0, detail: `${c.name}: ${why}` }
  }
}

export async function runChecks (checks: readonly HttpCheck[], ctx: CheckContext): Promise<GateResult[]> {
  return await Promise.all(checks.map(async (c) => await runOne(c, ctx)))
}

/** The driver's checks: `secret` is STRANGLER_OVERRIDE_SECRET (undefined: no next-cohort checks), `header` the override header. */
export function checkRunner (secret: string | undefined, header: () => string): (ramp: { readonly plan: { readonly gates: { readonly checks: readonly HttpCheck[] } }, readonly sides: { readonly route: string, readonly candidate: string } }, when: HttpCheck['when']) => Promise<GateResult[]> {
  // Five minutes: long enough for one round of checks, short enough to be worthless afterwards.
  const token = (backend: string, route: string): string => overrideToken(secret as string, backend, Math.floor(Date.now() / 1000) + 300, route)
  return async (ramp, when) => await runChecks(ramp.plan.gates.checks.filter((c) => c.when === when), {
    route: ramp.sides.route,
    candidate: ramp.sides.candidate,
    override: (backend, route) => secret === undefined ? undefined : { header: header(), token: token(backend, route) }
  })
}
