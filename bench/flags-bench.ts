/**
 * What a flag decision costs, and what counting it for Unleash adds: the proxy's own
 * evaluator over 1,000 users and a 50 % rollout (results cached per user, as on the
 * request path), without observers, with usage counting (flags.unleash.metrics), and
 * with usage plus impressions (impressionData: true, written to a discarding logger).
 * Reported per decision, interleaved over rounds; no timings asserted.
 */
import { Writable } from 'node:stream'
import { Evaluator, type EvaluationObservers } from '../src/flags/evaluator.js'
import { MemoryRepository } from '../src/flags/memory-repository.js'
import { FlagUsage } from '../src/flags/usage.js'
import { createLogger } from '../src/observe/log.js'
import type { ClientFeaturesResponse } from '../src/flags/unleash-internals.js'

const N = Number(process.env.BENCH_N ?? 500_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const FLAG = 'orders-on-django'
const features = (impressionData: boolean): ClientFeaturesResponse => ({
  version: 2,
  features: [{ name: FLAG, enabled: true, impressionData, strategies: [{ name: 'flexibleRollout', parameters: { rollout: '50', stickiness: 'default', groupId: FLAG }, constraints: [] }] }]
} as unknown as ClientFeaturesResponse)

const quiet = createLogger({ level: 'info', destination: new Writable({ write (_c, _e, cb) { cb() } }) })
function evaluator (observers: EvaluationObservers, impressionData = false): Evaluator {
  const repo = new MemoryRepository()
  repo.replace(features(impressionData))
  return new Evaluator(repo, () => {}, { appName: 'bench', environment: 'production' }, observers)
}
const contexts = Array.from({ length: 1000 }, (_, i) => ({ userId: `user-${i}` }))

const variants: Array<[string, Evaluator]> = [
  ['no observers', evaluator({})],
  ['usage counting', evaluator({ usage: new FlagUsage() })],
  ['usage + impressions', evaluator({ usage: new FlagUsage(), impression: (e) => quiet.info({ impression: e }, 'flag impression') }, true)]
]
const ns = new Map<string, number[]>(variants.map(([name]) => [name, []]))
let on = 0
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, e] of variants) {
    for (let i = 0; i < 20_000; i++) if (e.evaluate(FLAG, contexts[i % 1000] as never, false).enabled) on++
    const start = process.hrtime.bigint()
    for (let i = 0; i < N; i++) if (e.evaluate(FLAG, contexts[i % 1000] as never, false).enabled) on++
    ns.get(name)?.push(Number(process.hrtime.bigint() - start) / N)
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
const base = median(ns.get('no observers') ?? [])
process.stdout.write(`flag decisions, ${N} per round, median of ${ROUNDS} interleaved rounds (node ${process.version}; ${on} on)\n\nobservers             ns/decision   + over none\n`)
for (const [name] of variants) {
  const m = median(ns.get(name) ?? [])
  process.stdout.write(`${name.padEnd(21)} ${m.toFixed(1).padStart(11)}   ${(m - base).toFixed(1).padStart(11)}\n`)
}
