/**
 * The rollback guard's decision rule, pure: two tests with known error rates and a
 * minimum effect, on both backends' evidence over the same span of time (so a failure
 * both share cancels out).
 *
 * - Errors: a two-proportion z-test of the new backend's 5xx ratio against the
 *   baseline's. A regression needs z ≥ Z (one-sided p ≈ 3·10⁻⁵ per look) and an
 *   observed increase of at least half the configured maxErrorRatioIncrease.
 * - Latency: a Mann–Whitney rank test (Kayenta's judgement) of the new backend's
 *   latencies against the baseline's, z ≥ Z, with the effect measured on the p90: at
 *   least √maxLatencyRatio times the baseline's (a ×2 regression reads ×2 there, well
 *   past √2) and more than minLatencyIncrease slower. p90, not p99: a p99 of a few
 *   hundred samples is one or two requests, and a garbage-collection pause is not a
 *   regression. The rank test needs no distribution and ignores a few outliers.
 * guard.ts confirms a regression before acting on it.
 */

/** One-sided significance a regression needs (z ≥ 4: p ≈ 3.2·10⁻⁵). */
export const Z = 4

export interface ErrorEvidence { readonly n: number, readonly errors: number }

export interface Verdict {
  readonly regressed: boolean
  /** The test statistic and what it was compared with, as /guard shows it. */
  readonly z: number
  readonly effect: number
  readonly detail: string
}

/**
 * The z of "c's ratio is above b's", a two-proportion test; b with n 0 counts as 0 %.
 * The Bernoulli variance is floored at 1/n: all errors against no baseline is strong
 * evidence, not a variance of 0. No difference at all is no evidence either way.
 */
export function proportionZ (c: ErrorEvidence, b: ErrorEvidence): number {
  const diff = (c.n === 0 ? 0 : c.errors / c.n) - (b.n === 0 ? 0 : b.errors / b.n)
  const pooled = b.n === 0 ? (c.n === 0 ? 0 : c.errors / c.n) : (c.errors + b.errors) / (c.n + b.n)
  const variance = Math.max(pooled * (1 - pooled), 1 / Math.max(1, c.n + b.n)) * (1 / Math.max(1, c.n) + (b.n === 0 ? 0 : 1 / b.n))
  return diff === 0 ? 0 : diff / Math.sqrt(variance)
}

/** Errors of the new backend (c) against the baseline (b); b with n 0 counts as 0 % (nothing to compare with). */
export function errorVerdict (c: ErrorEvidence, b: ErrorEvidence, maxIncrease: number): Verdict {
  const pc = c.n === 0 ? 0 : c.errors / c.n
  const pb = b.n === 0 ? 0 : b.errors / b.n
  const diff = pc - pb
  const z = proportionZ(c, b)
  const regressed = z >= Z && diff >= maxIncrease / 2
  return { regressed, z, effect: diff, detail: `5xx ${(pc * 100).toFixed(2)} % vs ${(pb * 100).toFixed(2)} % (z ${z.toFixed(1)}, needs ${Z} and +${(maxIncrease * 50).toFixed(1)} points)` }
}

/** The q-quantile of ascending values. */
export function quantileOf (sorted: Float64Array, q: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * q) - 1)] as number
}

/** Mann–Whitney z of `c` being larger than `b` (both ascending), with the tie correction left out (latencies rarely tie). */
export function rankZ (c: Float64Array, b: Float64Array): number {
  const n1 = c.length
  const n2 = b.length
  if (n1 === 0 || n2 === 0) return 0
  // U counts pairs (x in c, y in b) with x > y, ties half: one merge of the sorted lists.
  let u = 0
  let j = 0
  for (let i = 0; i < n1; i++) {
    const x = c[i] as number
    while (j < n2 && (b[j] as number) < x) j++
    let ties = 0
    while (j + ties < n2 && b[j + ties] === x) ties++
    u += j + ties / 2
  }
  const mean = n1 * n2 / 2
  const sd = Math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
  return (u - mean) / sd
}

/**
 * Mann–Whitney z from two histograms over the same buckets (per-bucket counts, not
 * cumulative): a sample is larger than every sample of the buckets below it and ties
 * half of its own bucket.
 */
export function rankZFromBuckets (c: readonly number[], b: readonly number[]): number {
  let n1 = 0
  let n2 = 0
  let u = 0
  for (let i = 0; i < c.length; i++) {
    const ci = c[i] ?? 0
    const bi = b[i] ?? 0
    u += ci * (n2 + bi / 2)
    n1 += ci
    n2 += bi
  }
  if (n1 === 0 || n2 === 0) return 0
  return (u - n1 * n2 / 2) / Math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
}

/** Latency of the new backend (c) against the baseline (b), both ascending seconds. */
export function latencyVerdict (c: Float64Array, b: Float64Array, maxRatio: number, minIncreaseMs: number): Verdict {
  const cp = quantileOf(c, 0.9)
  const bp = quantileOf(b, 0.9)
  const ratio = bp === 0 ? (cp === 0 ? 1 : Infinity) : cp / bp
  const z = rankZ(c, b)
  const regressed = z >= Z && ratio >= Math.sqrt(maxRatio) && (cp - bp) * 1000 > minIncreaseMs
  return { regressed, z, effect: ratio, detail: `p90 ${(cp * 1000).toFixed(1)} ms vs ${(bp * 1000).toFixed(1)} ms, ${ratio.toFixed(2)}× (rank z ${z.toFixed(1)}, needs ${Z}, ${Math.sqrt(maxRatio).toFixed(2)}× and +${minIncreaseMs} ms)` }
}
