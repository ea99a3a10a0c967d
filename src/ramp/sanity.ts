/**
 * Figures are checked before any gate sees them. A comparison with NaN is false
 * both ways, so an unchecked NaN would neither wait nor fail: it would pass. Any
 * figure that cannot be a count, a ratio or a latency means "no evidence", and the
 * ramp waits, saying which figure and what it was.
 */
import { EVIDENCE_BUCKETS } from '../safety/evidence-series.js'
import type { SideFigures, WindowFigures } from './figures.js'

/** The top finite bucket: a p99 beyond it cannot come from the histogram. */
const MAX_P99 = EVIDENCE_BUCKETS[EVIDENCE_BUCKETS.length - 1] as number

const shown = (x: unknown): string => typeof x === 'number' ? String(x) : JSON.stringify(x) ?? 'undefined'

function count (name: string, x: unknown): string | undefined {
  if (typeof x !== 'number' || !Number.isFinite(x)) return `${name} is ${shown(x)}, not a number`
  if (x < 0) return `${name} is ${x}, a negative count`
  return undefined
}

function side (name: string, s: SideFigures): string | undefined {
  const bad = count(`${name} requests`, s.requests) ?? count(`${name} 5xx`, s.errors) ?? count(`${name} 4xx`, s.clientErrors)
  if (bad !== undefined) return bad
  // Prometheus extrapolates increase() per series: a hair over is rounding, more is wrong.
  if (s.errors + s.clientErrors > s.requests * 1.001 + 1e-9) return `${name} 4xx and 5xx (${s.clientErrors + s.errors}) exceed its requests (${s.requests})`
  const bucket = s.buckets?.findIndex((n) => !Number.isFinite(n) || n < 0) ?? -1
  if (bucket >= 0) return `${name} latency bucket le=${EVIDENCE_BUCKETS[bucket] ?? '+Inf'} is ${shown(s.buckets?.[bucket])}, not a count`
  if (s.p99 === undefined) return undefined
  if (typeof s.p99 !== 'number' || !Number.isFinite(s.p99)) return `${name} p99 is ${shown(s.p99)}, not a latency`
  if (s.p99 < 0 || s.p99 > MAX_P99) return `${name} p99 is ${s.p99} s, outside the histogram (0 to ${MAX_P99} s)`
  return undefined
}

/** Why these figures cannot be judged, or undefined when every one is usable. */
export function unusable (f: WindowFigures): string | undefined {
  const bad = side('new backend', f.candidate) ?? side('baseline', f.baseline)
  if (bad !== undefined) return bad
  if (f.parity !== undefined) return count('matching comparisons', f.parity.match) ?? count('mismatching comparisons', f.parity.mismatch)
  return undefined
}
