/**
 * `npm run sim:guard`: the real rollback guard (src/safety/guard.ts) at its defaults,
 * driven with an injected clock over simulated hours of traffic at 1 to 1,000
 * requests per second per side. Prints false trips per hour and the share of the
 * cohort diverted with identical backends (with and without pauses), trips after a
 * flag-on and during a failure both backends share, and for each regression the share
 * detected within 30 minutes with the median time and requests to detection.
 * SIM_HOURS (default 20) and SIM_RUNS (default 40) trade time for precision;
 * SIM_RATES=20,100 runs fewer traffic levels, SIM_ONLY=false|detect one of the two
 * tables, SIM_REGRESSIONS=×2 the regressions whose name contains it.
 */
import { Guard } from '../../src/safety/guard.js'
import { DEFAULTS } from '../../src/config/config.js'
import { HEALTHY, PAUSES, RATES, Side, median, rng, table, type Profile } from './traffic.js'

const HOURS = Number(process.env.SIM_HOURS ?? 20)
const RUNS = Number(process.env.SIM_RUNS ?? 40)
const ROUTE = 'r'
const LEVELS: readonly number[] = process.env.SIM_RATES === undefined ? RATES : process.env.SIM_RATES.split(',').map(Number)
const ONLY = process.env.SIM_ONLY

interface Outcome { trips: number, diverted: number, candidate: number, firstTrip: number | undefined, requestsToTrip: number | undefined }

/** Phases of a run: each side's profile from `at` ms on. */
interface Phase { readonly at: number, readonly baseline: Profile, readonly candidate: Profile }

/** Runs both sides until `until` ms through the phases; a trip diverts the cohort to the baseline, as the proxy does. */
function run (rate: number, seed: number, until: number, phases: readonly Phase[]): Outcome {
  const random = rng(seed)
  let trips = 0
  let firstTrip: number | undefined
  let requestsToTrip: number | undefined
  const g = new Guard({ trip: (_r, trip) => { trips++; firstTrip ??= Date.parse(trip.at) }, change: () => {} }, random)
  g.configure(new Map([[ROUTE, { ...DEFAULTS.guard }]]))
  const b = new Side(rate, random, 0)
  const c = new Side(rate, random, 0)
  let diverted = 0
  let candidate = 0
  let sinceChange = 0
  for (let t = 0; t < until; t += 1000) {
    const phase = [...phases].reverse().find((p) => p.at <= t) as Phase
    for (const r of b.until(t + 1000, phase.baseline)) g.observe(ROUTE, 'baseline', r.error, r.seconds, r.client, r.t)
    for (const r of c.until(t + 1000, phase.candidate)) {
      candidate++
      if (phase.at > 0) sinceChange++
      if (g.admit(ROUTE, r.t) === 'baseline') {
        // Diverted: the baseline answers it.
        diverted++
        g.observe(ROUTE, 'baseline', random() < phase.baseline.errorRatio, r.seconds / phase.candidate.latencyFactor * phase.baseline.latencyFactor, r.client, r.t)
        continue
      }
      g.observe(ROUTE, 'candidate', r.error, r.seconds, r.client, r.t)
      if (trips > 0 && requestsToTrip === undefined) requestsToTrip = sinceChange
    }
  }
  return { trips, diverted, candidate, firstTrip, requestsToTrip }
}

const same = (p: Profile): Phase[] => [{ at: 0, baseline: p, candidate: p }]

const pct = (x: number): string => `${(x * 100).toFixed(x < 0.01 && x > 0 ? 2 : 1)} %`
const rows: string[][] = [['req/s per side', 'false trips/h', 'diverted', 'false trips/h (pauses)', 'diverted (pauses)', 'trips after flag-on (10 min)', 'trips in a shared failure (10 min)']]
for (const rate of ONLY === 'detect' ? [] : LEVELS) {
  // Fewer hours at high rates: the event count, not the clock, is what costs.
  const hours = Math.max(0.25, Math.min(HOURS, HOURS * 20 / rate))
  const ms = hours * 3_600_000
  const quiet = run(rate, 1, ms, same(HEALTHY))
  const paused = run(rate, 2, ms, same(PAUSES))
  let flagOn = 0
  let shared = 0
  for (let i = 0; i < RUNS; i++) {
    // A flag switched on: the guard starts with nothing, on a host with pauses.
    flagOn += run(rate, 100 + i, 600_000, same(PAUSES)).trips > 0 ? 1 : 0
    // Ten healthy minutes, then both backends at +20 points of 5xx for ten (a shared database).
    const failing = { ...PAUSES, errorRatio: 0.201 }
    shared += run(rate, 200 + i, 1_200_000, [...same(PAUSES), { at: 600_000, baseline: failing, candidate: failing }]).trips > 0 ? 1 : 0
  }
  console.error(`${rate} req/s: identical backends done`)
  rows.push([String(rate), `${(quiet.trips / hours).toFixed(2)} (${hours.toFixed(1)} h)`, pct(quiet.diverted / Math.max(1, quiet.candidate)), (paused.trips / hours).toFixed(2), pct(paused.diverted / Math.max(1, paused.candidate)), `${flagOn} of ${RUNS}`, `${shared} of ${RUNS}`])
}
if (ONLY !== 'detect') console.log(`Rollback guard at its defaults, identical backends (lognormal, median 20 ms, p99 ≈ 120 ms, 0.1 % 5xx; pauses: 0.5 % of requests +200 ms)\n`)
if (ONLY !== 'detect') console.log(table(rows))

const regressions: Array<[string, Profile]> = [
  ['latency ×1.5', { ...PAUSES, latencyFactor: 1.5 }],
  ['latency ×2', { ...PAUSES, latencyFactor: 2 }],
  ['latency ×3', { ...PAUSES, latencyFactor: 3 }],
  ['errors +1 point', { ...PAUSES, errorRatio: 0.011 }],
  ['errors +5 points', { ...PAUSES, errorRatio: 0.051 }],
  ['errors +20 points', { ...PAUSES, errorRatio: 0.201 }]
]
const det: string[][] = [['regression', ...LEVELS.map((r) => `${r} req/s`)]]
const WARM = 600_000
const picked = regressions.filter(([name]) => ONLY !== 'false' && name.includes(process.env.SIM_REGRESSIONS ?? ''))
for (const [name, profile] of picked) {
  const row = [name]
  for (const rate of LEVELS) {
    const runs = rate >= 1000 ? Math.max(5, Math.floor(RUNS / 8)) : rate >= 100 ? Math.max(10, Math.floor(RUNS / 2)) : RUNS
    const times: number[] = []
    const requests: number[] = []
    for (let i = 0; i < runs; i++) {
      const o = run(rate, 1000 + i, WARM + 1_800_000, [...same(PAUSES), { at: WARM, baseline: PAUSES, candidate: profile }])
      if (o.firstTrip !== undefined && o.firstTrip >= WARM) {
        times.push((o.firstTrip - WARM) / 1000)
        requests.push(o.requestsToTrip ?? 0)
      }
    }
    const t = median(times)
    const n = median(requests)
    console.error(`${name} at ${rate} req/s done`)
    row.push(`${pct(times.length / runs)}${t === undefined ? '' : `, ${t.toFixed(0)} s, ${n ?? 0} req`}`)
  }
  det.push(row)
}
if (picked.length > 0) console.log(`\nDetected within 30 minutes of the regression (after 10 minutes identical, with pauses), with the median time and requests on the new backend to the trip\n`)
if (picked.length > 0) console.log(table(det))
