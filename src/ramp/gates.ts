/**
 * A ramp step judged on its window: the new backend against the route's baseline on
 * the same route in the same window. Pure; docs/ramp-plans.md has the arithmetic.
 */
import type { RampConfig } from '../config/config.js'
import type { WindowFigures } from './figures.js'

export interface GateResult {
  readonly gate: 'errors' | 'latency' | 'parity'
  /** undefined: not judged yet (too few requests or comparisons). */
  readonly pass: boolean | undefined
  /** Errors: the new backend's 5xx ratio minus the baseline's. Latency: p99 ratio. Parity: matches over compared. */
  readonly value: number | undefined
  readonly limit: number
  readonly detail: string
}

export interface Judgement {
  /** wait: neither advance nor fail yet; pass: the step may advance; fail: a gate failed. */
  readonly verdict: 'wait' | 'pass' | 'fail'
  readonly reason: string
  readonly gates: readonly GateResult[]
  readonly figures: WindowFigures
  readonly elapsedMs: number
}

const pct = (x: number): string => `${(x * 100).toFixed(2)} %`
const ms = (s: number | undefined): string => s === undefined ? 'none' : `${(s * 1000).toFixed(1)} ms`

/** Baseline requests needed for a comparison: a tenth of minRequests, at least one. */
export function baselineMinimum (plan: RampConfig): number {
  return Math.max(1, Math.ceil(plan.minRequests / 10))
}

export function judge (plan: RampConfig, f: WindowFigures, elapsedMs: number): Judgement {
  const { candidate: c, baseline: b } = f
  const gates: GateResult[] = []
  const enough = c.requests >= plan.minRequests && b.requests >= baselineMinimum(plan)
  if (enough) {
    const increase = c.errors / c.requests - b.errors / b.requests
    gates.push({
      gate: 'errors',
      pass: increase <= plan.gates.maxErrorRatioIncrease,
      value: increase,
      limit: plan.gates.maxErrorRatioIncrease,
      detail: `5xx ${pct(c.errors / c.requests)} on the new backend vs ${pct(b.errors / b.requests)} on the baseline: +${pct(Math.max(0, increase))}, limit +${pct(plan.gates.maxErrorRatioIncrease)}`
    })
    // A baseline p99 of 0 (no finite bucket) cannot be divided by: the gate passes on it.
    const ratio = c.p99 === undefined || b.p99 === undefined || b.p99 === 0 ? undefined : c.p99 / b.p99
    gates.push({
      gate: 'latency',
      pass: ratio === undefined || ratio <= plan.gates.maxLatencyRatio,
      value: ratio,
      limit: plan.gates.maxLatencyRatio,
      detail: `p99 ${ms(c.p99)} on the new backend vs ${ms(b.p99)} on the baseline: ${ratio === undefined ? 'no ratio' : `${ratio.toFixed(2)}×`}, limit ${plan.gates.maxLatencyRatio}×`
    })
  } else {
    gates.push({ gate: 'errors', pass: undefined, value: undefined, limit: plan.gates.maxErrorRatioIncrease, detail: 'not judged yet' })
    gates.push({ gate: 'latency', pass: undefined, value: undefined, limit: plan.gates.maxLatencyRatio, detail: 'not judged yet' })
  }
  if (f.parity !== undefined) {
    const compared = f.parity.match + f.parity.mismatch
    const parity = compared === 0 ? undefined : f.parity.match / compared
    const judged = compared >= plan.minComparisons
    gates.push({
      gate: 'parity',
      pass: judged ? (parity as number) >= plan.gates.minParity : undefined,
      value: parity,
      limit: plan.gates.minParity,
      detail: judged
        ? `${f.parity.match} of ${compared} shadow comparisons of the next cohort match (${pct(parity as number)}), minimum ${pct(plan.gates.minParity)}`
        : `${compared} of ${plan.minComparisons} shadow comparisons of the next cohort`
    })
  }
  const failed = gates.filter((g) => g.pass === false)
  if (failed.length > 0) return { verdict: 'fail', reason: `gate failed: ${failed.map((g) => `${g.gate} (${g.detail})`).join('; ')}`, gates, figures: f, elapsedMs }
  const waits: string[] = []
  if (c.requests < plan.minRequests) waits.push(`${c.requests} of ${plan.minRequests} requests on the new backend`)
  if (b.requests < baselineMinimum(plan)) waits.push(`${b.requests} of ${baselineMinimum(plan)} requests on the baseline`)
  if (elapsedMs < plan.hold) waits.push(`held ${Math.floor(elapsedMs / 1000)} s of ${Math.round(plan.hold / 1000)} s`)
  const parity = gates.find((g) => g.gate === 'parity')
  if (parity !== undefined && parity.pass === undefined) waits.push(parity.detail)
  if (waits.length > 0) return { verdict: 'wait', reason: `waiting: ${waits.join('; ')}`, gates, figures: f, elapsedMs }
  return { verdict: 'pass', reason: `gates passed: ${gates.map((g) => g.detail).join('; ')}`, gates, figures: f, elapsedMs }
}
