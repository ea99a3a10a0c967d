/**
 * The fleet's status, as `ramp run` serves it at /status.json: each route as the
 * replicas' routes.yaml describes it, its live split and the overall share summed over
 * every replica by Prometheus (not one replica's third of the traffic), each replica's
 * guard state for the route, and every replica named with whether it answered and
 * whether it drifts. Figures only a replica keeps (parity, readiness evidence, the
 * inventory) are not merged: they are each replica's own /status.json.
 */
import type { Series } from '../ramp/promql.js'
import { replicaError, type FleetView } from '../ramp/fleet-view.js'
import type { RouteStatus, StatusReport } from './report.js'

/** Requests per route and backend over the window of the live split a single proxy's status page uses. */
export const FLEET_SPLIT_QUERY = 'sum by (route, backend) (increase(strangler_requests_total[5m]))'

/** Parity, readiness, backends' figures and events are per replica (each one's own /status.json); the ramp is at /ramp. */
export interface FleetRouteStatus extends Omit<RouteStatus, 'guard' | 'backends' | 'events' | 'readiness' | 'parity' | 'ramp'> {
  /** Replica → its guard state for the route. */
  readonly guards: Readonly<Record<string, string | null>>
}

export interface FleetStatus {
  readonly generatedAt: string
  readonly configVersion: string | undefined
  readonly overall: { readonly newShare: number | null, readonly requests: number }
  readonly routes: readonly FleetRouteStatus[]
  readonly replicas: ReadonlyArray<{ readonly replica: string, readonly up: boolean, readonly scraped: boolean, readonly answered: boolean, readonly drift: readonly string[], readonly error?: string }>
}

/**
 * `reports`: each replica that answered, its /status.json; `failed`: each that was asked
 * and did not, with why; `split`: Prometheus's answer to FLEET_SPLIT_QUERY.
 */
export function fleetStatus (view: FleetView, answered: ReadonlyMap<string, StatusReport>, failed: ReadonlyMap<string, string>, split: readonly Series[], now = Date.now()): FleetStatus {
  // The routes as most replicas serve them; a drifted replica's own table is its own page.
  const base = [...answered.values()].find((s) => s.configVersion === view.config) ?? [...answered.values()][0]
  const perRoute = new Map<string, Map<string, number>>()
  for (const s of split) {
    const route = s.labels.route ?? ''
    const m = perRoute.get(route) ?? new Map<string, number>()
    m.set(s.labels.backend ?? '', (m.get(s.labels.backend ?? '') ?? 0) + s.value)
    perRoute.set(route, m)
  }
  let requests = 0
  let onNew = 0
  const routes = (base?.routes ?? []).map((r): FleetRouteStatus => {
    const byBackend = perRoute.get(r.name) ?? new Map<string, number>()
    const total = [...byBackend.values()].reduce((a, n) => a + n, 0)
    const fresh = r.newBackends.reduce((a, b) => a + (byBackend.get(b) ?? 0), 0)
    requests += total
    onNew += fresh
    return {
      name: r.name,
      path: r.path,
      host: r.host,
      baseline: r.baseline,
      newBackends: r.newBackends,
      flag: r.flag,
      state: r.state,
      stateText: r.stateText,
      rollout: r.rollout,
      liveSplit: total === 0 ? null : fresh / total,
      retire: r.retire,
      guards: Object.fromEntries([...answered].map(([replica, s]) => [replica, s.routes.find((x) => x.name === r.name)?.guard ?? null]))
    }
  })
  return {
    generatedAt: new Date(now).toISOString(),
    configVersion: base?.configVersion,
    overall: { newShare: requests === 0 ? null : onNew / requests, requests: Math.round(requests) },
    routes,
    replicas: view.replicas.map((r) => {
      const error = replicaError(r, failed)
      return { replica: r.instance, up: r.up, scraped: r.scraped, answered: error === undefined, drift: r.drift, ...(error === undefined ? {} : { error }) }
    })
  }
}
