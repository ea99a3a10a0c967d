/**
 * The impact of a change the whole fleet observed (a merged event), from Prometheus's
 * sums over every replica: per backend of each route, the share of the route's
 * requests, the 5xx ratio and the p99 in the window before the event and in the
 * window after it, read with the `@` modifier at the event's time and a window later.
 * A replica's own impact is its share of the traffic only, so merged events carry
 * this one instead. Route names are plain label values (the schema allows no quote).
 */
import type { Impact, SideImpact } from './event.js'

/** What fleet impact needs of Prometheus (ramp/promql.ts's PromQL is one). */
export interface SeriesSource {
  series (name: string, query: string): Promise<ReadonlyArray<{ readonly labels: Readonly<Record<string, string>>, readonly value: number }>>
}

export type FleetImpact = Impact & { readonly from: 'prometheus' }

type Side = Map<string, SideImpact>

async function side (prom: SeriesSource, route: string, windowMs: number, at: number): Promise<Side> {
  const range = `[${Math.max(1, Math.round(windowMs / 1000))}s] @ ${(at / 1000).toFixed(3)}`
  const sel = `route="${route}"`
  const [requests, errors, p99] = await Promise.all([
    prom.series('impact requests', `sum by (backend) (increase(strangler_requests_total{${sel}}${range}))`),
    prom.series('impact 5xx', `sum by (backend) (increase(strangler_requests_total{${sel},code=~"5.."}${range}))`),
    prom.series('impact p99', `histogram_quantile(0.99, sum by (backend, le) (increase(strangler_request_duration_seconds_bucket{${sel}}${range})))`)
  ])
  const total = requests.reduce((a, s) => a + (Number.isFinite(s.value) ? s.value : 0), 0)
  const of = (list: typeof errors, backend: string): number | undefined => list.find((s) => s.labels.backend === backend)?.value
  const out: Side = new Map()
  for (const s of requests) {
    const backend = s.labels.backend ?? ''
    const n = Number.isFinite(s.value) ? s.value : 0
    const e = of(errors, backend)
    const q = of(p99, backend)
    out.set(backend, {
      requests: Math.round(n),
      share: total === 0 ? 0 : n / total,
      errorRatio: n === 0 || e === undefined || !Number.isFinite(e) ? null : e / n,
      p99: q === undefined || !Number.isFinite(q) ? null : q
    })
  }
  return out
}

const NONE: SideImpact = { requests: 0, share: 0, errorRatio: null, p99: null }

/** undefined until the window after the event has passed. */
export async function fleetImpact (prom: SeriesSource, routes: readonly string[], time: number, windowMs: number, now: number): Promise<FleetImpact | undefined> {
  if (now < time + windowMs) return undefined
  const byRoute: Record<string, Record<string, { before: SideImpact, after: SideImpact }>> = {}
  for (const route of routes) {
    const [before, after] = await Promise.all([side(prom, route, windowMs, time), side(prom, route, windowMs, time + windowMs)])
    const backends = [...new Set([...before.keys(), ...after.keys()])].sort()
    byRoute[route] = Object.fromEntries(backends.map((b) => [b, { before: before.get(b) ?? NONE, after: after.get(b) ?? NONE }]))
  }
  return { windowMs, routes: byRoute, from: 'prometheus' }
}
