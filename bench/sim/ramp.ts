/**
 * `npm run sim:ramp`: the real ramp driver, gates and state machine
 * (src/ramp/driver.ts) with the plan defaults, an injected clock, the real evidence
 * series and per-client caps, and an in-memory flag. For identical backends (with and
 * without pauses) and for a benign shadow mismatch rate it prints the share of ramps
 * with any step back or abort; for regressions, the share stopped at the first step.
 * SIM_RUNS (default 20) trades time for precision.
 */
import pino from 'pino'
import { RampDriver } from '../../src/ramp/driver.js'
import type { RampRoute } from '../../src/ramp/view.js'
import { LocalFigures } from '../../src/ramp/figures.js'
import type { RampStore } from '../../src/ramp/store.js'
import type { RolloutTarget } from '../../src/ramp/targets.js'
import type { ShadowTraffic } from '../../src/safety/shadow.js'
import { EvidenceSeries } from '../../src/safety/evidence-series.js'
import { DEFAULTS } from '../../src/config/config.js'
import type { RampConfig } from '../../src/config/config.js'
import { HEALTHY, PAUSES, RATES, Side, median, rng, table, type Profile } from './traffic.js'

const RUNS = Number(process.env.SIM_RUNS ?? 20)
/** SIM_RATES=1,5,20 to run fewer traffic levels (1,000 req/s for hours of simulated ramps takes minutes a run). */
const LEVELS: readonly number[] = process.env.SIM_RATES === undefined ? RATES : process.env.SIM_RATES.split(',').map(Number)
const d = DEFAULTS.ramp
const PLAN: RampConfig = {
  steps: [1, 5, 25, 50, 100],
  hold: d.hold,
  minRequests: d.minRequests,
  minComparisons: d.minComparisons,
  minUsers: d.minUsers,
  minAddresses: d.minAddresses,
  minFailingClients: d.minFailingClients,
  gates: { maxErrorRatioIncrease: d.maxErrorRatioIncrease, maxClientErrorRatioIncrease: d.maxClientErrorRatioIncrease, maxLatencyRatio: d.maxLatencyRatio, minLatencyIncrease: d.minLatencyIncrease, minParity: d.minParity, queries: [], checks: [] },
  approve: new Set(),
  approvers: new Map(),
  windows: [],
  onFail: d.onFail,
  maxFailures: d.maxFailures,
  dryRun: false
}

interface Result { stepBacks: number, aborted: boolean, completed: boolean, firstStepFailed: boolean, seconds: number }

/** Pairs compared by shadow traffic, each from a new user: what LocalFigures reads of parity. */
class SimParity {
  pairs = 0
  mismatched = 0
  users = 0
  pairTotals (): { pairs: number, mismatched: number } { return { pairs: this.pairs, mismatched: this.mismatched } }
  mismatchUsers (): number { return this.users }
  markPairs (): void { this.users = 0 }
}

async function ramp (rate: number, seed: number, cand: Profile, mismatch: number | undefined, stopAtFirst: boolean): Promise<Result> {
  const random = rng(seed)
  let now = 0
  let rollout = 0
  const target: RolloutTarget = { where: 'memory', persistent: true, read: async () => rollout, write: async (_f, p) => { rollout = p }, release: () => {} }
  const store = { file: 'memory', load: () => new Map(), save: () => {} } as unknown as RampStore
  const evidence = new EvidenceSeries(DEFAULTS.evidence)
  const parity = new SimParity()
  const sides = { route: 'r', baseline: 'legacy', candidate: 'django', shadowed: mismatch !== undefined }
  const route: RampRoute = { route: 'r', flag: 'f', plan: PLAN, sides }
  let stepBacks = 0
  let aborted = false
  let completed = false
  let firstStepFailed = false
  const driver = new RampDriver({
    logger: pino({ level: 'silent' }),
    store,
    target,
    figures: new LocalFigures(evidence, () => parity as unknown as ShadowTraffic),
    ramps: () => [route],
    now: () => now,
    timeoutMs: 1000,
    transition: (_r, to, _rec, before) => {
      if (to === 'step_back') stepBacks++
      if (to === 'aborted') { aborted = true; if (before?.percent === PLAN.steps[0]) firstStepFailed = true }
      if (to === 'completed') completed = true
    }
  })
  const b = new Side(rate, random, 0)
  const c = new Side(rate, random, 0)
  const user = (): string => `u${Math.floor(random() * 100_000)}`
  const limit = stopAtFirst ? 3 * 3_600_000 : 12 * 3_600_000
  for (; now < limit && !aborted && !completed; now += 1000) {
    for (const r of b.until(now + 1000, PAUSES)) evidence.record('r', 'legacy', { status: r.error ? 500 : 200, seconds: r.seconds, address: r.client, user: user() }, r.t)
    for (const r of c.until(now + 1000, cand)) {
      const who = user()
      evidence.record('r', 'django', { status: r.error ? 500 : 200, seconds: r.seconds, address: r.client, user: who }, r.t)
      if (mismatch !== undefined) {
        parity.pairs++
        if (random() < mismatch) { parity.mismatched++; parity.users++ }
      }
    }
    await driver.tick()
    if (stopAtFirst && (stepBacks > 0 || rollout > PLAN.steps[0]!)) break
  }
  return { stepBacks, aborted, completed, firstStepFailed, seconds: now / 1000 }
}

const runsAt = (rate: number): number => rate >= 1000 ? Math.max(3, Math.floor(RUNS / 6)) : rate >= 100 ? Math.max(5, Math.floor(RUNS / 3)) : RUNS

const rows: string[][] = [['req/s per side', 'identical: any step back or abort', 'with pauses', 'parity 99.9 % (limit 99.5 %)', 'median time to complete']]
for (const rate of LEVELS) {
  const runs = runsAt(rate)
  let quiet = 0
  let paused = 0
  let parity = 0
  const times: number[] = []
  for (let i = 0; i < runs; i++) {
    const q = await ramp(rate, 10 + i, HEALTHY, undefined, false)
    if (q.stepBacks > 0 || q.aborted) quiet++
    if (q.completed) times.push(q.seconds)
    const p = await ramp(rate, 500 + i, PAUSES, undefined, false)
    if (p.stepBacks > 0 || p.aborted) paused++
    const m = await ramp(rate, 900 + i, PAUSES, 0.001, false)
    if (m.stepBacks > 0 || m.aborted) parity++
  }
  const t = median(times)
  rows.push([String(rate), `${quiet} of ${runs}`, `${paused} of ${runs}`, `${parity} of ${runs}`, t === undefined ? 'did not complete in 12 h' : `${(t / 3600).toFixed(1)} h`])
}
console.log('Ramp plans at the defaults (steps 1, 5, 25, 50, 100 %; hold 30 min; 500 requests; 10 users, 3 addresses; +1 point 5xx, ×1.5 p99, parity 99.5 %), identical backends\n')
console.log(table(rows))

const regressions: Array<[string, Profile]> = [
  ['latency ×2', { ...PAUSES, latencyFactor: 2 }],
  ['errors +5 points', { ...PAUSES, errorRatio: 0.051 }]
]
const det: string[][] = [['regression', ...LEVELS.map((r) => `${r} req/s`)]]
for (const [name, profile] of regressions) {
  const row = [name]
  for (const rate of LEVELS) {
    const runs = runsAt(rate)
    let stopped = 0
    const times: number[] = []
    for (let i = 0; i < runs; i++) {
      const r = await ramp(rate, 2000 + i, profile, undefined, true)
      if (r.firstStepFailed) {
        stopped++
        times.push(r.seconds)
      }
    }
    const t = median(times)
    row.push(`${stopped} of ${runs}${t === undefined ? '' : `, ${(t / 60).toFixed(0)} min`}`)
  }
  det.push(row)
}
console.log('\nStopped at the first step (aborted from 1 %), with the median time to the abort\n')
console.log(table(det))
