/**
 * The Unleash admin calls the proxy makes, with an admin token (UNLEASH_ADMIN_TOKEN,
 * never the client token): switching a flag off (the rollback guard) and reading and
 * changing a flag's strategies in one environment (ramp plans).
 */
import { request } from 'undici'
import type { FlagsConfig } from '../config/config.js'

type UnleashConfig = NonNullable<FlagsConfig['unleash']>

export interface UnleashAdmin {
  /** flags.unleash.url, e.g. http://unleash:4242/api */
  readonly url: string
  readonly project: string
  readonly environment: string
  readonly token: string
}

export interface DisableFlag extends UnleashAdmin {
  readonly flag: string
}

export interface AdminStrategy {
  readonly id: string
  readonly name: string
  readonly title?: string
  readonly disabled?: boolean
  readonly parameters?: Record<string, string>
  readonly constraints?: unknown[]
  readonly segments?: number[]
  readonly variants?: unknown[]
}

/** The admin API of flags.unleash (UNLEASH_URL over its url); undefined without UNLEASH_ADMIN_TOKEN. */
export function unleashAdmin (u: UnleashConfig, env: Readonly<Record<string, string | undefined>>): UnleashAdmin | undefined {
  const token = env.UNLEASH_ADMIN_TOKEN
  if (token === undefined || token === '') return undefined
  return { url: env.UNLEASH_URL ?? u.url, project: u.projectName ?? 'default', environment: u.environment, token }
}

/** /admin/projects/P/features/F/environments/E plus `rest`, under the API base. */
function environmentPath (a: UnleashAdmin, flag: string, rest: string): string {
  return `${a.url.replace(/\/+$/, '')}/admin/projects/${encodeURIComponent(a.project)}/features/${encodeURIComponent(flag)}/environments/${encodeURIComponent(a.environment)}${rest}`
}

/**
 * Who made the latest change to `flag` in this environment, as Unleash's event API
 * names them (GET /api/admin/events/:feature, newest first); undefined when it names no one.
 */
export async function flagEditor (a: UnleashAdmin, flag: string): Promise<string | undefined> {
  const body = await call(a, 'GET', `${a.url.replace(/\/+$/, '')}/admin/events/${encodeURIComponent(flag)}`) as { events?: Array<{ createdBy?: unknown, environment?: unknown, createdAt?: unknown }> } | undefined
  const events = (body?.events ?? []).filter((e) => e.environment === undefined || e.environment === null || e.environment === a.environment)
  const latest = events.sort((x, y) => Date.parse(String(y.createdAt)) - Date.parse(String(x.createdAt)))[0]
  return typeof latest?.createdBy === 'string' && latest.createdBy !== '' ? latest.createdBy : undefined
}

async function call (a: UnleashAdmin, method: 'GET' | 'POST' | 'PUT', url: string, body?: unknown): Promise<unknown> {
  const res = await request(url, {
    method,
    headers: { authorization: a.token, accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    headersTimeout: 5000,
    bodyTimeout: 5000
  })
  const text = await res.body.text()
  if (res.statusCode >= 300) throw new Error(`${method} ${new URL(url).pathname} → ${res.statusCode}: ${text.slice(0, 200)}`)
  return text === '' || !(res.headers['content-type'] ?? '').includes('json') ? undefined : JSON.parse(text)
}

export async function disableFlagInUnleash (d: DisableFlag): Promise<void> {
  await call(d, 'POST', environmentPath(d, d.flag, '/off'))
}

export async function flagStrategies (a: UnleashAdmin, flag: string): Promise<AdminStrategy[]> {
  return await call(a, 'GET', environmentPath(a, flag, '/strategies')) as AdminStrategy[]
}

/** Replaces one strategy (its id stays) with `next`. */
export async function updateStrategy (a: UnleashAdmin, flag: string, id: string, next: Omit<AdminStrategy, 'id'>): Promise<void> {
  await call(a, 'PUT', environmentPath(a, flag, `/strategies/${encodeURIComponent(id)}`), next)
}
