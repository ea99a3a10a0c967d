/** Flags in Unleash's client-features format, for tests. */
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
