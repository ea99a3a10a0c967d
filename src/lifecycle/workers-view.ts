/**
 * A --workers primary's admin view of its workers, the one the control plane serves for
 * a fleet's replicas: one timeline (a change every worker saw is one event naming them,
 * its impact their sum), one status page and /status.json (shares summed over the
 * workers, each worker's guard, versions that drift), the inventories added up,
 * /metrics summed by prom-client with the workers' latest exemplars. A worker that does
 * not answer, or whose slot is being restarted, is named.
 */
import type { AggregatorRegistry, RegistryContentType } from 'prom-client'
import type { AdminSources } from '../admin/server.js'
import type { StatusView } from '../admin/status-routes.js'
import type { Config } from '../config/config.js'
import type { TimelineQuery } from '../timeline/timeline.js'
import type { TimelineEvent } from '../timeline/event.js'
import { mergeTimelines } from '../timeline/fleet.js'
import { fleetStatus, type FleetStatus } from '../status/fleet.js'
import { fleetStatusPage } from '../status/fleet-html.js'
import { asInventory, mergeInventories } from '../status/fleet-inventory.js'
import type { StatusReport } from '../status/report.js'
import { mostCommon, type FleetView, type Replica } from '../ramp/fleet-view.js'
import type { Series } from '../ramp/promql.js'
import { OPENMETRICS_CONTENT_TYPE, toOpenMetrics, type Exemplar } from '../observe/openmetrics.js'
import { workerName, type Answers, type Questions } from './questions.js'

export interface WorkersViewDeps {
  readonly questions: Questions
  readonly slots: number
  readonly aggregator: AggregatorRegistry<RegistryContentType>
  readonly config: () => Config
  /** Tracing is on in the workers: their exemplars are worth asking for. */
  readonly traced: () => boolean
}

/** A worker's answer to 'status'. */
export interface WorkerStatus { readonly report: StatusReport, readonly flags: string | undefined }

export interface WorkersView {
  readonly sources: AdminSources
  readonly timeline: (q: TimelineQuery) => Promise<{ events: TimelineEvent[], workers: WorkerRow[] }>
  readonly status: StatusView
}

interface WorkerRow { readonly worker: string, readonly answered: boolean, readonly error?: string }

export function workersView (deps: WorkersViewDeps): WorkersView {
  const { questions } = deps
  const names = Array.from({ length: deps.slots }, (_, i) => workerName(i + 1))
  /** Every slot's outcome: a slot with no live worker was not asked. */
  const rows = (a: Answers): WorkerRow[] => names.map((worker) => {
    if (a.answered.has(worker)) return { worker, answered: true }
    return { worker, answered: false, error: a.failed.get(worker) ?? 'not running: being started again' }
  })
  /** Worker → why it did not answer. */
  const unanswered = (a: Answers): Record<string, string> => Object.fromEntries(rows(a).flatMap((r) => r.error === undefined ? [] : [[r.worker, r.error]]))
  const perWorker = async (what: 'guard' | 'parity'): Promise<unknown> => {
    const a = await questions.ask(what)
    return { workers: [...a.answered].map(([worker, routes]) => ({ worker, pid: a.pids.get(worker), routes })), unanswered: unanswered(a) }
  }
  const status = async (): Promise<FleetStatus> => {
    const a = await questions.ask('status')
    const reports = new Map([...a.answered].map(([w, s]) => [w, (s as WorkerStatus).report]))
    return fleetStatus(viewOf(rows(a), a.answered as Map<string, WorkerStatus>), reports, new Map(Object.entries(unanswered(a))), splitOf(reports.values()))
  }
  const inventory = async (): Promise<ReturnType<typeof mergeInventories> & { unanswered: Record<string, string> }> => {
    const a = await questions.ask('inventory')
    const usable = [...a.answered.values()].flatMap((b) => { const i = asInventory(b); return i === undefined ? [] : [i] })
    return { ...mergeInventories(usable), unanswered: unanswered(a) }
  }
  return {
    sources: {
      metrics: async (openMetrics) => {
        const text = await deps.aggregator.clusterMetrics()
        if (openMetrics !== true || !deps.traced()) return { contentType: deps.aggregator.contentType, body: text }
        return { contentType: OPENMETRICS_CONTENT_TYPE, body: toOpenMetrics(text, latestExemplars((await questions.ask('exemplars')).answered.values())) }
      },
      guard: () => perWorker('guard'),
      parity: () => perWorker('parity'),
      unlearn: async (route, path) => [...(await questions.ask('unlearn', { route, path })).answered.values()].some((v) => v === true),
      resetGuard: async (route, by) => {
        const a = await questions.ask('reset', { ...(route === undefined ? {} : { route }), by })
        return { reset: [...new Set([...a.answered.values()].flatMap((v) => v as string[]))], routes: await perWorker('guard') }
      }
    },
    timeline: async (q) => {
      const a = await questions.ask('timeline', { ...q })
      const events = mergeTimelines(a.answered as Map<string, TimelineEvent[]>, { workers: true })
      return { events: events.slice(-Math.min(q.limit ?? 100, 1000)), workers: rows(a) }
    },
    status: {
      json: status,
      page: async (operator) => {
        const [s, inv] = await Promise.all([status(), inventory()])
        return fleetStatusPage(s, inv.entries, 15, operator, 'workers')
      },
      inventory,
      coverage: async () => {
        if (deps.config().coverage === undefined) return undefined
        // Each worker reconciles the declarations with the traffic it saw; not merged.
        const a = await questions.ask('coverage')
        return { workers: [...a.answered].map(([worker, coverage]) => ({ worker, coverage })), unanswered: unanswered(a) }
      }
    }
  }
}

/** The workers as a fleet: all on this host, their drift the versions that differ from the rest. */
function viewOf (rows: readonly WorkerRow[], answered: ReadonlyMap<string, WorkerStatus>): FleetView {
  const config = mostCommon([...answered.values()].map((s) => s.report.configVersion))
  const flags = mostCommon([...answered.values()].map((s) => s.flags))
  const replicas = rows.map((r): Replica => {
    const s = answered.get(r.worker)
    const drift = s === undefined ? [] : [...(s.report.configVersion !== config ? ['config' as const] : []), ...(s.flags !== flags ? ['flags' as const] : [])]
    return { instance: r.worker, job: undefined, up: true, scraped: true, listed: true, config: s?.report.configVersion, flags: s?.flags, drift, since: undefined }
  })
  return { replicas, discovery: { source: 'workers' }, config, flags, drifted: replicas.filter((r) => r.drift.length > 0).length, down: rows.filter((r) => !r.answered).length }
}

/** Requests per route and backend over the workers' figures window, as Prometheus would sum them. */
function splitOf (reports: Iterable<StatusReport>): Series[] {
  return [...reports].flatMap((s) => s.routes.flatMap((r) => r.backends.map((b) => ({ labels: { route: r.name, backend: b.backend }, value: b.requests }))))
}

/** Per bucket, the latest exemplar any worker has. */
function latestExemplars (answers: Iterable<unknown>): Map<string, Exemplar> {
  const out = new Map<string, Exemplar>()
  for (const list of answers) {
    for (const [key, e] of list as Array<[string, Exemplar]>) {
      const seen = out.get(key)
      if (seen === undefined || e.timestamp > seen.timestamp) out.set(key, e)
    }
  }
  return out
}
