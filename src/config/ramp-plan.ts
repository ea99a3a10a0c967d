/**
 * routes[].ramp (a plan: steps, holds, gates, approvals, windows), its named gate
 * sets (gateSets) and the top-level ramps: section that drives them.
 */
import { DEFAULTS } from './defaults.js'
import { knownTimeZone } from './time-zone.js'
import { templateProblem } from './promql-template.js'
import { httpUrl, type Section } from './section.js'
import type { Path } from './problems.js'
import type { RawConfig, RawRamp } from './raw.js'
import type { HttpCheck, QueryGate, RampConfig, RampsConfig, ReplicaDiscovery, RouteConfig } from './types.js'

type RawGates = NonNullable<RawRamp['gates']>

export function rampConfig (r: RawRamp, hasFlagBackend: boolean, at: Path, s: Section): RampConfig {
  const d = DEFAULTS.ramp
  // A ramp moves one rollout percentage: variants split by weight, not by a rollout.
  if (!hasFlagBackend) s.problems.add(at, 'needs a route flag with backend: (a ramp moves the rollout of the flag that sends users to that backend)')
  r.steps.forEach((step, i) => {
    if (i > 0 && step <= (r.steps[i - 1] as number)) s.problems.add([...at, 'steps', i], `${step} is not above the step before it (${r.steps[i - 1] as number}); steps climb`)
  })
  const approvals = approvalsOf(r, at, s)
  const hold = s.dur(r.hold, d.hold)
  if (hold < 1000) s.problems.add([...at, 'hold'], 'must be at least 1s')
  return Object.freeze({
    steps: Object.freeze([...r.steps]),
    hold,
    minRequests: r.minRequests ?? d.minRequests,
    minComparisons: r.minComparisons ?? d.minComparisons,
    minUsers: r.minUsers ?? d.minUsers,
    minAddresses: r.minAddresses ?? d.minAddresses,
    minFailingClients: r.minFailingClients ?? d.minFailingClients,
    gates: gatesOf(r.gates ?? {}, [...at, 'gates'], s),
    approve: new Set(approvals.map((a) => a.step)),
    approvers: new Map(approvals.filter((a) => a.approvers > 1).map((a) => [a.step, a.approvers])),
    windows: windowsOf(r.windows ?? [], [...at, 'windows'], s),
    onFail: r.onFail ?? d.onFail,
    maxFailures: r.maxFailures ?? d.maxFailures,
    dryRun: r.dryRun ?? false
  })
}

function gatesOf (g: RawGates, at: Path, s: Section): RampConfig['gates'] {
  const d = DEFAULTS.ramp
  return Object.freeze({
    maxErrorRatioIncrease: g.maxErrorRatioIncrease ?? d.maxErrorRatioIncrease,
    maxClientErrorRatioIncrease: g.maxClientErrorRatioIncrease ?? d.maxClientErrorRatioIncrease,
    maxLatencyRatio: g.maxLatencyRatio ?? d.maxLatencyRatio,
    minLatencyIncrease: s.dur(g.minLatencyIncrease, d.minLatencyIncrease),
    minParity: g.minParity ?? d.minParity,
    queries: Object.freeze((g.queries ?? []).map((q, i) => queryGate(q, [...at, 'queries', i], s))),
    checks: Object.freeze((g.checks ?? []).map((c, i) => httpCheck(c, [...at, 'checks', i], s)))
  })
}

function approvalsOf (r: RawRamp, at: Path, s: Section): Array<{ step: number, approvers: number }> {
  const approvals = (r.approve ?? []).map((a) => typeof a === 'number' ? { step: a, approvers: 1 } : { step: a.step, approvers: a.approvers ?? 1 })
  approvals.forEach((a, i) => {
    if (!r.steps.includes(a.step)) s.problems.add([...at, 'approve', i], `${a.step} is not one of the steps (${r.steps.join(', ')})`)
  })
  return approvals
}

function windowsOf (raw: NonNullable<RawRamp['windows']>, at: Path, s: Section): RampConfig['windows'] {
  const minutes = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3))
  return Object.freeze(raw.map((w, i) => {
    if (!knownTimeZone(w.timeZone)) s.problems.add([...at, i, 'timeZone'], `"${w.timeZone}" is not a time zone this runtime knows (an IANA name such as Europe/Berlin)`)
    if (minutes(w.to) <= minutes(w.from)) s.problems.add([...at, i, 'to'], `${w.to} is not after ${w.from}; a window ends the day it starts`)
    return Object.freeze({ days: Object.freeze([...new Set(w.days)]), from: minutes(w.from), to: minutes(w.to), timeZone: w.timeZone })
  }))
}

function httpCheck (c: NonNullable<RawGates['checks']>[number], at: Path, s: Section): HttpCheck {
  httpUrl(c.url, [...at, 'url'], s.problems)
  for (const path of Object.keys(c.expect?.json ?? {})) {
    if (!/^\$(\.[A-Za-z_][\w-]*|\[\d+\])*$/.test(path)) s.problems.add([...at, 'expect', 'json', path], 'a path is $ followed by .field and [index] steps, as $.order.lines[0].sku')
  }
  const status = c.expect?.status
  return Object.freeze({
    name: c.name,
    url: c.url,
    method: (c.method ?? 'GET').toUpperCase(),
    headers: Object.freeze({ ...c.headers }),
    timeout: s.dur(c.timeout, 5_000),
    expect: Object.freeze({ status: Object.freeze(status === undefined ? [] : Array.isArray(status) ? [...status] : [status]), bodyContains: c.expect?.bodyContains, json: Object.freeze({ ...c.expect?.json }) }),
    as: c.as,
    when: c.when ?? 'after'
  })
}

function queryGate (q: NonNullable<RawGates['queries']>[number], at: Path, s: Section): QueryGate {
  const problem = templateProblem(q.query)
  if (problem !== undefined) s.problems.add([...at, 'query'], problem)
  if (q.max === undefined && q.min === undefined) s.problems.add(at, 'name max, min or both: the limits the value must stay within')
  if (q.max !== undefined && q.min !== undefined && q.min > q.max) s.problems.add([...at, 'min'], `is above max (${q.max})`)
  return Object.freeze({ name: q.name, query: q.query, compare: q.compare ?? 'baseline', max: q.max, min: q.min, window: q.window === undefined ? undefined : s.dur(q.window, 0) })
}

/** A plan's gates over the named set's (gateSets): its own keys win; queries and checks add to the set's. */
export function withGateSet (r: RawRamp, sets: RawConfig['gateSets'], at: Path, s: Section): RawRamp {
  if (r.gateSet === undefined) return r
  const set = sets?.[r.gateSet]
  if (set === undefined) {
    s.problems.add([...at, 'gateSet'], `unknown gate set "${r.gateSet}"; gateSets defines: ${Object.keys(sets ?? {}).join(', ') || 'none'}`)
    return r
  }
  return { ...r, gates: { ...set, ...r.gates, queries: [...(set.queries ?? []), ...(r.gates?.queries ?? [])], checks: [...(set.checks ?? []), ...(r.gates?.checks ?? [])] } }
}

export function normalizeRamps (raw: RawConfig, routes: readonly RouteConfig[], s: Section): RampsConfig {
  const r = raw.ramps
  const driver = r?.driver ?? DEFAULTS.ramps.driver
  if (r?.prometheus !== undefined) httpUrl(r.prometheus, ['ramps', 'prometheus'], s.problems)
  routes.forEach((x, i) => {
    if ((x.ramp?.gates.queries.length ?? 0) > 0 && r?.prometheus === undefined) s.problems.add(['routes', i, 'ramp', 'gates', 'queries'], 'PromQL gates need ramps.prometheus: the Prometheus that scrapes the proxy and the backends')
  })
  if (driver === 'fleet' && routes.some((x) => x.ramp !== undefined)) {
    if (raw.flags?.unleash === undefined) s.problems.add(['ramps', 'driver'], 'fleet needs flags.unleash: the fleet driver writes each step into Unleash, where every replica reads it')
    if (r?.prometheus === undefined) s.problems.add(['ramps', 'driver'], 'fleet needs ramps.prometheus: the fleet driver reads the gates from the sums over all replicas')
  }
  const interval = s.dur(r?.interval, DEFAULTS.ramps.interval)
  if (interval < 100) s.problems.add(['ramps', 'interval'], 'must be at least 100ms')
  // Calls end before the next pass is due, so passes never pile up behind a hung peer.
  const timeout = s.dur(r?.timeout, Math.min(5_000, Math.max(100, Math.floor(interval * 0.8))))
  if (r?.timeout !== undefined && timeout >= interval) s.problems.add(['ramps', 'timeout'], `must be below ramps.interval (${interval} ms): a pass must end before the next is due`)
  return Object.freeze({ driver, prometheus: r?.prometheus, interval, timeout, stallAfter: s.dur(r?.stallAfter, DEFAULTS.ramps.stallAfter), alerts: Object.freeze({ ...r?.alerts }), replicas: discovery(r?.replicas) })
}

function discovery (d: NonNullable<RawConfig['ramps']>['replicas']): ReplicaDiscovery | undefined {
  if (d?.static !== undefined) return Object.freeze({ static: Object.freeze([...d.static]) })
  if (d?.dns === undefined) return undefined
  const i = d.dns.lastIndexOf(':')
  return Object.freeze({ dns: Object.freeze({ host: d.dns.slice(0, i), port: Number(d.dns.slice(i + 1)) }) })
}
