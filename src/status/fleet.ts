/**
 * The fleet's status, as `ramp run` serves it at /status.json: each route as the
 * replicas' routes.yaml describes it, its live split and the overall share summed over
 * every replica by Prometheus (not one replica's third of the traffic), each replica's
 * guard state for the route, and every replica named with whether it answered and
 * whether it drifts. Figures only a replica keeps (parity, readiness evidence, the
 * inventory) are not merged: they are each replica's own /status.json.
 */
import { request } from 'undici'
import type { PromQL } from '../ramp/promql.js'
import type { FleetView } from '../ramp/fleet-view.js'
import type { RouteStatus, StatusReport } from './report.js'

/** The window of the live split, as a single proxy's status page uses. */
const SPLIT_WINDOW = '5m'

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
  readonly replicas: ReadonlyArray<{ readonly replica: string, readonly up: boolean, readonly answered: boolean, readonly drift: readonly string[], readonly error?: string }>
}

async function replicaStatus (replica: string, token: string | undefined, timeoutMs: number): Promise<StatusReport | Error> {
  try {
    const res = await request(`http://${replica}/status.json`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: AbortSignal.timeout(timeoutMs) })
    const body = await res.body.json() as StatusReport & { detail?: string }
    return res.statusCode === 200 && Array.isArray(body.routes) ? body : new Error(`HTTP ${res.statusCode}${body.detail === undefined ? '' : `: ${body.detail}`}`)
  } catch (err) {
    const e = err as Error
    return new Error(e.name === 'TimeoutError' || e.name === 'AbortError' ? `no answer within ${timeoutMs} ms` : e.message)
  }
}

export async function fleetStatus (view: FleetView, prom: PromQL, token: string | undefined, timeoutMs: number, now = Date.now()): Promise<FleetStatus> {
  const up = view.replicas.filter((r) => r.up)
  const [reports, split] = await Promise.all([
    Promise.all(up.map(async (r) => [r.instance, await replicaStatus(r.instance, token, timeoutMs)] as const)),
    prom.series('requests by route and backend', `sum by (route, backend) (increase(strangler_requests_total[${SPLIT_WINDOW}]))`)
  ])
  const answered = new Map(reports.filter((e): e is readonly [string, StatusReport] => !(e[1] instanceof Error)))
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
      const report = reports.find(([replica]) => replica === r.instance)?.[1]
      const error = !r.up ? 'Prometheus does not reach it' : report instanceof Error ? report.message : undefined
      return { replica: r.instance, up: r.up, answered: error === undefined, drift: r.drift, ...(error === undefined ? {} : { error }) }
    })
  }
}
