/** Writes client-features-style flags into a real Unleash through its admin API. */
import type { UnleashServer } from './unleash-server.js'
import type { Feature } from './flags.js'

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
}

/** The id of the flag's first strategy in the environment (for rollout changes). */
export async function firstStrategyId (u: UnleashServer, flag: string): Promise<string> {
  const list = await u.admin('GET', `/projects/default/features/${encodeURIComponent(flag)}/environments/${ENV}/strategies`) as Array<{ id: string }>
  return (list[0] as { id: string }).id
}
