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

t.test('state machine: latency regression needs ratio and absolute increase', async (t) => {
  const guard = new Guard({ trip: () => {}, change: () => {} })
  guard.configure(new Map([['orders', config]]))
  const now = 2_000_000
  for (let i = 0; i < 20; i++) guard.observe('orders', 'baseline', false, 0.001, `10.0.0.${i}`, now)
  for (let i = 0; i < 10; i++) guard.observe('orders', 'candidate', false, 0.004, `10.0.0.${i}`, now + i * 300)
  t.equal(guard.stateOf('orders'), 'closed', '4 ms vs 1 ms is 4x but under the 50 ms floor')
  for (let i = 0; i < 10; i++) guard.observe('orders', 'candidate', false, 0.3, `10.0.0.${i}`, now + 3000 + i * 300)
  t.equal(guard.stateOf('orders'), 'open')
  t.match(guard.status(now + 6000).orders, { state: 'open', trips: 1, lastTrip: { cause: 'latency' } })
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
