/** Flags in Unleash's client-features format, for tests. */
import { normalizedStrategyValue } from '../../src/flags/unleash-internals.js'

export interface Strategy {
  name: string
  parameters?: Record<string, string>
  constraints?: Array<{ contextName: string, operator: string, values?: string[], value?: string, inverted?: boolean, caseInsensitive?: boolean }>
  segments?: number[]
  variants?: Array<{ name: string, weight: number, stickiness?: string, weightType?: string }>
}

export interface Feature {
  name: string
  enabled: boolean
  strategies: Strategy[]
  variants?: Array<{ name: string, weight: number, stickiness?: string, weightType?: string }>
}

export function rollout (percent: number, groupId = 'orders-on-django'): Strategy {
  return { name: 'flexibleRollout', parameters: { rollout: String(percent), stickiness: 'default', groupId } }
}

export function flagsJson (features: Feature[], segments: unknown[] = []): string {
  return JSON.stringify({ version: 2, features, segments }, null, 2)
}

/** routes.yaml with legacy/django backends, an orders route on a flag, and a default route. */
export function flaggedYaml (legacy: string, django: string, extra = '', flag = '{ name: orders-on-django, backend: django }'): string {
  return `listen: { host: 127.0.0.1 }
backends:
  legacy: { url: "${legacy}" }
  django: { url: "${django}" }
flags: { file: flags.json }
cohort:
  userId: [ { header: x-user-id }, { cookie: uid } ]
  properties: { tenant: { header: x-tenant-id } }
${extra}
routes:
  - name: orders
    match: { path: /api/orders/* }
    backend: legacy
    flag: ${flag}
  - { name: default, match: { path: /* }, backend: legacy }
`
}

/** One user id per bucket 1..100 of a flag's rollout (index 0 is bucket 1), found with unleash-client's own hash. */
export function usersByBucket (groupId: string): string[] {
  const byBucket = new Map<number, string>()
  for (let i = 0; byBucket.size < 100; i++) {
    const b = normalizedStrategyValue(`user-${i}`, groupId)
    if (!byBucket.has(b)) byBucket.set(b, `user-${i}`)
  }
  return Array.from({ length: 100 }, (_, i) => byBucket.get(i + 1) as string)
}
