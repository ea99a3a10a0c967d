/** A fleet's latency histogram from Prometheus: per-bucket samples for the rank test and the p99, and what is not a count. */
import t from 'tap'
import { perBucket } from '../../src/ramp/prometheus-figures.js'
import { unusable } from '../../src/ramp/sanity.js'
import { EVIDENCE_BUCKETS, evidenceP99 } from '../../src/safety/evidence-series.js'
import type { SideFigures } from '../../src/ramp/figures.js'

const le = (i: number): string => i === EVIDENCE_BUCKETS.length ? '+Inf' : String(EVIDENCE_BUCKETS[i])

t.test('cumulative le series become samples per bucket', async (t) => {
  // 10 samples at or under bucket 20, 5 more under 30, 1 in +Inf; the answer's order is Prometheus's, not ours.
  const series = Array.from({ length: EVIDENCE_BUCKETS.length + 1 }, (_, i) => ({ labels: { le: le(i) }, value: i < 20 ? 0 : i < 30 ? 10 : i < EVIDENCE_BUCKETS.length ? 15 : 16 })).reverse()
  const b = perBucket(series)
  t.equal(b.length, EVIDENCE_BUCKETS.length + 1)
  t.equal(b[20], 10)
  t.equal(b[30], 5)
  t.equal(b[EVIDENCE_BUCKETS.length], 1)
  t.equal(b.reduce((a, n) => a + n, 0), 16, 'every sample once')
  t.equal(evidenceP99(b), EVIDENCE_BUCKETS[EVIDENCE_BUCKETS.length - 1], 'a p99 in +Inf reads as the highest bound, as Prometheus answers')
})

t.test('extrapolation that dips under the bucket below is 0, not a negative count; unknown le is ignored', async (t) => {
  const b = perBucket([{ labels: { le: le(3) }, value: 4.02 }, { labels: { le: le(4) }, value: 3.98 }, { labels: { le: le(5) }, value: 6 }, { labels: { le: '0.0123' }, value: 99 }, { labels: {}, value: 7 }])
  t.equal(b[3], 4.02)
  t.equal(b[4], 0)
  t.ok(Math.abs((b[5] as number) - 1.98) < 1e-9)
  t.equal(b.reduce((a, n) => a + n, 0), 6, 'nothing from the unknown bucket or the unlabelled series')
})

t.test('a NaN bucket is named and the ramp waits', async (t) => {
  const b = perBucket([{ labels: { le: le(10) }, value: 5 }, { labels: { le: le(11) }, value: Number.NaN }])
  const side = (buckets?: number[]): SideFigures => ({ requests: 10, errors: 0, clientErrors: 0, p99: 0.01, ...(buckets === undefined ? {} : { buckets }), sources: undefined })
  t.equal(unusable({ candidate: side(b), baseline: side(), parity: undefined }), `new backend latency bucket le=${le(11)} is NaN, not a count`)
  t.equal(unusable({ candidate: side([1, 2]), baseline: side([0, -1]), parity: undefined }), 'baseline latency bucket le=0.00126 is -1, not a count')
  t.equal(unusable({ candidate: side([1, 2]), baseline: side([3]), parity: undefined }), undefined)
})
