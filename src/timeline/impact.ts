/**
 * The impact of an event, from the proxy's own counters: per backend of the affected
 * routes, the share of the route's requests, the 5xx ratio and the p99 in the window
 * before the event and in the window after it (both impactDelay long). The counters
 * are sampled into a small ring so "before" needs no work on the request path.
 */
import { totalsSince, p99Of, type BackendTotals } from '../observe/request-series.js'
import type { Impact, SideImpact } from './event.js'

type Totals = ReadonlyMap<string, BackendTotals>

export interface Pending {
  readonly at: number
  readonly routes: ReadonlyMap<string, readonly string[]>
  readonly before: Totals
  readonly atEvent: Totals
}

const key = (route: string, backend: string): string => `${route}\u0000${backend}`
const ZERO: BackendTotals = { requests: 0, errors: 0, buckets: [] }

export class ImpactMeter {
  readonly #totals: (route: string, backend: string) => BackendTotals
  readonly #routes: () => ReadonlyMap<string, readonly string[]>
  readonly #delayMs: number
  readonly #ring: Array<{ at: number, totals: Totals }> = []

  /** routes: route → the backends it can use. */
  constructor (totals: (route: string, backend: string) => BackendTotals, routes: () => ReadonlyMap<string, readonly string[]>, delayMs: number) {
    this.#totals = totals
    this.#routes = routes
    this.#delayMs = delayMs
  }

  /** How often sample() should run: about thirty samples per window. */
  get sampleEveryMs (): number {
    return Math.min(10_000, Math.max(250, Math.floor(this.#delayMs / 30)))
  }

  get delayMs (): number {
    return this.#delayMs
  }

  sample (now: number): void {
    this.#ring.push({ at: now, totals: this.#now(this.#routes()) })
    while (this.#ring.length > 2 && (this.#ring[1] as { at: number }).at <= now - this.#delayMs) this.#ring.shift()
  }

  /** At the event: the counters now, and as they were one window earlier (or as early as known). */
  start (routes: readonly string[], now: number): Pending {
    const all = this.#routes()
    const selected = new Map(routes.flatMap((r) => all.has(r) ? [[r, all.get(r) as readonly string[]] as const] : []))
    const before = this.#ring.find((s) => s.at >= now - this.#delayMs)?.totals ?? new Map()
    return { at: now, routes: selected, before, atEvent: this.#now(selected) }
  }

  /** Every route's backends over the last window (or since the first sample). */
  recent (now: number): { windowMs: number, routes: Record<string, Record<string, SideImpact>> } {
    const routes = this.#routes()
    const from = this.#ring.find((s) => s.at >= now - this.#delayMs) ?? this.#ring[0]
    const at = this.#now(routes)
    const out: Record<string, Record<string, SideImpact>> = {}
    for (const [route, backends] of routes) out[route] = this.#sides(route, backends, from?.totals ?? new Map(), at)
    return { windowMs: from === undefined ? 0 : now - from.at, routes: out }
  }

  #sides (route: string, backends: readonly string[], from: Totals, to: Totals): Record<string, SideImpact> {
    const diffs = backends.map((b) => totalsSince(to.get(key(route, b)) ?? ZERO, from.get(key(route, b)) ?? ZERO))
    const total = diffs.reduce((n, d) => n + d.requests, 0)
    return Object.fromEntries(backends.map((b, i) => [b, side(diffs[i] as BackendTotals, total)]))
  }

  finish (p: Pending, now: number): Impact {
    const after = this.#now(p.routes)
    const routes: Record<string, Record<string, { before: SideImpact, after: SideImpact }>> = {}
    for (const [route, backends] of p.routes) {
      const before = this.#sides(route, backends, p.before, p.atEvent)
      const afterSides = this.#sides(route, backends, p.atEvent, after)
      routes[route] = Object.fromEntries(backends.map((b) => [b, { before: before[b] as SideImpact, after: afterSides[b] as SideImpact }]))
    }
    return { windowMs: now - p.at, routes }
  }

  #now (routes: ReadonlyMap<string, readonly string[]>): Totals {
    const out = new Map<string, BackendTotals>()
    for (const [route, backends] of routes) {
      for (const b of backends) out.set(key(route, b), this.#totals(route, b))
    }
    return out
  }
}

function side (d: BackendTotals, routeTotal: number): SideImpact {
  return {
    requests: d.requests,
    share: routeTotal === 0 ? 0 : d.requests / routeTotal,
    errorRatio: d.requests === 0 ? null : d.errors / d.requests,
    p99: p99Of(d) ?? null
  }
}
