/**
 * The CLI's side of the admin port: `ramp status|pause|…` ask the running proxy
 * over HTTP, with the admin token when one is set, and turn its answers into text.
 * No argv, environment or exit here (cli.ts owns those).
 */
import { request } from 'undici'

export interface AdminTarget {
  /** http://host:port of the admin listener. */
  readonly url: string
  readonly token: string | undefined
}

export interface AdminAnswer {
  readonly status: number
  readonly body: unknown
}

/** `timeoutMs`: the whole call, headers and body. */
export async function callAdmin (target: AdminTarget, method: 'GET' | 'POST', path: string, body: Record<string, unknown> = {}, timeoutMs = 10_000): Promise<AdminAnswer> {
  const res = await request(target.url.replace(/\/+$/, '') + path, {
    method,
    headers: {
      accept: 'application/json',
      ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
      ...(target.token === undefined ? {} : { authorization: `Bearer ${target.token}` })
    },
    ...(method === 'POST' ? { body: JSON.stringify(body) } : {}),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    signal: AbortSignal.timeout(timeoutMs)
  })
  const text = await res.body.text()
  const json = (res.headers['content-type'] ?? '').includes('json')
  return { status: res.statusCode, body: json && text !== '' ? JSON.parse(text) as unknown : text }
}

/** Rows of left-aligned columns, the first row the header. */
export function table (rows: ReadonlyArray<readonly string[]>): string {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  return rows.map((r) => r.map((c, i) => i === r.length - 1 ? c : c.padEnd(widths[i] as number)).join('  ')).join('\n') + '\n'
}

interface RampRow { route: string, flag: string, percent: number, nextPercent?: number, state: string, steps: number[], reason: string }

export function rampTable (routes: readonly RampRow[]): string {
  if (routes.length === 0) return 'no route has a ramp plan\n'
  return table([
    ['ROUTE', 'FLAG', 'STEP', 'NEXT', 'STATE', 'PLAN', 'WHY'],
    ...routes.map((r) => [r.route, r.flag, `${r.percent} %`, r.nextPercent === undefined ? '-' : `${r.nextPercent} %`, r.state, r.steps.join(' → '), r.reason])
  ])
}

/** The problem+json detail of a refused admin call, or the status. */
export function problemText (answer: AdminAnswer): string {
  const b = answer.body as { code?: string, detail?: string } | string
  return typeof b === 'object' && b !== null ? `${b.code ?? answer.status}: ${b.detail ?? ''}` : `HTTP ${answer.status}: ${String(b).slice(0, 200)}`
}

interface EventRow { id: string, time: string, kind: string, routes: string[], cause: string, actor?: string, summary: string }

export function timelineRows (events: readonly EventRow[], header: boolean): string {
  const rows = events.map((e) => [e.time.replace('T', ' ').replace(/\.\d+Z$/, 'Z'), e.kind, e.routes.join(',') || '-', e.actor ?? e.cause, e.summary])
  if (!header) return rows.length === 0 ? '' : table(rows)
  return rows.length === 0 ? 'no events\n' : table([['TIME', 'KIND', 'ROUTES', 'WHO', 'WHAT'], ...rows])
}

const pct = (x: number | null | undefined): string => x === null || x === undefined ? '-' : `${(x * 100).toFixed(1)} %`

interface StatusRow { name: string, stateText: string, rollout: number | null, liveSplit: number | null, guard: string | null, parity: number | null, ramp: { percent: number, state: string } | null, readiness: { ready: boolean } | null }
interface StatusBody { overall: { newShare: number | null, routes: number, migrated: number, ready: number, requests: number }, windowMs: number, routes: StatusRow[] }

export function statusText (s: StatusBody): string {
  const head = `${pct(s.overall.newShare)} of requests on new backends (last ${Math.max(1, Math.round(s.windowMs / 60_000))} min, ${s.overall.requests} requests); ${s.overall.migrated} of ${s.overall.routes} routes migrated, ${s.overall.ready} ready to retire\n\n`
  return head + table([
    ['ROUTE', 'STATE', 'ROLLOUT', 'LIVE SPLIT', 'RAMP', 'GUARD', 'PARITY', 'RETIRE'],
    ...s.routes.map((r) => [r.name, r.stateText, r.rollout === null ? '-' : `${r.rollout} %`, pct(r.liveSplit), r.ramp === null ? '-' : `${r.ramp.percent} % ${r.ramp.state}`, r.guard ?? '-', pct(r.parity), r.readiness === null ? '-' : r.readiness.ready ? 'READY' : 'NOT READY'])
  ])
}

interface InventoryBody { entries: Array<{ method: string, template: string, route: string, requests: number, share: number, lastSeen: string }>, other: number, notFound?: number, failed?: number }

export function inventoryText (inv: InventoryBody): string {
  if (inv.entries.length === 0) return 'legacy served nothing through catch-all routes since the proxy started\n'
  return table([
    ['METHOD', 'TEMPLATE', 'ROUTE', 'REQUESTS', 'SHARE', 'LAST SEEN'],
    ...inv.entries.map((e) => [e.method, e.template, e.route, String(e.requests), `${(e.share * 100).toFixed(2)} %`, e.lastSeen])
  ]) + (inv.other > 0 ? `and ${inv.other} requests beyond the template limits\n` : '') +
    ((inv.notFound ?? 0) + (inv.failed ?? 0) > 0 ? `not listed: ${inv.notFound ?? 0} answered 404, ${inv.failed ?? 0} failed\n` : '')
}

interface CoverageBody {
  since: string
  endpoints: number
  migratedShare: number | null
  counts: Record<string, number>
  sources: Array<{ backend: string, error: string | null }>
  rows: Array<{ method: string, template: string, stateText: string, declaredBy: string[], route: string | null, requests: number, lastSeen: string | null }>
}

export function coverageText (c: CoverageBody): string {
  const head = `${pct(c.migratedShare)} of ${c.endpoints} declared endpoints migrated; traffic counted since ${c.since}\n` +
    c.sources.flatMap((s) => s.error === null ? [] : [`not read: ${s.backend}: ${s.error}\n`]).join('') + '\n'
  return head + table([
    ['METHOD', 'TEMPLATE', 'STATE', 'DECLARED BY', 'ROUTE', 'REQUESTS', 'LAST SEEN'],
    ...c.rows.map((r) => [r.method, r.template, r.stateText, r.declaredBy.join(','), r.route ?? '-', String(r.requests), r.lastSeen ?? '-'])
  ])
}
