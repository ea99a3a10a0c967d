/** Merging replicas' timelines: a change all of them observe once, each replica's own doing its own. */
import t from 'tap'
import { mergeTimelines } from '../../src/timeline/fleet.js'
import type { Impact, TimelineEvent } from '../../src/timeline/event.js'

const at = (s: number): string => new Date(1_800_000_000_000 + s * 1000).toISOString()
let n = 0
const ev = (over: Partial<TimelineEvent> & { time: string }): TimelineEvent => ({ id: `e${++n}`, kind: 'flag_changed', routes: ['orders'], flag: 'f', before: 5, after: 20, cause: 'flag-source', summary: 's', configVersion: 'v1', instance: { host: 'h', pid: 1 }, ...over })

t.test('one flag edit seen by three replicas is one event naming them, in time order', async (t) => {
  const merged = mergeTimelines(new Map([
    ['a:1', [ev({ time: at(2) }), ev({ time: at(30), kind: 'guard_tripped', cause: 'guard', before: undefined, after: undefined, impact: { windowMs: 60_000, routes: {} } })]],
    ['b:1', [ev({ time: at(1), impact: { windowMs: 60_000, routes: {} } })]],
    ['c:1', [ev({ time: at(3) }), ev({ time: at(31), kind: 'guard_tripped', cause: 'guard', before: undefined, after: undefined })]]
  ]))
  t.equal(merged.length, 3, 'the edit once; each replica\'s guard trip on its own')
  t.same(merged[0]?.seenBy.map((s) => s.replica), ['b:1', 'a:1', 'c:1'], 'the first to see it first')
  t.equal(merged[0]?.time, at(1))
  t.same(merged.slice(1).map((e) => e.seenBy.map((s) => s.replica)), [['a:1'], ['c:1']])
  t.equal(merged[0]?.impact, undefined, 'one replica\'s impact is not shown as the fleet\'s')
  t.same(merged[1]?.impact, { windowMs: 60_000, routes: {} }, 'a replica\'s own event keeps its impact')
})

t.test('what is not the same change stays apart', async (t) => {
  const merged = mergeTimelines(new Map([
    ['a:1', [ev({ time: at(0) }), ev({ time: at(10) })]],
    ['b:1', [ev({ time: at(5), after: 25 }), ev({ time: at(100) })]]
  ]))
  t.same(merged.map((e) => [e.time, e.seenBy.map((s) => s.replica)]), [
    [at(0), ['a:1']],
    [at(5), ['b:1']],
    [at(10), ['a:1']],
    [at(100), ['b:1']]
  ], 'one replica twice is two events; another value is another change; more than a minute apart is another change')
})

t.test('the workers of one process: a drain is one event, and impacts add up', async (t) => {
  const side = (requests: number, share: number, errorRatio: number | null, p99: number | null): { requests: number, share: number, errorRatio: number | null, p99: number | null } => ({ requests, share, errorRatio, p99 })
  const drain = (time: string): TimelineEvent => ev({ time, kind: 'drain_started', routes: [], before: undefined, after: { reason: 'SIGTERM' }, cause: 'shutdown' })
  const replicas = mergeTimelines(new Map([['a:1', [drain(at(0))]], ['b:1', [drain(at(1))]]]))
  t.equal(replicas.length, 2, 'replicas drain each on its own')
  const workers = mergeTimelines(new Map([['worker 1', [drain(at(0))]], ['worker 2', [drain(at(1))]]]), { workers: true })
  t.same(workers.map((e) => e.seenBy.map((s) => s.replica)), [['worker 1', 'worker 2']], 'workers drain together')

  const impact = (legacy: number, django: number, errors: number | null, p99: number): Impact => ({
    windowMs: 60_000,
    routes: { orders: { legacy: { before: side(legacy, 1, 0, 0.01), after: side(legacy / 2, 0.5, 0, 0.01) }, django: { before: side(0, 0, null, null), after: side(django, 0.5, errors, p99) } } }
  })
  const merged = mergeTimelines(new Map([
    ['worker 1', [ev({ time: at(0), impact: impact(100, 50, 0.1, 0.2) })]],
    ['worker 2', [ev({ time: at(1), impact: impact(300, 150, 0, 0.4) })]]
  ]), { workers: true })
  const after = merged[0]?.impact?.routes.orders
  t.same(after?.django?.after, { requests: 200, share: 200 / 400, errorRatio: (0.1 * 50) / 200, p99: 0.4 }, 'requests summed, shares and error ratios weighted, p99 the highest')
  t.same(after?.legacy?.before, { requests: 400, share: 1, errorRatio: 0, p99: 0.01 })
  t.same(after?.django?.before, { requests: 0, share: 0, errorRatio: null, p99: null }, 'no requests: no ratio, no p99')

  const half = mergeTimelines(new Map([
    ['worker 1', [ev({ time: at(0), impact: impact(100, 50, 0, 0.2) })]],
    ['worker 2', [ev({ time: at(1) })]]
  ]), { workers: true })
  t.equal(half[0]?.impact, undefined, 'no sum until every worker has measured it')
})
