/** The rollback guard's rule and state machine on their own: injected clock and dice, no sockets. */
import t from 'tap'
import { Guard, type GuardState } from '../../src/safety/guard.js'
import { errorVerdict, latencyVerdict, rankZ, quantileOf, Z } from '../../src/safety/guard-rule.js'
import { DEFAULTS } from '../../src/config/config.js'

/** A 10 s window: the confirmation is a sixth of it (1.7 s). */
const config = { ...DEFAULTS.guard, window: 10_000, minRequests: 10, cooldown: 1_000, probeFraction: 0.5, probeRequests: 6 }

interface Stream { n: number, from: number, gap: number, error?: (i: number) => boolean, seconds?: (i: number) => number | undefined, client?: (i: number) => string }

/** n requests on one side, `gap` ms apart; returns the time after the last. */
function stream (guard: Guard, side: 'candidate' | 'baseline', s: Stream): number {
  for (let i = 0; i < s.n; i++) guard.observe('orders', side, s.error?.(i) ?? false, s.seconds === undefined ? 0.02 : s.seconds(i), s.client?.(i) ?? `10.0.${side === 'baseline' ? 0 : 1}.${i % 10}`, s.from + i * s.gap)
  return s.from + s.n * s.gap
}

function recorded (cfg = config, dice: () => number = () => 0): { guard: Guard, changes: string[], trips: Array<{ at: string, cause: string, clients: number | undefined, consecutive: number, rule: string }> } {
  const changes: string[] = []
  const trips: Array<{ at: string, cause: string, clients: number | undefined, consecutive: number, rule: string }> = []
  const guard = new Guard({ trip: (_r, trip) => trips.push(trip), change: (r, from, to, why) => changes.push(`${r}: ${from} → ${to} (${why})`) }, dice)
  guard.configure(new Map([['orders', cfg]]))
  return { guard, changes, trips }
}

/** Healthy baseline, then a candidate failing every request from ten addresses for `ms`. */
function failFor (guard: Guard, from: number, ms: number): number {
  stream(guard, 'baseline', { n: 100, from: from - 5000, gap: 50 })
  return stream(guard, 'candidate', { n: ms / 100, from, gap: 100, error: () => true })
}

t.test('the error test: significant, and worse by at least half the limit', async (t) => {
  t.match(errorVerdict({ n: 10, errors: 1 }, { n: 100, errors: 0 }, 0.05), { regressed: false }, 'one error in ten: not significant')
  t.match(errorVerdict({ n: 10, errors: 3 }, { n: 100, errors: 0 }, 0.05), { regressed: true, effect: 0.3 }, 'three in ten against none in a hundred')
  t.match(errorVerdict({ n: 10_000, errors: 220 }, { n: 10_000, errors: 0 }, 0.05), { regressed: false }, '+2.2 points is significant but under half of +5')
  t.match(errorVerdict({ n: 10_000, errors: 270 }, { n: 10_000, errors: 10 }, 0.05), { regressed: true }, '+2.6 points is past half of +5')
  t.match(errorVerdict({ n: 600, errors: 130 }, { n: 600, errors: 118 }, 0.05), { regressed: false }, 'both failing together: no difference to speak of')
  t.match(errorVerdict({ n: 20, errors: 0 }, { n: 20, errors: 0 }, 0.05), { regressed: false, z: 0 }, 'no errors anywhere: no evidence')
  t.match(errorVerdict({ n: 20, errors: 20 }, { n: 0, errors: 0 }, 0.05), { regressed: true }, 'without a baseline, every request failing is evidence')
  t.match(errorVerdict({ n: 30, errors: 12 }, { n: 0, errors: 0 }, 0.05), { regressed: true }, 'without a baseline, judged against 0 %')
  t.match(errorVerdict({ n: 10, errors: 3 }, { n: 100, errors: 0 }, 0.05).detail, /^5xx 30\.00 % vs 0\.00 % \(z \d+\.\d, needs 4 and \+2\.5 points\)$/)
})

t.test('the latency test: a rank test and the p90 ratio, with a floor', async (t) => {
  const sorted = (xs: number[]): Float64Array => Float64Array.from(xs).sort()
  t.equal(rankZ(sorted([1, 2, 3]), sorted([])), 0)
  t.ok(Math.abs(rankZ(sorted([1, 2, 3, 4]), sorted([1, 2, 3, 4]))) < 1e-9, 'equal samples: z 0')
  t.ok(rankZ(sorted([5, 6, 7, 8, 9, 10, 11, 12, 13, 14]), sorted([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])) > 2, 'shifted up: positive')
  t.ok(rankZ(sorted([1, 2, 3]), sorted([4, 5, 6])) < 0, 'faster: negative')
  t.equal(quantileOf(sorted([]), 0.9), 0)
  t.equal(quantileOf(sorted(Array.from({ length: 10 }, (_, i) => i + 1)), 0.9), 9)
  const base = sorted(Array.from({ length: 200 }, (_, i) => 0.01 + i * 0.0005))
  const x2 = sorted([...base].map((v) => v * 2))
  t.match(latencyVerdict(x2, base, 2, 50), { regressed: true, effect: 2 }, '×2: significant, past √2 and +99 ms at the p90')
  const tiny = sorted(Array.from({ length: 200 }, (_, i) => 0.001 + i * 0.00005))
  t.match(latencyVerdict(sorted([...tiny].map((v) => v * 5)), tiny, 2, 50), { regressed: false }, '×5 of a 1 ms route is under the 50 ms floor')
  const slow = sorted([...base].map((v) => v * 5))
  t.match(latencyVerdict(slow, base, 2, 50), { regressed: true }, '×5: significant, past √2 and the floor')
  t.match(latencyVerdict(sorted([...base].map((v) => v * 1.3)), base, 2, 1), { regressed: false }, '×1.3 is under √2')
  t.match(latencyVerdict(base, base, 2, 50), { regressed: false, z: 0 })
  t.match(latencyVerdict(slow, base, 2, 50).detail, /^p90 \d+\.\d ms vs \d+\.\d ms, 5\.00× \(rank z \d+\.\d, needs 4, 1\.41× and \+50 ms\)$/)
  t.equal(Z, 4)
})

t.test('state machine: trip on errors once confirmed, cool down, probe, release or re-open', async (t) => {
  const changes: Array<[GuardState, GuardState]> = []
  let dice = 0
  const guard = new Guard({ trip: () => {}, change: (_r, from, to) => changes.push([from, to]) }, () => (dice++ % 2) / 2)
  guard.configure(new Map([['orders', config]]))
  let now = 1_000_000
  stream(guard, 'baseline', { n: 100, from: now - 5000, gap: 50 })
  now = stream(guard, 'candidate', { n: 9, from: now, gap: 100, error: () => true })
  t.equal(guard.stateOf('orders'), 'closed', 'not judged before minRequests')
  now = stream(guard, 'candidate', { n: 10, from: now, gap: 100, error: () => true })
  t.equal(guard.stateOf('orders'), 'closed', 'a regression seen for a second is not yet confirmed')
  now = stream(guard, 'candidate', { n: 10, from: now, gap: 100, error: () => true })
  t.equal(guard.stateOf('orders'), 'open', 'confirmed: tripped')
  t.equal(guard.admit('orders', now + 500), 'baseline', 'open: everything to the baseline')
  t.equal(guard.admit('orders', now + 1500), 'candidate', 'cool-down over: probing lets a fraction through')
  t.equal(guard.admit('orders', now + 1600), 'baseline')
  t.equal(guard.stateOf('orders'), 'probing')
  stream(guard, 'candidate', { n: 2, from: now + 1700, gap: 1, error: () => true })
  t.equal(guard.stateOf('orders'), 'probing', 'two probe failures are under half of six probe requests')
  t.match(guard.status(now + 1702).orders, { state: 'probing', probe: { requests: 2, errors: 2 } })
  stream(guard, 'candidate', { n: 1, from: now + 1703, gap: 1, error: () => true })
  t.equal(guard.stateOf('orders'), 'open', 'the third fails it')
  t.match(guard.status(now + 1705).orders, { lastTrip: { consecutive: 2, rule: /^probe: 5xx 100\.0 % of 3/ } }, 'the second trip in a row: it held through the probe')
  t.equal(guard.admit('orders', now + 3000), 'candidate')
  // Probe requests spread over several seconds still add up.
  stream(guard, 'candidate', { n: 6, from: now + 3100, gap: 1500 })
  t.equal(guard.stateOf('orders'), 'closed', 'a healthy probe releases')
  t.same(changes, [['closed', 'open'], ['open', 'probing'], ['probing', 'open'], ['open', 'probing'], ['probing', 'closed']])
})

t.test('a trip needs evidence from minClients addresses; one address counts for at most its share', async (t) => {
  const few = recorded({ ...config, minClients: 5 })
  stream(few.guard, 'baseline', { n: 100, from: 2_000_000, gap: 50 })
  stream(few.guard, 'candidate', { n: 100, from: 2_000_000, gap: 100, error: () => true, client: (i) => `203.0.113.${i % 4}` })
  t.equal(few.guard.stateOf('orders'), 'closed', 'four addresses failing every request: below minClients')
  const five = recorded({ ...config, minClients: 5 })
  stream(five.guard, 'baseline', { n: 100, from: 2_000_000, gap: 50 })
  stream(five.guard, 'candidate', { n: 100, from: 2_000_000, gap: 100, error: () => true, client: (i) => `203.0.113.${i % 5}` })
  t.equal(five.guard.stateOf('orders'), 'open', 'five do')
  t.match(five.trips, [{ cause: 'error_ratio', clients: 5, consecutive: 1 }])

  // One loud address among nineteen healthy ones: its failures count for 5 % of the span at most.
  const loud = recorded({ ...config, minClients: 1, maxClientShare: 0.05 })
  stream(loud.guard, 'baseline', { n: 200, from: 3_000_000, gap: 50 })
  stream(loud.guard, 'candidate', { n: 200, from: 3_000_000, gap: 50, error: (i) => i % 20 === 0 || i % 20 === 1, client: (i) => i % 20 <= 1 ? '203.0.113.66' : `10.0.1.${i % 20}` })
  t.equal(loud.guard.stateOf('orders'), 'closed', '10 % errors, all from one address, capped at its 5 %')
})

t.test('what a quiet route, a flag-on and a shared failure do not trip', async (t) => {
  const shared = recorded()
  stream(shared.guard, 'baseline', { n: 300, from: 4_000_000, gap: 100, error: (i) => i % 5 === 0 })
  stream(shared.guard, 'candidate', { n: 300, from: 4_000_000, gap: 100, error: (i) => i % 5 === 1, client: (i) => `10.0.1.${i % 10}` })
  t.equal(shared.guard.stateOf('orders'), 'closed', 'both backends at 20 % 5xx: nothing to blame the new one for')
  const flagOn = recorded()
  stream(flagOn.guard, 'baseline', { n: 20, from: 5_000_000, gap: 500 })
  stream(flagOn.guard, 'candidate', { n: 20, from: 5_000_000, gap: 500, error: (i) => i === 3, seconds: (i) => i === 7 ? 0.5 : 0.02 })
  t.equal(flagOn.guard.stateOf('orders'), 'closed', 'a fresh window: one error and one slow request are noise')
  const quiet = recorded()
  stream(quiet.guard, 'baseline', { n: 150, from: 6_000_000, gap: 2000 })
  stream(quiet.guard, 'candidate', { n: 150, from: 6_000_000, gap: 2000 })
  t.match(quiet.guard.status(6_300_000).orders?.judged, { spanSeconds: 600, requests: { candidate: 150, baseline: 150 } }, 'at half a request a second the span stretches back ten minutes for evidence')
})

t.test('latency trips on a real slowdown from many addresses, not on pauses or one address', async (t) => {
  const slow = recorded()
  stream(slow.guard, 'baseline', { n: 300, from: 7_000_000, gap: 20, seconds: (i) => 0.02 + (i % 10) * 0.002 })
  stream(slow.guard, 'candidate', { n: 300, from: 7_000_000, gap: 20, seconds: (i) => 0.1 + (i % 10) * 0.01 })
  t.equal(slow.guard.stateOf('orders'), 'open', '×5 on every request')
  t.match(slow.trips, [{ cause: 'latency', clients: 10, rule: /^p90 .* \(rank z/ }])
  const pauses = recorded()
  stream(pauses.guard, 'baseline', { n: 300, from: 7_000_000, gap: 20, seconds: (i) => 0.02 + (i % 10) * 0.002 })
  stream(pauses.guard, 'candidate', { n: 300, from: 7_000_000, gap: 20, seconds: (i) => i % 50 === 0 ? 0.5 : 0.02 + (i % 10) * 0.002 })
  t.equal(pauses.guard.stateOf('orders'), 'closed', 'one request in fifty paused 500 ms: not a regression')
  const one = recorded({ ...config, minClients: 2 })
  stream(one.guard, 'baseline', { n: 300, from: 7_000_000, gap: 20 })
  stream(one.guard, 'candidate', { n: 300, from: 7_000_000, gap: 20, seconds: () => 0.5, client: () => '203.0.113.7' })
  t.equal(one.guard.stateOf('orders'), 'closed', 'every slow sample from one address: no trip')
  const few = recorded()
  stream(few.guard, 'baseline', { n: 49, from: 7_000_000, gap: 100 })
  stream(few.guard, 'candidate', { n: 49, from: 7_000_000, gap: 100, seconds: () => 0.5 })
  t.equal(few.guard.stateOf('orders'), 'closed', '49 latencies a side: not judged')
  const noAnswer = recorded()
  stream(noAnswer.guard, 'baseline', { n: 100, from: 7_000_000, gap: 50 })
  stream(noAnswer.guard, 'candidate', { n: 100, from: 7_000_000, gap: 50, error: () => true, seconds: () => undefined })
  t.match(noAnswer.trips, [{ cause: 'error_ratio' }], 'a backend that never answers fails on errors, with no latency to judge')
})

t.test('status shows each side and the evidence as the rule saw it', async (t) => {
  const { guard } = recorded()
  const now = 8_000_000
  stream(guard, 'baseline', { n: 100, from: now, gap: 1, error: (i) => i < 4, seconds: (i) => (i + 1) / 1000 })
  stream(guard, 'candidate', { n: 12, from: now + 200, gap: 20, seconds: (i) => 0.002 * (i + 1) })
  const s = guard.status(now + 500).orders
  t.match(s, { state: 'closed', trips: 0, lastTrip: undefined, probe: undefined, candidate: { count: 12, errorRatio: 0, timed: 12 }, baseline: { count: 100, errorRatio: 0.04, p99: 0.099, timed: 100 } })
  t.match(s?.judged, { requests: { baseline: 100 }, clients: 10, failingClients: 0, errors: { regressed: false, detail: /^5xx 0\.00 % vs 4\.00 %/ }, latency: undefined, suspectSince: undefined })
  t.strictSame(guard.status(now + 100 + 11_000).orders?.baseline, { count: 0, errorRatio: 0, p99: 0, timed: 0 }, 'a window and a bucket later the window is empty')
})

t.test('a healthy probe closes the guard and forgets the failures that tripped it', async (t) => {
  const { guard, changes } = recorded({ ...config, probeRequests: 4 })
  const end = failFor(guard, 9_000_000, 3000)
  t.equal(guard.stateOf('orders'), 'open')
  guard.admit('orders', end + 2000)
  stream(guard, 'candidate', { n: 4, from: end + 2000, gap: 1 })
  t.equal(changes.at(-1), 'orders: probing → closed (probe healthy over 4 requests)')
  t.match(guard.status(end + 2004).orders, { state: 'closed', probe: undefined, candidate: { count: 0 } })
})

t.test('an operator reset closes an open guard; a reload keeps state unless the window changed', async (t) => {
  const { guard, changes } = recorded()
  guard.configure(new Map([['orders', config], ['search', config]]))
  failFor(guard, Date.now() - 10_000, 3000)
  t.equal(guard.stateOf('orders'), 'open')
  t.strictSame(guard.reset('orders'), ['orders'])
  t.equal(guard.stateOf('orders'), 'closed')
  t.equal(changes.at(-1), 'orders: open → closed (reset by an operator)')
  t.strictSame(guard.reset(), ['orders', 'search'], 'no route: every guarded route')
  t.strictSame(guard.reset('nope'), [])
  failFor(guard, Date.now() - 6_000, 3000)
  guard.configure(new Map([['orders', { ...config, cooldown: 60_000 }]]))
  t.equal(guard.stateOf('orders'), 'open', 'a new cool-down keeps the trip')
  t.equal(guard.admit('orders'), 'baseline', 'and uses the new cool-down')
  guard.configure(new Map([['orders', { ...config, window: 20_000 }]]))
  t.equal(guard.stateOf('orders'), 'closed', 'a new window starts afresh')
  guard.configure(new Map())
  t.strictSame(guard.status(), {})
  t.equal(guard.admit('orders'), 'candidate', 'an unguarded route is never diverted')
})

t.test('the address memory is bounded: past 4,096 addresses the oldest are forgotten', async (t) => {
  const { guard } = recorded({ ...config, minClients: 4097, maxClientShare: 1 })
  stream(guard, 'baseline', { n: 100, from: 10_000_000, gap: 10 })
  stream(guard, 'candidate', { n: 5000, from: 10_000_000, gap: 1, error: () => true, client: (i) => `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}` })
  t.equal(guard.stateOf('orders'), 'closed', '5,000 failing addresses are remembered as 4,096')
})

t.test('a closed guard admits every request whatever the dice say', async (t) => {
  const { guard } = recorded(config, () => 0.99)
  t.equal(guard.admit('orders'), 'candidate')
  t.equal(guard.admit('nope'), 'candidate')
})

t.test('the span stretches back until each side has 400 requests, and no further', async (t) => {
  // Two a second for five minutes: 400 requests are the last 200 seconds.
  const { guard } = recorded()
  const from = 20_000_000
  stream(guard, 'baseline', { n: 600, from, gap: 500 })
  const end = stream(guard, 'candidate', { n: 600, from, gap: 500 })
  t.match(guard.judgedOf('orders'), { spanSeconds: 200, requests: { candidate: 400, baseline: 400 } }, `judged over the last 200 s (${end - from} ms of traffic)`)
  // Busy: the window alone holds enough.
  const busy = recorded()
  stream(busy.guard, 'baseline', { n: 2000, from, gap: 10 })
  stream(busy.guard, 'candidate', { n: 2000, from, gap: 10 })
  // Counted in whole seconds: the window's first second is counted whole (the baseline ran ahead of the last judgement).
  t.match(busy.guard.judgedOf('orders'), { spanSeconds: 10, requests: { candidate: 1081, baseline: 1100 } }, 'at 100 a second, the 10 s window')
  // Quiet on one side only: the span stops where the busier side has its 400.
  const lopsided = recorded()
  stream(lopsided.guard, 'baseline', { n: 600, from, gap: 500 })
  stream(lopsided.guard, 'candidate', { n: 300, from, gap: 1000 })
  t.match(lopsided.guard.judgedOf('orders'), { spanSeconds: 199, requests: { candidate: 200, baseline: 400 } }, 'the candidate at one a second is judged on the baseline\'s 200 s')
})

t.test('latencies: the newest 4,096 a side, counted from the span\'s first instant, sorted before the p99', async (t) => {
  const { guard } = recorded()
  stream(guard, 'candidate', { n: 5000, from: 0, gap: 1, seconds: (i) => (5000 - i) / 1000 })
  const s = guard.status(5000).orders?.candidate
  t.equal(s?.timed, 4096, 'a full ring holds its capacity, not more')
  t.equal(s?.p99, 4.056, 'the p99 of the newest 4,096, sorted (they arrived slowest first)')
  const edge = recorded()
  stream(edge.guard, 'candidate', { n: 3, from: 0, gap: 1000, seconds: () => 0.01 })
  t.equal(edge.guard.status(10_000).orders?.candidate.timed, 3, 'a latency at exactly the window\'s start counts; nothing beyond the ring\'s size does')
  t.equal(edge.guard.status(10_001).orders?.candidate.timed, 2)
})

t.test('addresses: an old one comes back fresh; ones outside the span are not counted', async (t) => {
  const { guard } = recorded({ ...config, minClients: 1 })
  const from = 30_000_000
  // 203.0.113.9 failed once, eleven minutes ago.
  guard.observe('orders', 'candidate', true, 0.02, '203.0.113.9', from - 660_000)
  stream(guard, 'baseline', { n: 200, from, gap: 50 })
  stream(guard, 'candidate', { n: 200, from, gap: 50, client: (i) => i % 2 === 0 ? '203.0.113.9' : `10.0.1.${i % 10}` })
  t.match(guard.judgedOf('orders'), { clients: 6, failingClients: 0 }, 'its old failure is forgotten, and it counts once')
  // Five addresses seen only 20 s ago, outside a busy route's 10 s span.
  const old = recorded({ ...config, minClients: 1 })
  stream(old.guard, 'candidate', { n: 5, from: from - 20_000, gap: 1, client: (i) => `198.51.100.${i}` })
  stream(old.guard, 'baseline', { n: 2000, from: from - 10_000, gap: 5 })
  stream(old.guard, 'candidate', { n: 2000, from: from - 10_000, gap: 5 })
  t.match(old.guard.judgedOf('orders'), { clients: 10 }, 'only the ten addresses of the span')
})

t.test('what counts as evidence against the new backend', async (t) => {
  // The baseline has too few requests to judge by: the new backend is judged against 0 %.
  const thin = recorded()
  stream(thin.guard, 'baseline', { n: 5, from: 40_000_000, gap: 100, error: () => true })
  stream(thin.guard, 'candidate', { n: 100, from: 40_000_000, gap: 50, error: (i) => i % 2 === 0 })
  t.equal(thin.guard.stateOf('orders'), 'open', 'five failing baseline requests do not excuse 50 % 5xx')
  // Two addresses fail everything among ten: errors enough, but not from minClients addresses.
  const two = recorded()
  stream(two.guard, 'baseline', { n: 200, from: 41_000_000, gap: 50 })
  stream(two.guard, 'candidate', { n: 200, from: 41_000_000, gap: 50, error: (i) => i % 10 < 2 })
  t.match(two.guard.judgedOf('orders'), { failingClients: 2, errors: { regressed: true } }, 'the test alone says regressed')
  t.equal(two.guard.stateOf('orders'), 'closed', 'but two failing addresses are not five')
  // Five addresses failing everything, 500 requests: each counts for up to a fifth of them.
  const five = recorded()
  stream(five.guard, 'baseline', { n: 500, from: 42_000_000, gap: 20 })
  stream(five.guard, 'candidate', { n: 500, from: 42_000_000, gap: 20, error: () => true, client: (i) => `203.0.113.${i % 5}` })
  t.equal(five.guard.stateOf('orders'), 'open', 'five addresses, all failing: tripped')
  // Latency is judged from 50 samples a side (minRequests is 10), not fewer.
  for (const [n, judged] of [[49, false], [50, true]] as const) {
    const l = recorded()
    // 200 ms apart: every request is judged.
    stream(l.guard, 'baseline', { n, from: 43_000_000, gap: 200 })
    stream(l.guard, 'candidate', { n, from: 43_000_000, gap: 200, seconds: () => 0.3 })
    t.equal(l.guard.judgedOf('orders')?.latency !== undefined, judged, `${n} latencies a side: ${judged ? '' : 'not '}judged`)
  }
})

t.test('confirmation, trip and cool-down, to the millisecond', async (t) => {
  const { guard, changes, trips } = recorded({ ...config, window: 60_000 })
  const from = 50_000_000
  stream(guard, 'baseline', { n: 200, from: from - 10_000, gap: 50 })
  let suspectSince: string | undefined
  for (let i = 0; i < 100 && trips.length === 0; i++) {
    guard.observe('orders', 'candidate', true, 0.02, `10.0.1.${i % 10}`, from + i * 100)
    suspectSince ??= guard.judgedOf('orders')?.suspectSince
  }
  const judged = guard.status(from + 10_000).orders
  t.equal(guard.stateOf('orders'), 'open')
  t.equal(trips.length, 1)
  t.equal(judged?.trips, 1, 'one trip counted')
  const trip = trips[0] as { at: string }
  t.equal(Date.parse(trip.at) - Date.parse(suspectSince ?? ''), 5000, 'a regression is confirmed for exactly 5 s before the trip')
  t.equal(changes[0], 'orders: closed → open (tripped on error_ratio)')
  const tripped = Date.parse(trip.at)
  t.equal(guard.admit('orders', tripped + 999), 'baseline', 'cool-down: 1 s')
  t.equal(guard.admit('orders', tripped + 1000), 'candidate', 'over at exactly its end')
  t.equal(changes[1], 'orders: open → probing (cool-down over, probing the new backend)')
})

t.test('while a regression is confirmed, status names since when', async (t) => {
  const { guard } = recorded({ ...config, window: 60_000 })
  const from = 51_000_000
  stream(guard, 'baseline', { n: 200, from: from - 10_000, gap: 50 })
  stream(guard, 'candidate', { n: 30, from, gap: 100, error: () => true })
  const j = guard.judgedOf('orders')
  t.equal(guard.stateOf('orders'), 'closed', 'not yet confirmed')
  t.ok(j?.suspectSince !== undefined && Date.parse(j.suspectSince) >= from && Date.parse(j.suspectSince) < from + 3000, `suspect since ${j?.suspectSince}`)
  t.equal(guard.reset('orders', 'vera').length, 1)
  t.same(guard.status(from + 3000).orders?.candidate.count, 0, 'a reset forgets the evidence being confirmed')
  stream(guard, 'candidate', { n: 1, from: from + 9000, gap: 1 })
  t.equal(guard.stateOf('orders'), 'closed', 'and nothing trips on it afterwards')
})

t.test('probes: judged against the baseline\'s own ratio, at a tie not tripped, and not carried over', async (t) => {
  const p = recorded({ ...config, maxErrorRatioIncrease: 0.5, probeRequests: 6 })
  const end = failFor(p.guard, 60_000_000, 3000)
  t.equal(p.guard.stateOf('orders'), 'open')
  p.guard.admit('orders', end + 2000)
  // ok, fail, ok, fail: 50 %, exactly baseline 0 % + 0.5: not past it.
  stream(p.guard, 'candidate', { n: 4, from: end + 2000, gap: 1, error: (i) => i % 2 === 1 })
  t.equal(p.guard.stateOf('orders'), 'probing', 'a probe at exactly the limit does not trip')
  stream(p.guard, 'candidate', { n: 2, from: end + 2010, gap: 1 })
  t.equal(p.guard.stateOf('orders'), 'closed', 'and six probes release it')
  // Tripped again: the next probe starts from nothing.
  const end2 = failFor(p.guard, end + 20_000, 3000)
  t.equal(p.guard.stateOf('orders'), 'open')
  p.guard.admit('orders', end2 + 2000)
  stream(p.guard, 'candidate', { n: 1, from: end2 + 2000, gap: 1, error: () => true })
  t.equal(p.guard.stateOf('orders'), 'probing', 'one probe of a new round is not judged on the last round\'s six')
  // The probe's rule names the baseline's own ratio.
  const b = recorded()
  stream(b.guard, 'baseline', { n: 100, from: 70_000_000 - 5000, gap: 50, error: (i) => i % 10 === 0 })
  const e = stream(b.guard, 'candidate', { n: 30, from: 70_000_000, gap: 100, error: () => true })
  t.equal(b.guard.stateOf('orders'), 'open')
  b.guard.admit('orders', e + 2000)
  stream(b.guard, 'candidate', { n: 3, from: e + 2000, gap: 1, error: () => true })
  t.match(b.trips.at(-1), { rule: 'probe: 5xx 100.0 % of 3 vs 10.00 %' })
  // A baseline too thin to judge by counts as 0 %, even when it failed.
  const thin = recorded({ ...config, maxErrorRatioIncrease: 0.4 })
  const e3 = failFor(thin.guard, 80_000_000, 3000)
  thin.guard.admit('orders', e3 + 2000)
  stream(thin.guard, 'baseline', { n: 5, from: e3 + 1000, gap: 1, error: () => true })
  stream(thin.guard, 'candidate', { n: 3, from: e3 + 2000, gap: 1, error: (i) => i < 2 })
  t.equal(thin.guard.stateOf('orders'), 'open', 'two of three probes failing is past 0 % + 40 %')
})

t.test('a reset of a closed guard changes nothing', async (t) => {
  const { guard, changes } = recorded()
  guard.reset('orders')
  t.same(changes, [])
})
