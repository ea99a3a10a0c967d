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

function recorded (cfg = config, dice: () => number = () => 0): { guard: Guard, changes: string[], trips: Array<{ cause: string, clients: number | undefined, consecutive: number, rule: string }> } {
  const changes: string[] = []
  const trips: Array<{ cause: string, clients: number | undefined, consecutive: number, rule: string }> = []
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
