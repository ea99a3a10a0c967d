/** Writes client-features-style flags into a real Unleash through its admin API. */
import { request } from 'undici'
import { CLIENT_TOKEN, type UnleashServer } from './unleash-server.js'
import type { Feature } from './flags.js'
import { poll } from './poll.js'

const ENV = 'development'

export async function ensureContextField (u: UnleashServer, name: string): Promise<void> {
  try {
    await u.admin('POST', '/context', { name, stickiness: false })
  } catch (err) {
    if (!/409|already exists/.test((err as Error).message)) throw err
  }
}

export async function putFeature (u: UnleashServer, f: Feature, env = ENV): Promise<void> {
  const base = `/projects/default/features/${encodeURIComponent(f.name)}`
  try {
    await u.admin('POST', '/projects/default/features', { name: f.name, type: 'release' })
  } catch (err) {
    if (!/409|already exists/.test((err as Error).message)) throw err
  }
  const existing = await u.admin('GET', `${base}/environments/${env}/strategies`) as Array<{ id: string }>
  for (const s of existing) await u.admin('DELETE', `${base}/environments/${env}/strategies/${s.id}`)
  for (const s of f.strategies) {
    await u.admin('POST', `${base}/environments/${env}/strategies`, { name: s.name, parameters: s.parameters ?? {}, constraints: s.constraints ?? [], variants: s.variants ?? [] })
  }
  if (f.variants !== undefined) {
    await u.admin('PUT', `${base}/environments/${env}/variants`, f.variants.map((v) => ({ weightType: 'variable', stickiness: 'default', ...v })))
  }
  await u.admin('POST', `${base}/environments/${env}/${f.enabled ? 'on' : 'off'}`)
  if (env === ENV) await untilServed(u, f.name, f.enabled, f.strategies)
}

/** Waits until the client API serves the flag as written, so a proxy started next sees it at once. */
export async function untilServed (u: UnleashServer, name: string, enabled: boolean, strategies?: Feature['strategies']): Promise<void> {
  const shape = (list: Array<{ parameters?: Record<string, string> }>): string => JSON.stringify(list.map((s) => Object.entries(s.parameters ?? {}).sort()))
  const want = strategies === undefined ? undefined : shape(strategies)
  type Served = { name: string, enabled: boolean, strategies: Array<{ parameters?: Record<string, string> }> }
  const matches = (f: Served | undefined): boolean => f?.enabled === enabled && (want === undefined || shape(f.strategies) === want)
  // The list SDKs poll, as they see it.
  const read = async (): Promise<{ text: string, served: Served | undefined }> => {
    const res = await request(`${u.url}/client/features`, { headers: { authorization: CLIENT_TOKEN } })
    const text = await res.body.text()
    return { text, served: res.statusCode === 200 ? (JSON.parse(text) as { features: Served[] }).features.find((x) => x.name === name) : undefined }
  }
  const last = await poll(read, (r) => matches(r.served), 15_000)
  if (matches(last.served)) return
  throw new Error(`Unleash did not serve ${name} as written within 15 s; last answer: ${last.text.slice(0, 2000)}`)
}

/** The id of the flag's first strategy in the environment (for rollout changes). */
export async function firstStrategyId (u: UnleashServer, flag: string): Promise<string> {
  const list = await u.admin('GET', `/projects/default/features/${encodeURIComponent(flag)}/environments/${ENV}/strategies`) as Array<{ id: string }>
  return (list[0] as { id: string }).id
}

/**
 * Unleash keeps client metrics only for flags it knows, from a list it refreshes every
 * 10 s: on a server the other tests share, a flag just made may not be on it yet. A
 * probe's count, under an app name of its own, says when it is.
 */
export async function untilMetricsAccepted (u: UnleashServer, flag: string): Promise<void> {
  const probe = 'spx-metrics-probe'
  const accepted = async (): Promise<boolean> => {
    const now = new Date().toISOString()
    const res = await request(`${u.url}/client/metrics`, { method: 'POST', headers: { authorization: CLIENT_TOKEN, 'content-type': 'application/json' }, body: JSON.stringify({ appName: probe, instanceId: probe, bucket: { start: now, stop: now, toggles: { [flag]: { yes: 1, no: 0 } } } }) })
    await res.body.dump()
    const body = await u.admin('GET', `/client-metrics/features/${encodeURIComponent(flag)}/raw`) as { data: Array<{ appName: string }> }
    return body.data.some((r) => r.appName === probe)
  }
  if (await poll(accepted, (ok) => ok, 30_000, 500)) return
  throw new Error(`Unleash did not accept metrics of ${flag} within 30 s`)
}
