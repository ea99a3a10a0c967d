/** The ramp's pure cores, table-driven: the gates' arithmetic and the state machine. */
import t from 'tap'
import { judge } from '../../src/ramp/gates.js'
import { quantile } from '../../src/observe/request-series.js'
import { initialRecord, onAction, onJudgement, percentOf, fitToPlan, type RampRecord } from '../../src/ramp/machine.js'
import type { RampConfig } from '../../src/config/config.js'
import type { SideFigures } from '../../src/ramp/figures.js'
import type { Sources } from '../../src/safety/evidence-series.js'
import { restore } from '../../src/ramp/restore.js'
import { planHash, type SavedRamp } from '../../src/ramp/store.js'

const plan = (over: Partial<RampConfig> = {}): RampConfig => ({
  steps: [1, 5, 25, 50, 100],
  hold: 10_000,
  minRequests: 100,
  minComparisons: 20,
  minUsers: 1,
  minAddresses: 1,
  minFailingClients: 1,
  gates: { maxErrorRatioIncrease: 0.01, maxClientErrorRatioIncrease: 0.05, maxLatencyRatio: 1.5, minLatencyIncrease: 0, minParity: 0.99, queries: [], checks: [] },
  approve: new Set([50]),
  approvers: new Map(),
  windows: [],
  onFail: 'stepBack',
  maxFailures: 3,
  dryRun: false,
  ...over
})
const side = (requests: number, errors: number, p99: number | undefined): SideFigures => ({ requests, errors, clientErrors: 0, p99, sources: undefined })

t.test('gates: verdicts and reasons', async (t) => {
  const cases: Array<[string, Parameters<typeof judge>[1], number, 'wait' | 'pass' | 'fail', RegExp]> = [
    ['too few on the new backend', { candidate: side(99, 0, 0.01), baseline: side(5000, 0, 0.01), parity: undefined }, 60_000, 'wait', /^waiting: 99 of 100 requests on the new backend$/],
    ['too few on the baseline', { candidate: side(100, 0, 0.01), baseline: side(9, 0, 0.01), parity: undefined }, 60_000, 'wait', /^waiting: 9 of 10 requests on the baseline$/],
    ['hold not over', { candidate: side(100, 0, 0.01), baseline: side(100, 0, 0.01), parity: undefined }, 9_999, 'wait', /^waiting: held 9 s of 10 s$/],
    ['all pass', { candidate: side(100, 1, 0.015), baseline: side(100, 0, 0.01), parity: undefined }, 10_000, 'pass', /^gates passed: 5xx 1\.00 % on the new backend vs 0\.00 %.*: \+1\.00 %, limit \+1\.00 %; 4xx 0\.00 % .*; p99 15\.0 ms .* 10\.0 ms on the baseline: 1\.50×, limit 1\.5×$/],
    ['errors over, significant', { candidate: side(1000, 40, 0.01), baseline: side(1000, 9, 0.01), parity: undefined }, 10_000, 'fail', /^gate failed: errors \(5xx 4\.00 % on the new backend vs 0\.90 %.*\(z 4\.\d\)\)$/],
    ['errors over, not yet significant: wait, never pass', { candidate: side(100, 2, 0.01), baseline: side(1000, 9, 0.01), parity: undefined }, 10_000, 'wait', /^waiting: 5xx 2\.00 % on the new backend vs 0\.90 % on the baseline: \+1\.10 %, limit \+1\.00 %, not yet significant \(z 1\.\d of 3\)$/],
    ['errors fail before hold is over', { candidate: side(100, 50, 0.01), baseline: side(100, 0, 0.01), parity: undefined }, 1_000, 'fail', /gate failed: errors/],
    ['latency over', { candidate: side(100, 0, 0.0151), baseline: side(100, 0, 0.01), parity: undefined }, 10_000, 'fail', /^gate failed: latency \(p99 15\.1 ms/],
    ['no baseline p99: latency is not judged, the step waits', { candidate: side(100, 0, 0.5), baseline: side(100, 0, undefined), parity: undefined }, 10_000, 'wait', /no ratio yet/],
    ['parity pending', { candidate: side(100, 0, 0.01), baseline: side(100, 0, 0.01), parity: { match: 19, mismatch: 0 } }, 10_000, 'wait', /^waiting: 19 of 20 \(user, endpoint\) pairs of the next cohort compared$/],
    ['parity under, significant', { candidate: side(100, 0, 0.01), baseline: side(100, 0, 0.01), parity: { match: 90, mismatch: 10 } }, 10_000, 'fail', /^gate failed: parity \(90 of 100 compared \(user, endpoint\) pairs of the next cohort match \(90\.00 %\), minimum 99\.00 %\)$/],
    ['parity under by two pairs in a hundred: not yet significant', { candidate: side(100, 0, 0.01), baseline: side(100, 0, 0.01), parity: { match: 98, mismatch: 2 } }, 10_000, 'wait', /^waiting: 98 of 100 compared \(user, endpoint\) pairs match \(98\.00 %\), minimum 99\.00 %, not yet significant \(z 1\.0 of 3\)$/],
    ['parity at the minimum', { candidate: side(100, 0, 0.01), baseline: side(100, 0, 0.01), parity: { match: 99, mismatch: 1 } }, 10_000, 'pass', /99 of 100/]
  ]
  for (const [name, figures, elapsed, verdict, reason] of cases) {
    const j = judge(plan(), figures, elapsed)
    t.equal(j.verdict, verdict, name)
    t.match(j.reason, reason, `${name}: reason`)
  }
})

t.test('parity mismatches from fewer users than minFailingClients: the step waits for more', async (t) => {
  const p = plan({ minFailingClients: 3 })
  const figures = (mismatchUsers: number, match = 90, mismatch = 10): Parameters<typeof judge>[1] => ({ candidate: side(100, 0, 0.01), baseline: side(100, 0, 0.01), parity: { match, mismatch, mismatchUsers } })
  t.match(judge(p, figures(2), 10_000), { verdict: 'wait', reason: /^waiting: 90 of 100 compared \(user, endpoint\) pairs match \(90\.00 %\), but the mismatches come from 2 users \(at least 3 needed\)$/ })
  t.match(judge(p, figures(3), 10_000), { verdict: 'fail', reason: /^gate failed: parity/ }, 'three users: the gate judges')
  t.match(judge(p, figures(0, 100, 0), 10_000), { verdict: 'pass' }, 'no mismatch at all: nothing to wait for')
  t.match(judge(p, figures(1, 10, 5), 10_000), { verdict: 'wait', reason: /^waiting: 15 of 20 \(user, endpoint\) pairs of the next cohort compared$/ }, 'under minComparisons it is not judged yet')
})

t.test('quantile interpolates inside the bucket like histogram_quantile', async (t) => {
  t.equal(quantile([0.1, 0.2], [0, 0, 0], 0.99), undefined)
  t.equal(quantile([0.1, 0.2], [100, 0, 0], 0.5), 0.05)
  t.equal(quantile([0.1, 0.2], [50, 50, 0], 0.99), 0.1 + 0.1 * (49 / 50))
  t.equal(quantile([0.1, 0.2], [0, 0, 10], 0.99), 0.2, '+Inf answers the highest finite bound')
})

const pass = judge(plan(), { candidate: side(100, 0, 0.01), baseline: side(100, 0, 0.01), parity: undefined }, 10_000)
const fail = judge(plan(), { candidate: side(100, 50, 0.01), baseline: side(100, 0, 0.01), parity: undefined }, 10_000)
const at = (step: number, over: Partial<RampRecord> = {}): RampRecord => ({ flag: 'f', step, state: 'running', since: 0, failures: 0, reason: '', owned: true, updatedAt: 0, ...over })

t.test('the state machine: judgements', async (t) => {
  const cases: Array<[string, RampConfig, RampRecord, typeof pass, number, string, string | undefined]> = [
    ['pass: next step', plan(), at(0), pass, 5, 'running', 'step_up'],
    ['pass into an approval step: waits', plan(), at(2), pass, 25, 'awaiting_approval', 'awaiting_approval'],
    ['pass at the step before the last: completes', plan({ approve: new Set() }), at(3), pass, 100, 'completed', 'completed'],
    ['fail: one step back', plan(), at(2), fail, 5, 'running', 'step_back'],
    ['fail at the first step: abort', plan(), at(0), fail, 0, 'aborted', 'aborted'],
    ['fail with onFail abort', plan({ onFail: 'abort' }), at(3), fail, 0, 'aborted', 'aborted'],
    ['the third failure aborts', plan(), at(3, { failures: 2 }), fail, 0, 'aborted', 'aborted'],
    ['a paused ramp is not judged', plan(), at(2, { state: 'paused' }), fail, 25, 'paused', undefined]
  ]
  for (const [name, p, record, j, percent, state, transition] of cases) {
    const out = onJudgement(p, record, j, 1)
    t.same([percentOf(p, out.record), out.record.state, out.transition], [percent, state, transition], name)
  }
})

t.test('the state machine: a person\'s actions', async (t) => {
  const p = plan()
  const cases: Array<[string, RampRecord, Parameters<typeof onAction>[2], number | string, string]> = [
    ['approve a waiting step', at(2, { state: 'awaiting_approval' }), 'approve', 50, 'running'],
    ['approve when nothing waits', at(2), 'approve', 'nothing to approve: the ramp is running', ''],
    ['skip ignores the gates', at(1), 'skip', 25, 'running'],
    ['skip to the last step completes', at(3), 'skip', 100, 'completed'],
    ['pause holds the step', at(2), 'pause', 25, 'paused'],
    ['pause twice', at(2, { state: 'paused' }), 'pause', 'cannot pause a paused ramp', ''],
    ['resume', at(2, { state: 'paused', owned: false }), 'resume', 25, 'running'],
    ['resume a running ramp', at(2), 'resume', 'only a paused or aborted ramp resumes; this one is running', ''],
    ['abort', at(3), 'abort', 0, 'aborted'],
    ['resume after abort restarts at the first step', at(-1, { state: 'aborted', failures: 3 }), 'resume', 1, 'running']
  ]
  for (const [name, record, action, percent, state] of cases) {
    const out = onAction(p, record, action, 1, { name: 'tester' })
    if (typeof percent === 'string') t.equal(out, percent, name)
    else if (typeof out === 'string') t.fail(`${name}: ${out}`)
    else {
      t.same([percentOf(p, out.record), out.record.state], [percent, state], name)
      t.equal(out.record.owned, true, `${name}: the ramp owns the rollout afterwards`)
    }
  }
})

t.test('a new ramp and a changed plan never take users back', async (t) => {
  t.same([initialRecord(plan(), 'f', 0).step, initialRecord(plan({ approve: new Set([1]) }), 'f', 0).state], [0, 'awaiting_approval'])
  t.equal(fitToPlan(plan({ steps: [10, 20, 40] }), at(3), 25).step, 1, '25 % under steps 10/20/40 → 20 %')
  t.equal(fitToPlan(plan({ steps: [10, 20, 40] }), at(0), 5).step, -1, 'below the first step → 0 %')
})

t.test('what each judgement writes into the record: the reason a person reads in ramp status', async (t) => {
  const p = plan()
  const j = (verdict: 'wait' | 'pass' | 'fail', reason: string): typeof pass => ({ ...pass, verdict, reason })
  const cases: Array<[string, RampConfig, RampRecord, typeof pass, Partial<RampRecord>, string | undefined]> = [
    ['a wait keeps the step and its window, says why', p, at(1, { since: 5 }), j('wait', 'waiting: x'), { step: 1, state: 'running', since: 5, reason: 'waiting: x', updatedAt: 0 }, undefined],
    ['a pass enters the next step', p, at(1, { since: 5 }), j('pass', 'gates passed: y'), { step: 2, state: 'running', since: 9, reason: 'entered 25 %; gates passed: y', updatedAt: 9 }, 'step_up'],
    ['a pass before an approval step holds the window', p, at(2, { since: 5 }), j('pass', 'ok'), { step: 2, state: 'awaiting_approval', since: 5, reason: 'waits for approval to enter 50 %; ok', updatedAt: 9 }, 'awaiting_approval'],
    ['a pass at the last step completes in place', p, at(4), j('pass', 'ok'), { step: 4, state: 'completed', reason: 'ok', updatedAt: 9 }, 'completed'],
    ['a failure steps back one step and counts', p, at(2, { failures: 1 }), j('fail', 'gate failed: z'), { step: 1, failures: 2, since: 9, reason: 'stepped back from 25 % to 5 %: gate failed: z', updatedAt: 9 }, 'step_back'],
    ['the failure that reaches maxFailures aborts', p, at(3, { failures: 2 }), j('fail', 'gate failed: z'), { step: -1, state: 'aborted', failures: 3, since: 9, reason: 'aborted at 50 % (3 failures of 3): gate failed: z' }, 'aborted'],
    ['one failure under maxFailures does not abort', plan({ maxFailures: 2 }), at(3), j('fail', 'f'), { step: 2, failures: 1 }, 'step_back'],
    ['onFail: abort aborts on the first failure', plan({ onFail: 'abort' }), at(3), j('fail', 'f'), { step: -1, state: 'aborted', failures: 1, reason: 'aborted at 50 % (onFail: abort): f' }, 'aborted'],
    ['a failure at the first step has nowhere to step back to', p, at(0), j('fail', 'f'), { step: -1, state: 'aborted', reason: 'aborted at 1 % (no step below the first): f' }, 'aborted'],
    ['an awaiting ramp is not judged', p, at(2, { state: 'awaiting_approval', reason: 'r' }), j('fail', 'f'), { step: 2, state: 'awaiting_approval', reason: 'r' }, undefined]
  ]
  for (const [name, pl, record, judgement, want, transition] of cases) {
    const out = onJudgement(pl, record, judgement, 9)
    t.match(out.record, want, name)
    t.equal(out.transition, transition, `${name}: transition`)
  }
})

t.test('what each action writes into the record, and what it answers when it does not apply', async (t) => {
  const p = plan()
  const act = (record: RampRecord, action: Parameters<typeof onAction>[2]): ReturnType<typeof onAction> => onAction(p, record, action, 9, { name: 'ops@example' })
  t.match(act(at(2), 'pause'), { record: { state: 'paused', reason: 'paused at 25 % by ops@example', updatedAt: 9, step: 2 }, transition: 'paused' })
  t.match(act(at(2, { state: 'awaiting_approval' }), 'pause'), { record: { state: 'paused' } }, 'an awaiting ramp can be paused')
  for (const state of ['completed', 'aborted'] as const) t.equal(act(at(2, { state }), 'pause'), `cannot pause a ${state} ramp`)
  t.match(act(at(2, { state: 'paused', owned: false, since: 1 }), 'resume'), { record: { state: 'running', owned: true, since: 9, reason: 'resumed at 25 % by ops@example' }, transition: 'running' })
  t.equal(act(at(2, { state: 'awaiting_approval' }), 'resume'), 'only a paused or aborted ramp resumes; this one is awaiting_approval')
  t.match(act(at(-1, { state: 'aborted', failures: 3 }), 'resume'), { record: { step: 0, state: 'running', failures: 0, since: 9, reason: 'restarted by ops@example after an abort: started at 1 %' }, transition: 'step_up' })
  t.match(onAction(plan({ approve: new Set([1]) }), at(-1, { state: 'aborted' }), 'resume', 9, { name: 'ops' }), { record: { step: -1, state: 'awaiting_approval', reason: 'restarted by ops after an abort: waits for approval to enter 1 %' }, transition: 'awaiting_approval' })
  t.match(act(at(2, { state: 'awaiting_approval' }), 'approve'), { record: { step: 3, state: 'running', since: 9, reason: 'entered 50 %, approved by ops@example' }, transition: 'step_up' })
  t.match(act(at(3, { state: 'paused', owned: false }), 'skip'), { record: { step: 4, state: 'completed', owned: true, reason: 'skipped to 100 % by ops@example, without judging the gates of 50 %' }, transition: 'completed' })
  t.match(act(at(1, { state: 'awaiting_approval' }), 'skip'), { record: { step: 2, state: 'running' } }, 'skip passes an approval too')
  t.match(onAction(p, at(2), 'pause', 9, { name: 'alice', reason: 'the payment provider is down' }), { record: { reason: 'paused at 25 % by alice ("the payment provider is down")' } }, 'the reason is recorded with the name')
  for (const state of ['completed', 'aborted'] as const) t.equal(act(at(4, { state }), 'skip'), `cannot skip a ${state} ramp`)
  t.match(act(at(3, { owned: false }), 'abort'), { record: { step: -1, state: 'aborted', owned: true, since: 9, reason: 'aborted at 50 % by ops@example' }, transition: 'aborted' })
  t.match(act(at(2, { state: 'completed' }), 'abort'), { record: { state: 'aborted' } }, 'even a completed ramp can be taken back to 0 %')
  t.equal(act(at(-1, { state: 'aborted' }), 'abort'), 'the ramp is already aborted')
})

t.test('a new ramp\'s record, and a changed plan that keeps the step', async (t) => {
  t.strictSame(initialRecord(plan(), 'f', 7), { flag: 'f', step: 0, state: 'running', since: 7, failures: 0, reason: 'started at 1 %', owned: true, updatedAt: 7 })
  t.strictSame(initialRecord(plan({ approve: new Set([1]) }), 'f', 7), { flag: 'f', step: -1, state: 'awaiting_approval', since: 7, failures: 0, reason: 'waits for approval to enter 1 %', owned: true, updatedAt: 7 })
  const record = at(2)
  t.equal(fitToPlan(plan(), record, 25), record, 'the same step: the same record')
  t.equal(fitToPlan(plan({ steps: [10, 25, 50] }), at(2), 25).step, 1, 'a step equal to the old percentage is kept')
})

t.test('the gates each judgement reports, judged or not', async (t) => {
  const figures = { candidate: side(100, 2, 0.02), baseline: side(10, 0, 0.01), parity: { match: 0, mismatch: 0 } }
  t.strictSame(judge(plan(), figures, 10_000).gates, [
    { gate: 'errors', pass: undefined, value: 0.02, limit: 0.01, detail: '5xx 2.00 % on the new backend vs 0.00 % on the baseline: +2.00 %, limit +1.00 %, not yet significant (z 0.5 of 3)' },
    { gate: 'client_errors', pass: true, value: 0, limit: 0.05, detail: '4xx 0.00 % on the new backend vs 0.00 % on the baseline: +0.00 %, limit +5.00 %' },
    { gate: 'latency', pass: false, value: 2, limit: 1.5, detail: 'p99 20.0 ms on the new backend vs 10.0 ms on the baseline: 2.00×, limit 1.5× (z Infinity)' },
    { gate: 'parity', pass: undefined, value: undefined, limit: 0.99, detail: '0 of 20 (user, endpoint) pairs of the next cohort compared' }
  ], 'ten baseline requests are enough for a minRequests of 100')
  t.strictSame(judge(plan(), { ...figures, baseline: side(9, 0, 0.01), parity: undefined }, 10_000).gates, [
    { gate: 'errors', pass: undefined, value: undefined, limit: 0.01, detail: 'not judged yet' },
    { gate: 'client_errors', pass: undefined, value: undefined, limit: 0.05, detail: 'not judged yet' },
    { gate: 'latency', pass: undefined, value: undefined, limit: 1.5, detail: 'not judged yet' }
  ])
  const noP99 = judge(plan(), { candidate: side(100, 0, undefined), baseline: side(100, 0, 0), parity: undefined }, 10_000)
  t.match(noP99, { verdict: 'wait', gates: [{ gate: 'errors', value: 0 }, { gate: 'client_errors' }, { gate: 'latency', pass: undefined, value: undefined, detail: 'p99 none on the new backend vs 0.0 ms on the baseline: no ratio yet, limit 1.5×' }] }, 'no latency to compare: the step waits instead of passing')
  t.match(judge(plan(), { candidate: side(100, 1, 0.01), baseline: side(100, 2, 0.01), parity: undefined }, 10_000).gates[0], { pass: true, value: -0.01, detail: '5xx 1.00 % on the new backend vs 2.00 % on the baseline: +0.00 %, limit +1.00 %' }, 'fewer errors than the baseline')
  t.equal(judge(plan(), { candidate: side(99, 0, 0.01), baseline: side(5, 0, 0.01), parity: { match: 3, mismatch: 1 } }, 1000).reason,
    'waiting: 99 of 100 requests on the new backend; 5 of 10 requests on the baseline; held 1 s of 10 s; 4 of 20 (user, endpoint) pairs of the next cohort compared')
  t.match(judge(plan(), { candidate: side(100, 0, 0.02), baseline: side(100, 0, 0.01), parity: { match: 50, mismatch: 50 } }, 10_000).reason, /^gate failed: latency \(.*\); parity \(50 of 100 /, 'every failed gate is named')
})

t.test('figures that cannot be judged make the step wait, never pass', async (t) => {
  const good = side(1000, 0, 0.02)
  const cases: Array<[string, SideFigures, SideFigures, RegExp]> = [
    ['NaN requests', { ...good, requests: NaN }, good, /new backend requests is NaN, not a number/],
    ['NaN 5xx', { ...good, errors: NaN }, good, /new backend 5xx is NaN/],
    ['NaN p99', { ...good, p99: NaN }, good, /new backend p99 is NaN, not a latency/],
    ['+Inf p99', { ...good, p99: Infinity }, good, /new backend p99 is Infinity/],
    ['p99 past the top bucket', { ...good, p99: 120 }, good, /p99 is 120 s, outside the histogram/],
    ['negative requests', good, { ...good, requests: -5 }, /baseline requests is -5, a negative count/],
    ['more 5xx than requests', { ...good, errors: 2000 }, good, /4xx and 5xx \(2000\) exceed its requests \(1000\)/],
    ['-Inf 4xx', { ...good, clientErrors: -Infinity }, good, /new backend 4xx is -Infinity/]
  ]
  for (const [name, candidate, baseline, why] of cases) {
    const j = judge(plan({ hold: 1000 }), { candidate, baseline, parity: undefined }, 60_000)
    t.equal(j.verdict, 'wait', name)
    t.match(j.reason, /^waiting: no usable evidence \(/, `${name}: says there is no evidence`)
    t.match(j.noEvidence, why, `${name}: says which figure and what it was`)
  }
  const parity = judge(plan({ hold: 1000 }), { candidate: good, baseline: good, parity: { match: NaN, mismatch: 0 } }, 60_000)
  t.match([parity.verdict, parity.noEvidence], ['wait', /matching comparisons is NaN/], 'a NaN parity count waits')
})

t.test('a verdict needs several users and addresses; a 5xx failure needs several failing', async (t) => {
  const p = plan({ hold: 1000, minUsers: 10, minAddresses: 3, minFailingClients: 3 })
  const from = (users: number, addresses: number, failingUsers = 0, failingAddresses = 0): Sources => ({ users, addresses, failingUsers, failingAddresses })
  const few = judge(p, { candidate: { ...side(1000, 0, 0.01), sources: from(1, 1) }, baseline: { ...side(1000, 0, 0.01), sources: from(50, 9) }, parity: undefined }, 60_000)
  t.match([few.verdict, few.reason], ['wait', /1 of 10 distinct users on the new backend; 1 of 3 distinct client addresses on the new backend/], 'one client cannot move a step')
  const oneFailing = judge(p, { candidate: { ...side(1000, 90, 0.01), sources: from(40, 9, 1, 1) }, baseline: { ...side(1000, 0, 0.01), sources: from(50, 9) }, parity: undefined }, 60_000)
  t.match([oneFailing.verdict, oneFailing.reason], ['wait', /5xx come from 1 users and 1 addresses \(at least 3 of each needed\)/], 'one client\'s failures wait for more evidence')
  const many = judge(p, { candidate: { ...side(1000, 90, 0.01), sources: from(40, 9, 5, 4) }, baseline: { ...side(1000, 0, 0.01), sources: from(50, 9) }, parity: undefined }, 60_000)
  t.equal(many.verdict, 'fail', 'failures from many clients fail the gate')
  const clientErrors = judge(p, { candidate: { ...side(1000, 0, 0.01), clientErrors: 100, sources: from(40, 9) }, baseline: { ...side(1000, 0, 0.01), clientErrors: 10, sources: from(50, 9) }, parity: undefined }, 60_000)
  t.match([clientErrors.verdict, clientErrors.reason], ['fail', /gate failed: client_errors \(4xx 10\.00 % on the new backend vs 1\.00 %/], '4xx are judged apart from 5xx')
})

t.test('saved state is a percentage: an edited plan never resumes above it', async (t) => {
  const saved = (percent: number, over: Partial<SavedRamp> = {}): SavedRamp => ({ flag: 'f', percent, plan: planHash(plan({ steps: [1, 5, 25, 50, 100] })), state: 'running', since: 1, failures: 0, reason: 'r', owned: true, updatedAt: 1, ...over })
  const same = restore(plan(), saved(25), 9)
  t.same([same.step, same.state, same.reason], [2, 'running', 'r'], 'the same plan resumes where it was')
  const edited = plan({ steps: [25, 50, 75, 100] })
  const at5 = restore(edited, saved(5), 9)
  t.same([at5.step, at5.state, at5.owned], [-1, 'paused', false], 'no step at or below 5 %: paused, the rollout left alone')
  t.match(at5.reason, /no step of \[25, 50, 75, 100\] is at or below the saved 5 %/)
  const at30 = restore(edited, saved(30), 9)
  t.same([percentOf(edited, at30), at30.state], [25, 'running'], '30 % under an edited plan resumes at 25 %, never 50 %')
  t.match(at30.reason, /resumed at 25 %, the highest step at or below the saved 30 %/)
})

t.test('a slow tail alone is not a latency failure when the histograms say the distributions agree', async (t) => {
  const buckets = (counts: Record<number, number>): number[] => Array.from({ length: 50 }, (_, i) => counts[i] ?? 0)
  // Both mostly in bucket 14 (about 16 ms); the new backend's 1 % tail at bucket 27 (about 0.5 s).
  const pause = judge(plan({ hold: 1000 }), { candidate: { ...side(1000, 0, 0.5), buckets: buckets({ 14: 990, 27: 10 }) }, baseline: { ...side(1000, 0, 0.016), buckets: buckets({ 14: 1000 }) }, parity: undefined }, 60_000)
  t.match([pause.verdict, pause.reason], ['wait', /p99 500\.0 ms .*31\.25×, limit 1\.5×, not yet significant \(z 0\.\d of 3\)/], 'p99 ×31 from ten paused requests: waits')
  const slower = judge(plan({ hold: 1000 }), { candidate: { ...side(1000, 0, 0.032), buckets: buckets({ 17: 1000 }) }, baseline: { ...side(1000, 0, 0.016), buckets: buckets({ 14: 1000 }) }, parity: undefined }, 60_000)
  t.match([slower.verdict, slower.reason], ['fail', /^gate failed: latency \(p99 32\.0 ms .*2\.00×, limit 1\.5× \(z \d+\.\d\)\)$/], 'every request ×2: fails')
})

t.test('two-person approval: two different operators, each recorded; the same one twice is refused', async (t) => {
  const p = plan({ approve: new Set([50]), approvers: new Map([[50, 2]]) })
  const waiting = at(2, { state: 'awaiting_approval', approvals: [] })
  const first = onAction(p, waiting, 'approve', 9, { name: 'alice' })
  if (typeof first === 'string') return t.fail(first)
  t.match(first, { record: { step: 2, state: 'awaiting_approval', approvals: ['alice'], reason: 'waits for approval to enter 50 %: approved by alice, 1 of 2' }, transition: 'awaiting_approval' })
  t.equal(onAction(p, first.record, 'approve', 10, { name: 'alice' }), 'alice has already approved 50 %; it needs 2 different operators (approved so far: alice)')
  const second = onAction(p, first.record, 'approve', 11, { name: 'bob', reason: 'checked the dashboards' })
  if (typeof second === 'string') return t.fail(second)
  t.match(second, { record: { step: 3, state: 'running', reason: 'entered 50 %, approved by alice and bob ("checked the dashboards")' }, transition: 'step_up' })
  t.equal(second.record.approvals, undefined, 'the approvals end with the step')
  const single = onAction(plan({ approve: new Set([50]) }), waiting, 'approve', 9, { name: 'carol' })
  t.match(single, { record: { step: 3, reason: 'entered 50 %, approved by carol' } }, 'one approver where the plan asks for one')
})

t.test('a p99 past the ratio by a few milliseconds is not a latency failure (gates.minLatencyIncrease)', async (t) => {
  const floor = { ...plan(), gates: { ...plan().gates, minLatencyIncrease: 50 } }
  const fast = judge(floor, { candidate: side(100, 0, 0.0157), baseline: side(100, 0, 0.008), parity: undefined }, 10_000)
  t.match(fast.gates.find((g) => g.gate === 'latency'), { pass: true, detail: /1\.96×, limit 1\.5×, but only \+7\.7 ms \(a failure needs \+50 ms\)$/ })
  const slow = judge(floor, { candidate: side(100, 0, 0.2), baseline: side(100, 0, 0.1), parity: undefined }, 10_000)
  t.match(slow, { verdict: 'fail', reason: /^gate failed: latency \(p99 200\.0 ms/ }, '+100 ms past the ratio fails')
})
