/**
 * The fleet as the ramp driver sees it through Prometheus: every replica that exported
 * strangler_config_info in the last ten minutes, whether Prometheus reaches it now, the
 * routes.yaml version and flag definitions hash it serves, and which of them differ
 * from the rest (a split brain: the same user routed differently by replica), since
 * when this driver has seen it. A replica that stopped answering is listed as down,
 * never dropped.
 */
import type { PromQL, Series } from './promql.js'

export interface Replica {
  readonly instance: string
  readonly job: string | undefined
  /** Prometheus scrapes it now (its `up`); false as well for one Prometheus does not know. */
  readonly up: boolean
  /** Prometheus has seen it export strangler_config_info in the last ten minutes. */
  readonly scraped: boolean
  /** Found by ramps.replicas (a static list or DNS), not only through Prometheus. */
  readonly listed: boolean
  /** strangler_config_info's version; undefined while Prometheus does not reach it. */
  readonly config: string | undefined
  /** strangler_flags_info's hash; undefined without flags or while unreachable. */
  readonly flags: string | undefined
  /** What differs from the most common value among the replicas that answer. */
  readonly drift: ReadonlyArray<'config' | 'flags'>
  /** ISO time this driver first saw the current drift, or the replica down. */
  readonly since: string | undefined
}

export interface FleetView {
  readonly replicas: readonly Replica[]
  /** Where the replicas were found (for a --workers primary: its workers), and why ramps.replicas found none when it failed. */
  readonly discovery: { readonly source: 'prometheus' | 'static' | 'dns' | 'workers', readonly error?: string }
  readonly config: string | undefined
  readonly flags: string | undefined
  readonly drifted: number
  readonly down: number
}

/** Where ramps.replicas finds the replicas' admin ports (ramp/discovery.ts). */
export interface Discover {
  readonly source: 'static' | 'dns'
  list (): Promise<readonly string[]>
}

/** Seen within this long: a replica that went away stays listed as down for as long. */
const SEEN = '10m'

export class FleetWatch {
  readonly #prom: PromQL
  readonly #now: () => number
  /** instance → what was wrong and since when, as last seen. */
  readonly #since = new Map<string, { what: string, at: number }>()

  readonly #discover: () => Discover | undefined

  /** `discover` is read at each look: a reloaded ramps.replicas applies at once. */
  constructor (prom: PromQL, discover: () => Discover | undefined = () => undefined, now: () => number = Date.now) {
    this.#prom = prom
    this.#discover = discover
    this.#now = now
  }

  async read (): Promise<FleetView> {
    const [scraped, config, flags, listed] = await Promise.all([
      this.#prom.series('replicas', `up and on (instance, job) group by (instance, job) (last_over_time(strangler_config_info[${SEEN}]))`),
      this.#prom.series('routes.yaml versions', 'group by (instance, job, version) (strangler_config_info)'),
      this.#prom.series('flag definitions', 'group by (instance, job, hash) (strangler_flags_info)'),
      this.#listed()
    ])
    const known = new Set(scraped.map((s) => s.labels.instance ?? ''))
    const unscraped = listed.replicas.filter((r) => !known.has(r)).map((instance): Series => ({ labels: { instance }, value: 0 }))
    const up = [...scraped, ...unscraped]
    const versionOf = byInstance(config, 'version')
    const hashOf = byInstance(flags, 'hash')
    const answering = up.filter((s) => s.value === 1).map((s) => s.labels.instance ?? '')
    const commonConfig = mostCommon(answering.map((i) => versionOf.get(i)))
    const commonFlags = mostCommon(answering.map((i) => hashOf.get(i)))
    const replicas = up.map((s): Replica => {
      const instance = s.labels.instance ?? ''
      const isUp = s.value === 1
      const c = isUp ? versionOf.get(instance) : undefined
      const f = isUp ? hashOf.get(instance) : undefined
      const drift = isUp ? [...(c !== commonConfig ? ['config' as const] : []), ...(f !== commonFlags ? ['flags' as const] : [])] : []
      return { instance, job: s.labels.job, up: isUp, scraped: known.has(instance), listed: listed.replicas.includes(instance), config: c, flags: f, drift, since: this.#track(instance, isUp ? drift.join(',') : 'down') }
    }).sort((a, b) => a.instance.localeCompare(b.instance))
    for (const instance of this.#since.keys()) if (!replicas.some((r) => r.instance === instance)) this.#since.delete(instance)
    return { replicas, discovery: listed.discovery, config: commonConfig, flags: commonFlags, drifted: replicas.filter((r) => r.drift.length > 0).length, down: replicas.filter((r) => !r.up).length }
  }

  /** ramps.replicas's answer; a failed lookup leaves Prometheus's targets and says why. */
  async #listed (): Promise<{ replicas: readonly string[], discovery: FleetView['discovery'] }> {
    const d = this.#discover()
    if (d === undefined) return { replicas: [], discovery: { source: 'prometheus' } }
    try {
      return { replicas: await d.list(), discovery: { source: d.source } }
    } catch (err) {
      return { replicas: [], discovery: { source: d.source, error: (err as Error).message } }
    }
  }

  /** Since when `what` (empty: nothing wrong) has held for this replica. */
  #track (instance: string, what: string): string | undefined {
    if (what === '') {
      this.#since.delete(instance)
      return undefined
    }
    const seen = this.#since.get(instance)
    if (seen?.what === what) return new Date(seen.at).toISOString()
    const at = this.#now()
    this.#since.set(instance, { what, at })
    return new Date(at).toISOString()
  }
}

function byInstance (series: readonly Series[], label: string): Map<string, string> {
  return new Map(series.map((s) => [s.labels.instance ?? '', s.labels[label] ?? '']))
}

/** The value most replicas hold; ties go to the first in order, so a 1-against-1 split flags one side. */
export function mostCommon (values: ReadonlyArray<string | undefined>): string | undefined {
  const counts = new Map<string | undefined, number>()
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1)
  let best: string | undefined
  let n = 0
  for (const [v, c] of counts) if (c > n) { best = v; n = c }
  return best
}

/** The replicas to ask for their own view: those Prometheus reaches, and those ramps.replicas lists. */
export function askable (view: FleetView): string[] {
  return view.replicas.filter((r) => r.up || r.listed).map((r) => r.instance)
}

/** Why a replica's own view is missing: it was asked and failed, or it was not asked at all. */
export function replicaError (r: Replica, failed: ReadonlyMap<string, string>): string | undefined {
  return failed.get(r.instance) ?? (r.up || r.listed ? undefined : 'Prometheus does not reach it')
}
