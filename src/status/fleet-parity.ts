/**
 * Shadow parity for a fleet: each replica's own (GET /parity) added up per route, the
 * share of matching comparisons over the last 5 minutes as Prometheus sums it over
 * every replica, and each replica's learned noise and warnings kept as its own: noise
 * is learned per process, so a field one replica ignores may still count on another.
 */

interface RouteParity {
  readonly totals?: Readonly<Record<string, number>>
  readonly authMismatches?: number
  readonly noise?: readonly unknown[]
  readonly warning?: string
  readonly samples?: ReadonlyArray<{ readonly at?: string }>
}

/** Newest samples shown per route, from every replica together. */
const SAMPLES = 20

export interface FleetRouteParity {
  /** Matching over compared, last 5 minutes, summed by Prometheus; null without comparisons. */
  parity: number | null
  totals: Record<string, number>
  authMismatches: number
  byReplica: Record<string, { noise: readonly unknown[], warning?: string }>
  samples: Array<Record<string, unknown>>
}

/** `reports`: each replica that answered, its /parity `routes`; `shares`: route → Prometheus's parity. */
export function mergeParity (reports: ReadonlyMap<string, Readonly<Record<string, RouteParity>>>, shares: ReadonlyMap<string, number>): Record<string, FleetRouteParity> {
  const out: Record<string, FleetRouteParity> = {}
  for (const [replica, routes] of reports) {
    for (const [route, p] of Object.entries(routes)) {
      const r = out[route] ??= { parity: shares.get(route) ?? null, totals: {}, authMismatches: 0, byReplica: {}, samples: [] }
      for (const [result, n] of Object.entries(p.totals ?? {})) r.totals[result] = (r.totals[result] ?? 0) + n
      r.authMismatches += p.authMismatches ?? 0
      r.byReplica[replica] = { noise: p.noise ?? [], ...(p.warning === undefined ? {} : { warning: p.warning }) }
      r.samples.push(...(p.samples ?? []).map((s) => ({ replica, ...s })))
    }
  }
  for (const r of Object.values(out)) {
    r.samples.sort((a, b) => String(a.at ?? '').localeCompare(String(b.at ?? '')))
    r.samples = r.samples.slice(-SAMPLES)
  }
  return out
}

/** A replica's /parity body, when it has that shape. */
export function asParity (body: unknown): Readonly<Record<string, RouteParity>> | undefined {
  const routes = (body as { routes?: unknown } | undefined)?.routes
  return typeof routes === 'object' && routes !== null && !Array.isArray(routes) ? routes as Record<string, RouteParity> : undefined
}

/** Matching over compared shadow requests per route, last 5 minutes, over every replica. */
export const FLEET_PARITY_QUERY = 'sum by (route) (increase(strangler_shadow_requests_total{result="match"}[5m])) / sum by (route) (increase(strangler_shadow_requests_total{result=~"match|mismatch"}[5m]))'
