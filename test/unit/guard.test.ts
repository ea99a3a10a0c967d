/** The rollback guard's state machine on its own: injected clock and dice, no sockets. */
import t from 'tap'
import { Guard, type GuardState } from '../../src/safety/guard.js'
import { DEFAULTS } from '../../src/config/config.js'

const config = { ...DEFAULTS.guard, window: 10_000, minRequests: 10, cooldown: 1_000, probeFraction: 0.5, probeRequests: 6 }

t.test('state machine: trip on errors, cool down, probe, release or re-open', async (t) => {
  const changes: Array<[GuardState, GuardState]> = []
  let dice = 0
  const guard = new Guard({ trip: () => {}, change: (_r, from, to) => changes.push([from, to]) }, () => (dice++ % 2) / 2)
  guard.configure(new Map([['orders', config]]))
  let now = 1_000_000
  for (let i = 0; i < 20; i++) guard.observe('orders', 'baseline', i === 0, 0.01, `10.0.0.${i}`, now)
  for (let i = 0; i < 9; i++) guard.observe('orders', 'candidate', true, 0.01, `10.0.0.${i}`, now += 300)
  t.equal(guard.stateOf('orders'), 'closed', 'not judged before minRequests')
  guard.observe('orders', 'candidate', true, 0.01, '10.0.0.99', now += 300)
  t.equal(guard.stateOf('orders'), 'open', 'tripped: 100 % errors vs 5 % on the baseline')
  t.equal(guard.admit('orders', now + 500), 'baseline', 'open: everything to the baseline')
  t.equal(guard.admit('orders', now + 1500), 'candidate', 'cool-down over: probing lets a fraction through')
  t.equal(guard.admit('orders', now + 1600), 'baseline')
  t.equal(guard.stateOf('orders'), 'probing')
  for (let i = 0; i < 4; i++) guard.observe('orders', 'candidate', true, 0.01, `10.0.0.${i}`, now + 1700 + i)
  t.equal(guard.stateOf('orders'), 'probing', 'probe failures from four clients are not enough (minClients 5)')
  guard.observe('orders', 'candidate', true, 0.01, '10.0.0.4', now + 1705)
  t.equal(guard.stateOf('orders'), 'open', 'a probe failing for five clients re-opens')
  t.match(guard.status(now + 1705).orders, { lastTrip: { consecutive: 2, clients: 5 } }, 'the second trip in a row: it held through the probe')
  t.equal(guard.admit('orders', now + 3000), 'candidate')
  // Probe requests spread over several seconds still add up.
  for (let i = 0; i < 6; i++) guard.observe('orders', 'candidate', false, 0.01, `10.0.0.${i}`, now + 3100 + i * 1500)
  t.equal(guard.stateOf('orders'), 'closed', 'a healthy probe releases')
  t.same(changes, [['closed', 'open'], ['open', 'probing'], ['probing', 'open'], ['open', 'probing'], ['probing', 'closed']])
  t.same(guard.reset('nope'), [])
})

/** `n` samples of `seconds` from ten addresses, `gap` ms apart from `from`; returns the time after the last. */
function feed (guard: Guard, side: 'candidate' | 'baseline', n: number, seconds: number, from: number, gap: number): number {
  for (let i = 0; i < n; i++) guard.observe('orders', side, false, seconds, `10.0.${side === 'baseline' ? 0 : 1}.${i % 10}`, from + i * gap)
  return from + n * gap
}

t.test('state machine: latency regression needs ratio and absolute increase, 100 samples a side, and a confirmation', async (t) => {
  const guard = new Guard({ trip: () => {}, change: () => {} })
  guard.configure(new Map([['orders', config]]))
  const now = 2_000_000
  feed(guard, 'baseline', 100, 0.001, now, 0)
  let at = feed(guard, 'candidate', 100, 0.004, now, 20)
  t.equal(guard.stateOf('orders'), 'closed', '4 ms vs 1 ms is 4x but under the 50 ms floor')
  at = feed(guard, 'candidate', 60, 0.3, at, 20)
  t.equal(guard.stateOf('orders'), 'closed', 'slow, but not yet for the confirmation time')
  feed(guard, 'candidate', 200, 0.3, at, 20)
  t.equal(guard.stateOf('orders'), 'open', 'still slow seconds later: tripped')
  t.match(guard.status(at + 6000).orders, { state: 'open', trips: 1, lastTrip: { cause: 'latency', clients: 10 } })
})

t.test('latency: one slow request among few is not a p99; one address alone cannot trip it', async (t) => {
  const few = new Guard({ trip: () => {}, change: () => {} })
  few.configure(new Map([['orders', config]]))
  feed(few, 'baseline', 99, 0.001, 1_000_000, 0)
  feed(few, 'candidate', 300, 0.5, 1_000_000, 20)
  t.equal(few.stateOf('orders'), 'closed', '99 baseline samples: latency is not judged')
  const one = new Guard({ trip: () => {}, change: () => {} })
  one.configure(new Map([['orders', { ...config, minClients: 2 }]]))
  feed(one, 'baseline', 100, 0.001, 1_000_000, 0)
  for (let i = 0; i < 400; i++) one.observe('orders', 'candidate', false, 0.5, '203.0.113.7', 1_000_000 + i * 20)
  t.equal(one.stateOf('orders'), 'closed', 'every slow sample from one address: no trip')
})

t.test('error trips need failures from minClients addresses; one address counts for at most maxClientShare', async (t) => {
  const trips: Array<{ clients: number | undefined }> = []
  const guard = new Guard({ trip: (_r, trip) => trips.push(trip), change: () => {} })
  guard.configure(new Map([['orders', { ...config, minClients: 3, maxClientShare: 0.2 }]]))
  const now = 3_000_000
  for (let i = 0; i < 20; i++) guard.observe('orders', 'baseline', false, 0.01, `10.0.0.${i}`, now)
  for (let i = 0; i < 50; i++) guard.observe('orders', 'candidate', true, 0.01, i % 2 === 0 ? '203.0.113.1' : '203.0.113.2', now + i)
  t.equal(guard.stateOf('orders'), 'closed', 'two addresses failing every request: below minClients')
  guard.observe('orders', 'candidate', true, 0.01, '203.0.113.3', now + 60)
  t.equal(guard.stateOf('orders'), 'open', 'a third failing address trips it')
  t.same(trips.map((x) => x.clients), [3])
  t.match(guard.status(now + 61).orders, { trips: 1, lastTrip: { cause: 'error_ratio', clients: 3, consecutive: 1 } })
})

t.test('one loud address among healthy ones: its errors are capped at its share of the window', async (t) => {
  const guard = new Guard({ trip: () => {}, change: () => {} })
  guard.configure(new Map([['orders', { ...config, minClients: 1, maxClientShare: 0.01, maxErrorRatioIncrease: 0.05 }]]))
  const now = 4_000_000
  for (let i = 0; i < 20; i++) guard.observe('orders', 'baseline', false, 0.01, `10.0.0.${i}`, now)
  // 100 healthy requests from 100 addresses, then 9 failures from one address: 8 %
  // of the window, but capped at 1 % of it (one request) it is under the +5 points.
  for (let i = 0; i < 100; i++) guard.observe('orders', 'candidate', false, 0.01, `198.51.100.${i}`, now + i)
  for (let i = 0; i < 9; i++) guard.observe('orders', 'candidate', true, 0.01, '203.0.113.66', now + 200 + i)
  t.equal(guard.stateOf('orders'), 'closed')
})

/** A guard on `orders` that records every event. */
function recorded (cfg = config): { guard: Guard, changes: string[], trips: unknown[] } {
  const changes: string[] = []
  const trips: unknown[] = []
  const guard = new Guard({ trip: (r, trip) => trips.push({ route: r, ...trip }), change: (r, from, to, why) => changes.push(`${r}: ${from} → ${to} (${why})`) }, () => 0)
  guard.configure(new Map([['orders', cfg]]))
  return { guard, changes, trips }
}

t.test('status reports each side over the window: count, error ratio and p99 of the latencies', async (t) => {
  const { guard } = recorded()
  const now = 5_000_000
  // Latencies 1..100 ms: the p99 is the 99th, 99 ms.
  for (let i = 1; i <= 100; i++) guard.observe('orders', 'baseline', i <= 4, i / 1000, `10.0.0.${i}`, now + i)
  for (let i = 1; i <= 5; i++) guard.observe('orders', 'candidate', false, 0.002 * i, `10.0.1.${i}`, now + 200 + i)
  t.strictSame(guard.status(now + 300).orders, {
    state: 'closed',
    since: guard.status(now).orders?.since,
    trips: 0,
    lastTrip: undefined,
    candidate: { count: 5, errorRatio: 0, p99: 0.01, timed: 5 },
    baseline: { count: 100, errorRatio: 0.04, p99: 0.099, timed: 100 },
    probe: undefined
  })
  // Counts are kept in one-second buckets: a window and a bucket later nothing is left.
  t.strictSame(guard.status(now + 100 + 11_000).orders?.baseline, { count: 0, errorRatio: 0, p99: 0, timed: 0 })
})

t.test('the window slides: requests older than it no longer count', async (t) => {
  const { guard } = recorded()
  const now = 6_000_000
  for (let i = 0; i < 20; i++) guard.observe('orders', 'baseline', false, 0.01, `10.0.0.${i}`, now + i * 1000)
  // Nine failures, then the tenth request comes a window later: only one is in the window.
  for (let i = 0; i < 9; i++) guard.observe('orders', 'candidate', true, 0.01, `10.0.1.${i}`, now + i)
  guard.observe('orders', 'candidate', true, 0.01, '10.0.1.9', now + 12_000)
  t.equal(guard.stateOf('orders'), 'closed', 'one request in the window is under minRequests')
  t.match(guard.status(now + 12_000).orders, { candidate: { count: 1, errorRatio: 1 } })
})

t.test('error ratios: the limit is not itself a regression; a small baseline counts as zero errors', async (t) => {
  const atLimit = recorded({ ...config, minClients: 1, maxClientShare: 1, maxErrorRatioIncrease: 0.1 })
  const now = 7_000_000
  for (let i = 0; i < 10; i++) atLimit.guard.observe('orders', 'baseline', i === 0, 0.01, `10.0.0.${i}`, now)
  // Baseline 10 % + 10 points = 20 %: two failures in ten is at the limit, not over it.
  for (let i = 0; i < 10; i++) atLimit.guard.observe('orders', 'candidate', i < 2, 0.01, `10.0.1.${i}`, now + i)
  t.equal(atLimit.guard.stateOf('orders'), 'closed', '20 % against a limit of 20 %')
  atLimit.guard.observe('orders', 'candidate', true, 0.01, '10.0.1.10', now + 11)
  atLimit.guard.observe('orders', 'candidate', true, 0.01, '10.0.1.11', now + 12)
  t.equal(atLimit.guard.stateOf('orders'), 'open', '4 in 12 is over it')

  const small = recorded({ ...config, minClients: 1, maxClientShare: 1, maxErrorRatioIncrease: 0.1 })
  // Nine baseline requests, all failing: below minRequests, judged as 0 % errors.
  for (let i = 0; i < 9; i++) small.guard.observe('orders', 'baseline', true, 0.01, `10.0.0.${i}`, now)
  for (let i = 0; i < 10; i++) small.guard.observe('orders', 'candidate', i < 2, 0.01, `10.0.1.${i}`, now + i)
  t.equal(small.guard.stateOf('orders'), 'open', '20 % against 0 % + 10 points')
  t.match(small.trips, [{ route: 'orders', cause: 'error_ratio', clients: 2, consecutive: 1, candidate: { count: 10, errorRatio: 0.2 }, baseline: { count: 9, errorRatio: 1 } }])
  t.strictSame(small.changes, ['orders: closed → open (tripped on error_ratio)'])
})

t.test('latency: strictly above the ratio, and more than the absolute floor', async (t) => {
  const equal = recorded({ ...config, maxLatencyRatio: 2, minLatencyIncrease: 50 })
  feed(equal.guard, 'baseline', 100, 0.1, 8_000_000, 0)
  const at = feed(equal.guard, 'candidate', 300, 0.2, 8_000_000, 20)
  t.equal(equal.guard.stateOf('orders'), 'closed', 'exactly twice the baseline is not more than twice')
  feed(equal.guard, 'candidate', 300, 0.201, at, 20)
  t.equal(equal.guard.stateOf('orders'), 'open', 'a millisecond more is')

  const floor = recorded({ ...config, maxLatencyRatio: 2, minLatencyIncrease: 50 })
  feed(floor.guard, 'baseline', 100, 0.02, 8_000_000, 0)
  feed(floor.guard, 'candidate', 300, 0.07, 8_000_000, 20)
  t.equal(floor.guard.stateOf('orders'), 'closed', '70 ms vs 20 ms: 3.5x, but exactly 50 ms more is not more than 50 ms')
})

t.test('a probe needs half its requests before it can fail, and is reported while it runs', async (t) => {
  const { guard, changes } = recorded({ ...config, minClients: 1, maxClientShare: 1, probeRequests: 6, cooldown: 1000 })
  const now = 10_000_000
  for (let i = 0; i < 10; i++) guard.observe('orders', 'baseline', false, 0.01, `10.0.0.${i}`, now)
  for (let i = 0; i < 10; i++) guard.observe('orders', 'candidate', true, 0.01, `10.0.1.${i}`, now + i)
  t.equal(guard.admit('orders', now + 999), 'baseline', 'still cooling down a millisecond before the end')
  t.equal(guard.stateOf('orders'), 'open')
  t.equal(guard.admit('orders', now + 1009), 'candidate', 'dice 0 is under probeFraction')
  guard.observe('orders', 'candidate', true, 0.01, '10.0.1.1', now + 1010)
  guard.observe('orders', 'candidate', true, 0.01, '10.0.1.2', now + 1011)
  t.equal(guard.stateOf('orders'), 'probing', 'two failures are under half of six probe requests')
  t.match(guard.status(now + 1011).orders, { state: 'probing', probe: { requests: 2, errors: 2 } })
  guard.observe('orders', 'candidate', true, 0.01, '10.0.1.3', now + 1012)
  t.equal(guard.stateOf('orders'), 'open', 'the third fails it')
  t.strictSame(changes, ['orders: closed → open (tripped on error_ratio)', 'orders: open → probing (cool-down over, probing the new backend)', 'orders: probing → open (tripped on error_ratio)'])
})

t.test('a healthy probe closes the guard and starts the window afresh', async (t) => {
  const { guard, changes } = recorded({ ...config, minClients: 1, maxClientShare: 1, probeRequests: 4, cooldown: 1000 })
  const now = 11_000_000
  for (let i = 0; i < 10; i++) guard.observe('orders', 'baseline', false, 0.01, `10.0.0.${i}`, now)
  for (let i = 0; i < 10; i++) guard.observe('orders', 'candidate', true, 0.01, `10.0.1.${i}`, now + i)
  guard.admit('orders', now + 2000)
  for (let i = 0; i < 4; i++) guard.observe('orders', 'candidate', false, 0.01, `10.0.1.${i}`, now + 2000 + i)
  t.equal(changes.at(-1), 'orders: probing → closed (probe healthy over 4 requests)')
  t.match(guard.status(now + 2004).orders, { state: 'closed', probe: undefined, candidate: { count: 0 } }, 'the failures before the trip are forgotten')
  // The failures that tripped it are forgotten too: nine new ones from other
  // addresses are not enough to trip again.
  for (let i = 0; i < 9; i++) guard.observe('orders', 'candidate', true, 0.01, `10.0.2.${i}`, now + 3000 + i)
  t.equal(guard.stateOf('orders'), 'closed')
})

t.test('an operator reset closes an open guard and forgets its failures; unknown routes are ignored', async (t) => {
  const { guard, changes } = recorded({ ...config, minClients: 1, maxClientShare: 1 })
  guard.configure(new Map([['orders', { ...config, minClients: 1, maxClientShare: 1 }], ['search', config]]))
  const now = Date.now()
  for (let i = 0; i < 10; i++) guard.observe('orders', 'candidate', true, 0.01, `10.0.1.${i}`, now + i)
  t.equal(guard.stateOf('orders'), 'open')
  t.strictSame(guard.reset('orders'), ['orders'])
  t.equal(guard.stateOf('orders'), 'closed')
  t.equal(changes.at(-1), 'orders: open → closed (reset by an operator)')
  t.match(guard.status().orders, { candidate: { count: 0 } })
  for (let i = 0; i < 9; i++) guard.observe('orders', 'candidate', true, 0.01, `10.0.2.${i}`, now + 100 + i)
  t.equal(guard.stateOf('orders'), 'closed', 'nine new failures are under minRequests: the old ones are gone')
  t.strictSame(guard.reset(), ['orders', 'search'], 'no route: every guarded route')
  t.equal(changes.length, 2, 'resetting a closed guard changes nothing')
  t.strictSame(guard.reset('nope'), [])
})

t.test('a reload keeps a route\'s state unless its window changed; a route no longer guarded is dropped', async (t) => {
  const { guard } = recorded({ ...config, minClients: 1, maxClientShare: 1 })
  const now = Date.now()
  for (let i = 0; i < 10; i++) guard.observe('orders', 'candidate', true, 0.01, `10.0.1.${i}`, now + i)
  guard.configure(new Map([['orders', { ...config, minClients: 1, maxClientShare: 1, cooldown: 5000 }]]))
  t.equal(guard.stateOf('orders'), 'open', 'a new cool-down keeps the trip')
  t.equal(guard.admit('orders', now + 3000), 'baseline', 'and uses the new cool-down')
  guard.configure(new Map([['orders', { ...config, window: 20_000 }]]))
  t.equal(guard.stateOf('orders'), 'closed', 'a new window starts afresh')
  guard.configure(new Map())
  t.equal(guard.stateOf('orders'), undefined)
  t.strictSame(guard.status(), {})
  t.equal(guard.admit('orders'), 'candidate', 'an unguarded route is never diverted')
})

t.test('failures from an address count again only within the window', async (t) => {
  const { guard, trips } = recorded({ ...config, minClients: 2, maxClientShare: 1, window: 10_000 })
  const now = 12_000_000
  guard.observe('orders', 'candidate', true, 0.01, '203.0.113.1', now)
  // 11.5 s later (a window and a one-second bucket) the first address fails again:
  // its earlier failure has left the window.
  for (let i = 0; i < 9; i++) guard.observe('orders', 'candidate', true, 0.01, '203.0.113.1', now + 11_500 + i)
  t.equal(guard.stateOf('orders'), 'closed', 'one address is under minClients')
  guard.observe('orders', 'candidate', true, 0.01, '203.0.113.2', now + 11_600)
  t.match(trips, [{ clients: 2, candidate: { count: 10, errorRatio: 1 } }])
})

t.test('one address failing every request counts with all its failures, up to its share', async (t) => {
  const { guard } = recorded({ ...config, minClients: 1, maxClientShare: 1, maxErrorRatioIncrease: 0.2 })
  const now = 13_000_000
  for (let i = 0; i < 10; i++) guard.observe('orders', 'candidate', true, 0.01, '203.0.113.9', now)
  t.equal(guard.stateOf('orders'), 'open', 'ten failures in ten requests from one address, allowed a 100 % share')
})

t.test('an address whose failures have all left the window is no longer a failing client', async (t) => {
  const { guard } = recorded({ ...config, minClients: 2, maxClientShare: 1, window: 10_000 })
  const now = 14_000_000
  guard.observe('orders', 'candidate', true, 0.01, '203.0.113.1', now)
  for (let i = 0; i < 10; i++) guard.observe('orders', 'candidate', true, 0.01, '203.0.113.2', now + 11_500 + i)
  t.equal(guard.stateOf('orders'), 'closed', 'one address in the window: under minClients 2')
})

t.test('the failing-address memory is bounded: past 4,096 addresses the oldest are forgotten', async (t) => {
  const { guard } = recorded({ ...config, minClients: 4097, maxClientShare: 1 })
  const now = 15_000_000
  for (let i = 0; i < 5000; i++) guard.observe('orders', 'candidate', true, 0.01, `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, now)
  t.equal(guard.stateOf('orders'), 'closed', '5,000 failing addresses are remembered as 4,096')
})

t.test('a closed guard admits every request whatever the dice say; a probe re-opens on latency too', async (t) => {
  const changes: string[] = []
  const trips: Array<{ cause: string }> = []
  const guard = new Guard({ trip: (_r, trip) => trips.push(trip), change: (_r, from, to) => changes.push(`${from} → ${to}`) }, () => 0.99)
  guard.configure(new Map([['orders', { ...config, minClients: 1, maxClientShare: 1, probeFraction: 1, probeRequests: 4, cooldown: 1000 }]]))
  t.equal(guard.admit('orders'), 'candidate')
  const now = 16_000_000
  for (let i = 0; i < 10; i++) guard.observe('orders', 'baseline', false, 0.001, `10.0.0.${i}`, now)
  for (let i = 0; i < 10; i++) guard.observe('orders', 'candidate', true, 0.001, `10.0.1.${i}`, now + i)
  t.equal(guard.admit('orders', now + 2000), 'candidate', 'probing with probeFraction 1')
  for (let i = 0; i < 2; i++) guard.observe('orders', 'candidate', true, 0.5, `10.0.1.${i}`, now + 2000 + i)
  t.strictSame(changes, ['closed → open', 'open → probing', 'probing → open'])
  t.strictSame(trips.map((x) => x.cause), ['error_ratio', 'error_ratio'], 'two failing probe requests re-open it; a probe\'s few latencies are not a p99 and are not judged')
})
