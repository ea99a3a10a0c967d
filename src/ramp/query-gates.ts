/**
 * A plan's PromQL gates (gates.queries): each query run for the new backend, and for
 * the baseline where it compares with it, over the step's window. A query that gives
 * no single clean number (no series, several, NaN, ±Inf, an error) makes the step
 * wait, never pass.
 */
import type { QueryGate } from '../config/config.js'
import { renderQuery } from '../config/promql-template.js'
import type { GateResult } from './gates.js'
import type { WindowSides } from './figures.js'
import type { PromQL } from './promql.js'

const fmt = (x: number): string => String(Number(x.toPrecision(4)))

/** The single number a query gives, or why it gives none. */
async function one (prom: PromQL, name: string, query: string): Promise<number | string> {
  let values: number[]
  try {
    values = await prom.vector(name, query)
  } catch (err) {
    return (err as Error).message
  }
  if (values.length === 0) return `${name}: no data yet`
  if (values.length > 1) return `${name}: ${values.length} series; aggregate the query to one (sum, avg, max…)`
  const v = values[0] as number
  return Number.isFinite(v) ? v : `${name}: ${String(v)}`
}

function limits (g: QueryGate): string {
  return [g.min === undefined ? '' : `min ${fmt(g.min)}`, g.max === undefined ? '' : `max ${fmt(g.max)}`].filter((x) => x !== '').join(', ')
}

async function judgeOne (g: QueryGate, prom: PromQL, sides: WindowSides, windowSeconds: number): Promise<GateResult> {
  const run = async (backend: string): Promise<number | string> => await one(prom, `${g.name} on ${backend}`, renderQuery(g.query, { route: sides.route, backend, baseline: sides.baseline, windowSeconds }))
  const [c, b] = await Promise.all([run(sides.candidate), g.compare === 'baseline' ? run(sides.baseline) : undefined])
  const limit = g.min ?? g.max ?? 0
  const wait = (detail: string): GateResult => ({ gate: 'query', name: g.name, pass: undefined, value: undefined, limit, detail })
  if (typeof c === 'string') return wait(c)
  if (typeof b === 'string') return wait(b)
  if (b === 0) return wait(`${g.name}: ${fmt(c)} on ${sides.candidate}, but 0 on the baseline: no ratio yet`)
  const value = b === undefined ? c : c / b
  const pass = (g.min === undefined || value >= g.min) && (g.max === undefined || value <= g.max)
  const figures = b === undefined ? `${fmt(c)} on ${sides.candidate}` : `${fmt(c)} on ${sides.candidate} vs ${fmt(b)} on ${sides.baseline}: ratio ${fmt(value)}`
  return { gate: 'query', name: g.name, pass, value, limit, detail: `${g.name}: ${figures}, ${limits(g)}` }
}

/** Every query gate of a plan, over the window since `since` (or each gate's own window). */
export async function judgeQueries (gates: readonly QueryGate[], prom: PromQL, sides: WindowSides, stepMs: number): Promise<GateResult[]> {
  return await Promise.all(gates.map(async (g) => await judgeOne(g, prom, sides, (g.window ?? stepMs) / 1000)))
}

/** The driver's query gates on one Prometheus (ramps.prometheus). */
export function queryRunner (prom: PromQL, now: () => number = Date.now): (ramp: { readonly plan: { readonly gates: { readonly queries: readonly QueryGate[] } }, readonly sides: WindowSides }, since: number) => Promise<readonly GateResult[]> {
  return async (ramp, since) => await judgeQueries(ramp.plan.gates.queries, prom, ramp.sides, now() - since)
}
