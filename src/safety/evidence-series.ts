/**
 * The backends' evidence per route, as the gates, the guard and a fleet's Prometheus
 * read it: only samples evidence.ts accepts and the client caps admit. Latency is
 * kept in fine geometric buckets (a third of a doubling wide), so a ×2 regression
 * reads as about ×2, not as the ×1.46 that the request histogram's coarse buckets
 * would interpolate. Exposed as strangler_evidence_* for a fleet's driver.
 */
import type { Registry } from 'prom-client'
import { quantile } from '../observe/request-series.js'
import { ClientCaps, Distinct, type CapsConfig } from './client-caps.js'
import type { Ignored, Sample } from './evidence.js'

/** Seconds: 1 ms × 2^(k/3), k = 0…48 (up to 65.5 s). */
export const EVIDENCE_BUCKETS: readonly number[] = Array.from({ length: 49 }, (_, k) => Number((0.001 * 2 ** (k / 3)).toPrecision(4)))

export interface EvidenceTotals {
  readonly requests: number
  /** 4xx answers of the backend. */
  readonly clientErrors: number
  /** 5xx answers, and failures to reach the backend. */
  readonly errors: number
  /** Latency samples per bucket of EVIDENCE_BUCKETS (not cumulative), the last one +Inf. */
  readonly buckets: readonly number[]
}

/** Where a window's evidence came from, counted since the window began. */
export interface Sources {
  readonly users: number
  readonly addresses: number
  readonly failingUsers: number
  readonly failingAddresses: number
}

class Cell {
  requests = 0
  clientErrors = 0
  errors = 0
  sum = 0
  readonly buckets = new Float64Array(EVIDENCE_BUCKETS.length + 1)
  readonly users = new Distinct()
  readonly addresses = new Distinct()
  readonly failingUsers = new Distinct()
  readonly failingAddresses = new Distinct()
}

export class EvidenceSeries {
  readonly #cells = new Map<string, Map<string, Cell>>()
  readonly #ignored = new Map<string, number>()
  #caps: ClientCaps

  constructor (caps: CapsConfig) {
    this.#caps = new ClientCaps(caps)
  }

  /** New caps after a reload (counts start over with the next period). */
  configure (caps: CapsConfig): void {
    const c = this.#caps.config
    if (c.period !== caps.period || c.perAddress !== caps.perAddress || c.perUser !== caps.perUser) this.#caps = new ClientCaps(caps)
  }

  /** A request that is not evidence, by why. */
  ignore (why: Ignored | 'client_cap'): void {
    this.#ignored.set(why, (this.#ignored.get(why) ?? 0) + 1)
  }

  /** One sample; false when the client caps refused it (it is then not counted anywhere). */
  record (route: string, backend: string, s: Sample, now: number): boolean {
    if (!this.#caps.admit(scopeOf(route, backend), s.address, s.user, now)) {
      this.ignore('client_cap')
      return false
    }
    const cell = this.#cell(route, backend)
    cell.requests++
    cell.users.add(s.user)
    cell.addresses.add(s.address)
    if (s.status >= 500) {
      cell.errors++
      cell.failingUsers.add(s.user)
      cell.failingAddresses.add(s.address)
    } else if (s.status >= 400) {
      cell.clientErrors++
    }
    if (s.seconds !== undefined) {
      const b = bucketOf(s.seconds)
      cell.buckets[b] = (cell.buckets[b] as number) + 1
      cell.sum += s.seconds
    }
    return true
  }

  totals (route: string, backend: string): EvidenceTotals {
    const c = this.#cells.get(route)?.get(backend)
    if (c === undefined) return { requests: 0, clientErrors: 0, errors: 0, buckets: new Array<number>(EVIDENCE_BUCKETS.length + 1).fill(0) }
    return { requests: c.requests, clientErrors: c.clientErrors, errors: c.errors, buckets: [...c.buckets] }
  }

  sources (route: string, backend: string): Sources {
    const c = this.#cells.get(route)?.get(backend)
    return { users: c?.users.size ?? 0, addresses: c?.addresses.size ?? 0, failingUsers: c?.failingUsers.size ?? 0, failingAddresses: c?.failingAddresses.size ?? 0 }
  }

  /** A window begins for the route: distinct sources are counted afresh. */
  markSources (route: string): void {
    for (const c of this.#cells.get(route)?.values() ?? []) {
      c.users.clear()
      c.addresses.clear()
      c.failingUsers.clear()
      c.failingAddresses.clear()
    }
  }

  #cell (route: string, backend: string): Cell {
    let byBackend = this.#cells.get(route)
    if (byBackend === undefined) this.#cells.set(route, byBackend = new Map())
    let cell = byBackend.get(backend)
    if (cell === undefined) byBackend.set(backend, cell = new Cell())
    return cell
  }

  /** strangler_evidence_requests_total, strangler_evidence_seconds and strangler_evidence_ignored_total, read at scrape time. */
  register (registry: Registry): void {
    const expose = (name: string, help: string, type: 'counter' | 'histogram', values: () => Array<{ labels: Record<string, string | number>, value: number, metricName?: string }>): void => {
      const metric = { name, help, type, aggregator: 'sum' }
      registry.registerMetric({ ...metric, get: async () => ({ ...metric, values: values() }) } as unknown as Parameters<Registry['registerMetric']>[0])
    }
    expose('strangler_evidence_requests_total', 'Requests the gates and the guard judge, by route, backend and class (2xx: anything below 400): the backend\'s own answers, within the per-client caps.', 'counter', () => this.#each((route, backend, c) => [
      { labels: { route, backend, class: '2xx' }, value: c.requests - c.clientErrors - c.errors },
      { labels: { route, backend, class: '4xx' }, value: c.clientErrors },
      { labels: { route, backend, class: '5xx' }, value: c.errors }
    ]))
    expose('strangler_evidence_seconds', 'The backend\'s time to response headers from the request fully sent, for the requests in strangler_evidence_requests_total that it answered.', 'histogram', () => this.#each((route, backend, c) => {
      const out = []
      let cumulative = 0
      for (let b = 0; b < c.buckets.length; b++) {
        cumulative += c.buckets[b] as number
        out.push({ labels: { route, backend, le: b < EVIDENCE_BUCKETS.length ? EVIDENCE_BUCKETS[b] as number : '+Inf' }, value: cumulative, metricName: 'strangler_evidence_seconds_bucket' })
      }
      out.push({ labels: { route, backend }, value: c.sum, metricName: 'strangler_evidence_seconds_sum' })
      out.push({ labels: { route, backend }, value: cumulative, metricName: 'strangler_evidence_seconds_count' })
      return out
    }))
    expose('strangler_evidence_ignored_total', 'Finished requests on flagged routes that are not evidence, by why (proxy_answered, override, client_cap).', 'counter', () => [...this.#ignored].map(([reason, value]) => ({ labels: { reason }, value })))
  }

  #each <T> (fn: (route: string, backend: string, c: Cell) => T[]): T[] {
    const out: T[] = []
    for (const [route, byBackend] of this.#cells) {
      for (const [backend, c] of byBackend) out.push(...fn(route, backend, c))
    }
    return out
  }
}

/** Route and backend as one key, built once per pair. */
const scopes = new Map<string, Map<string, string>>()
function scopeOf (route: string, backend: string): string {
  let byBackend = scopes.get(route)
  if (byBackend === undefined) scopes.set(route, byBackend = new Map())
  let scope = byBackend.get(backend)
  if (scope === undefined) byBackend.set(backend, scope = `${route}\0${backend}`)
  return scope
}

/** The bucket of a latency: computed from its logarithm, then set right against the rounded bounds. */
function bucketOf (seconds: number): number {
  const last = EVIDENCE_BUCKETS.length
  let b = seconds <= 0.001 ? 0 : Math.min(last, Math.max(0, Math.ceil(3 * Math.log2(seconds / 0.001))))
  while (b > 0 && seconds <= (EVIDENCE_BUCKETS[b - 1] as number)) b--
  while (b < last && seconds > (EVIDENCE_BUCKETS[b] as number)) b++
  return b
}

/** The p99 of evidence buckets; undefined without latency samples. */
export function evidenceP99 (buckets: readonly number[]): number | undefined {
  return quantile(EVIDENCE_BUCKETS, buckets, 0.99)
}
