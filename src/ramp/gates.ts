/**
 * A ramp step judged on its window: the new backend against the route's baseline on
 * the same route in the same window. Pure; docs/ramp-plans.md has the arithmetic.
 * Figures are checked first (sanity.ts): what cannot be a count, a ratio or a latency
 * makes the step wait, never pass.
 */
import type { RampConfig } from '../config/config.js'
import type { SideFigures, WindowFigures } from './figures.js'
import { unusable } from './sanity.js'
import { proportionZ, rankZFromBuckets } from '../safety/guard-rule.js'

/**
 * How sure a failed gate must be before it steps a ramp back: a one-sided z of 3
 * (p ≈ 0.0013 per look). A figure past its limit but not yet that sure makes the step
 * wait for more evidence; it never passes.
 */
export const RAMP_Z = 3

export interface GateResult {
  readonly gate: 'errors' | 'client_errors' | 'latency' | 'parity' | 'query' | 'check'
  /** A query gate's or check's name (gates.queries[].name, gates.checks[].name). */
  readonly name?: string
  /** undefined: not judged yet (too little evidence). */
  readonly pass: boolean | undefined
  /** Errors: the new backend's 5xx (or 4xx) ratio minus the baseline's. Latency: p99 ratio. Parity: matches over compared. */
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
  /** Set when the figures could not be judged at all (a bad or missing answer): how long that lasts is watched. */
  readonly noEvidence?: string
}

const pct = (x: number): string => `${(x * 100).toFixed(2)} %`
const ms = (s: number | undefined): string => s === undefined ? 'none' : `${(s * 1000).toFixed(1)} ms`

/** Baseline requests needed for a comparison: a tenth of minRequests, at least one. */
export function baselineMinimum (plan: RampConfig): number {
  return Math.max(1, Math.ceil(plan.minRequests / 10))
}

/** What is missing before this side's evidence may decide anything. */
function short (plan: RampConfig, name: string, s: SideFigures, minRequests: number): string[] {
  const out: string[] = []
  if (s.requests < minRequests) out.push(`${s.requests} of ${minRequests} requests on ${name}`)
  if (s.sources !== undefined && s.sources.users < plan.minUsers) out.push(`${s.sources.users} of ${plan.minUsers} distinct users on ${name}`)
  if (s.sources !== undefined && s.sources.addresses < plan.minAddresses) out.push(`${s.sources.addresses} of ${plan.minAddresses} distinct client addresses on ${name}`)
  return out
}

function errorGate (plan: RampConfig, c: SideFigures, b: SideFigures): GateResult {
  const limit = plan.gates.maxErrorRatioIncrease
  const increase = c.errors / c.requests - b.errors / b.requests
  const detail = `5xx ${pct(c.errors / c.requests)} on the new backend vs ${pct(b.errors / b.requests)} on the baseline: +${pct(Math.max(0, increase))}, limit +${pct(limit)}`
  const failing = c.sources === undefined ? undefined : Math.min(c.sources.failingUsers, c.sources.failingAddresses)
  if (increase > limit && failing !== undefined && failing < plan.minFailingClients) {
    // A handful of clients failing is not a backend failing: wait for more evidence.
    return { gate: 'errors', pass: undefined, value: increase, limit, detail: `${detail}, but the 5xx come from ${c.sources?.failingUsers} users and ${c.sources?.failingAddresses} addresses (at least ${plan.minFailingClients} of each needed)` }
  }
  return significant('errors', increase, limit, detail, proportionZ({ n: c.requests, errors: c.errors }, { n: b.requests, errors: b.errors }))
}

/** A gate past its limit fails only when the evidence is significant; until then the step waits. */
function significant (gate: GateResult['gate'], value: number, limit: number, detail: string, z: number): GateResult {
  if (value <= limit) return { gate, pass: true, value, limit, detail }
  if (z >= RAMP_Z) return { gate, pass: false, value, limit, detail: `${detail} (z ${z.toFixed(1)})` }
  return { gate, pass: undefined, value, limit, detail: `${detail}, not yet significant (z ${z.toFixed(1)} of ${RAMP_Z})` }
}

function clientErrorGate (plan: RampConfig, c: SideFigures, b: SideFigures): GateResult {
  const limit = plan.gates.maxClientErrorRatioIncrease
  const increase = c.clientErrors / c.requests - b.clientErrors / b.requests
  const detail = `4xx ${pct(c.clientErrors / c.requests)} on the new backend vs ${pct(b.clientErrors / b.requests)} on the baseline: +${pct(Math.max(0, increase))}, limit +${pct(limit)}`
  return significant('client_errors', increase, limit, detail, proportionZ({ n: c.requests, errors: c.clientErrors }, { n: b.requests, errors: b.clientErrors }))
}

function latencyGate (plan: RampConfig, c: SideFigures, b: SideFigures): GateResult {
  const limit = plan.gates.maxLatencyRatio
  const ratio = c.p99 === undefined || b.p99 === undefined || b.p99 === 0 ? undefined : c.p99 / b.p99
  const detail = `p99 ${ms(c.p99)} on the new backend vs ${ms(b.p99)} on the baseline: ${ratio === undefined ? 'no ratio yet' : `${ratio.toFixed(2)}×`}, limit ${limit}×`
  if (ratio === undefined) return { gate: 'latency', pass: undefined, value: ratio, limit, detail }
  const increaseMs = ((c.p99 as number) - (b.p99 as number)) * 1000
  if (ratio > limit && increaseMs < plan.gates.minLatencyIncrease) {
    // A few milliseconds either way on a fast route: past the ratio, but not slower in a way users feel.
    return { gate: 'latency', pass: true, value: ratio, limit, detail: `${detail}, but only +${increaseMs.toFixed(1)} ms (a failure needs +${plan.gates.minLatencyIncrease} ms)` }
  }
  // Where the histograms are known, a slow tail must come with a slower distribution (a rank test), not one pause.
  const z = c.buckets === undefined || b.buckets === undefined ? Infinity : rankZFromBuckets(c.buckets, b.buckets)
  return significant('latency', ratio, limit, detail, z)
}

function parityGate (plan: RampConfig, parity: NonNullable<WindowFigures['parity']>): GateResult {
  const compared = parity.match + parity.mismatch
  const value = compared === 0 ? undefined : parity.match / compared
  const judged = compared >= plan.minComparisons
  const few = parity.mismatchUsers !== undefined && parity.mismatch > 0 && parity.mismatchUsers < plan.minFailingClients
  if (judged && value !== undefined && value < plan.gates.minParity && few) {
    // One user's odd answers are not the new backend's parity: wait for more evidence.
    return { gate: 'parity', pass: undefined, value, limit: plan.gates.minParity, detail: `${parity.match} of ${compared} compared (user, endpoint) pairs match (${pct(value)}), but the mismatches come from ${parity.mismatchUsers} users (at least ${plan.minFailingClients} needed)` }
  }
  if (judged && value !== undefined && value < plan.gates.minParity) {
    // Is the mismatch rate above what minParity allows, or is this a benign rate's bad luck?
    const allowed = 1 - plan.gates.minParity
    const z = (parity.mismatch / compared - allowed) / Math.sqrt(Math.max(allowed * (1 - allowed), 1 / compared) / compared)
    if (z < RAMP_Z) return { gate: 'parity', pass: undefined, value, limit: plan.gates.minParity, detail: `${parity.match} of ${compared} compared (user, endpoint) pairs match (${pct(value)}), minimum ${pct(plan.gates.minParity)}, not yet significant (z ${z.toFixed(1)} of ${RAMP_Z})` }
  }
  return {
    gate: 'parity',
    pass: judged ? (value as number) >= plan.gates.minParity : undefined,
    value,
    limit: plan.gates.minParity,
    detail: judged
      ? `${parity.match} of ${compared} compared (user, endpoint) pairs of the next cohort match (${pct(value as number)}), minimum ${pct(plan.gates.minParity)}`
      : `${compared} of ${plan.minComparisons} (user, endpoint) pairs of the next cohort compared`
  }
}

export function judge (plan: RampConfig, f: WindowFigures, elapsedMs: number): Judgement {
  const bad = unusable(f)
  if (bad !== undefined) return { verdict: 'wait', reason: `waiting: no usable evidence (${bad})`, gates: [], figures: f, elapsedMs, noEvidence: bad }
  const { candidate: c, baseline: b } = f
  const missing = [...short(plan, 'the new backend', c, plan.minRequests), ...short(plan, 'the baseline', b, baselineMinimum(plan))]
  const gates: GateResult[] = missing.length === 0
    ? [errorGate(plan, c, b), clientErrorGate(plan, c, b), latencyGate(plan, c, b)]
    : [
        { gate: 'errors', pass: undefined, value: undefined, limit: plan.gates.maxErrorRatioIncrease, detail: 'not judged yet' },
        { gate: 'client_errors', pass: undefined, value: undefined, limit: plan.gates.maxClientErrorRatioIncrease, detail: 'not judged yet' },
        { gate: 'latency', pass: undefined, value: undefined, limit: plan.gates.maxLatencyRatio, detail: 'not judged yet' }
      ]
  if (f.parity !== undefined) gates.push(parityGate(plan, f.parity))
  const failed = gates.filter((g) => g.pass === false)
  if (failed.length > 0) return { verdict: 'fail', reason: `gate failed: ${failed.map((g) => `${g.gate} (${g.detail})`).join('; ')}`, gates, figures: f, elapsedMs }
  const waits = [...missing]
  if (elapsedMs < plan.hold) waits.push(`held ${Math.floor(elapsedMs / 1000)} s of ${Math.round(plan.hold / 1000)} s`)
  for (const g of gates) if (g.pass === undefined && g.detail !== 'not judged yet') waits.push(g.detail)
  if (waits.length > 0) return { verdict: 'wait', reason: `waiting: ${waits.join('; ')}`, gates, figures: f, elapsedMs }
  return { verdict: 'pass', reason: `gates passed: ${gates.map((g) => g.detail).join('; ')}`, gates, figures: f, elapsedMs }
}

/**
 * The built-in judgement with the plan's query gates added. A failed query fails the
 * step once the built-in gates have evidence to judge on; before that it waits, as a
 * built-in gate short of minRequests does.
 */
export function withGates (j: Judgement, queries: readonly GateResult[]): Judgement {
  if (queries.length === 0) return j
  const gates = [...j.gates, ...queries]
  const judged = j.gates.some((g) => g.pass !== undefined)
  const failed = queries.filter((g) => g.pass === false)
  if (j.verdict === 'fail') return { ...j, gates }
  if (failed.length > 0 && judged) return { ...j, verdict: 'fail', reason: `gate failed: ${failed.map((g) => `${g.gate} ${g.detail}`).join('; ')}`, gates }
  const pending = [...queries.filter((g) => g.pass === undefined), ...(judged ? [] : failed)].map((g) => g.detail)
  if (j.verdict === 'wait') return { ...j, reason: pending.length === 0 ? j.reason : `${j.reason}; ${pending.join('; ')}`, gates }
  if (pending.length > 0) return { ...j, verdict: 'wait', reason: `waiting: ${pending.join('; ')}`, gates }
  return { ...j, reason: `${j.reason}; ${queries.map((g) => g.detail).join('; ')}`, gates }
}
