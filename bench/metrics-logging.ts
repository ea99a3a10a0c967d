/**
 * Cost per request of what the proxy records for every request: the access line
 * (its fixed template, batched and written to /dev/null), the metric updates
 * (per-route request, duration and decision series, migration ledger) and, on flagged
 * routes, the backends' evidence (the per-client caps, the evidence series and the
 * rollback guard, 200 addresses and 10,000 users). Reported against a
 * baseline loop in the same run; no timings are asserted anywhere.
 *
 *   npm run bench            (from the repository root)
 */
import { openSync } from 'node:fs'
import { pino } from 'pino'
import { createLogger, createAccessLog, batchedDestination } from '../src/observe/log.js'
import { Metrics } from '../src/observe/metrics.js'
import { newRequestState, type RequestState } from '../src/proxy/request-state.js'
import { Runtime } from '../src/lifecycle/runtime.js'
import { parseConfig } from '../src/config/config.js'
import type { FastifyReply, FastifyRequest } from 'fastify'

const N = Number(process.env.BENCH_N ?? 300_000)
const ROUNDS = 5

const config = parseConfig(`
backends: { legacy: { url: "http://127.0.0.1:1", legacy: true }, django: { url: "http://127.0.0.1:2" } }
flags: { file: /nonexistent/flags.yaml }
routes:
  - { name: orders, match: { path: /api/orders/* }, backend: legacy, flag: { name: orders-on-django, backend: django } }
  - { name: default, match: { path: /* }, backend: legacy }
`, 'bench.yaml')
const runtime = new Runtime(config, { logger: pino({ level: 'silent' }), env: {} })
const metrics = new Metrics(() => runtime.snapshot)
metrics.configApplied(runtime.snapshot.config)

const logger = createLogger({ level: 'info', destination: batchedDestination(openSync('/dev/null', 'w')) })
const logAccess = createAccessLog(logger)

function fakeRequest (state: RequestState, i: number): { request: FastifyRequest, reply: FastifyReply } {
  const request = { id: 'c0ffee00-1234-4321-8888-000000000000', spx: state, raw: { url: `/api/orders/${i}?page=2`, method: 'GET' } } as unknown as FastifyRequest
  const reply = { raw: { writableFinished: true, headersSent: true, statusCode: 200 } } as unknown as FastifyReply
  return { request, reply }
}

function stateFor (i: number): RequestState {
  const s = newRequestState()
  s.route = 'orders'
  s.backend = i % 3 === 0 ? 'django' : 'legacy'
  s.reason = i % 3 === 0 ? 'flag_on' : 'flag_off'
  s.flag = 'orders-on-django'
  s.upstreamMs = 1.234
  s.upstreamStatus = 200
  s.clientAddress = `10.0.${i % 200}.1`
  s.user = `u${i % 10_000}`
  return s
}

const variants: Record<string, (i: number) => void> = {
  baseline: (i) => { const s = stateFor(i); fakeRequest(s, i) },
  metrics: (i) => { const s = stateFor(i); fakeRequest(s, i); metrics.request(s, 'GET', 200, 0.0025) },
  'access log': (i) => { const s = stateFor(i); const { request, reply } = fakeRequest(s, i); logAccess(String(request.id), request.raw.method ?? '', request.raw.url ?? '', s, 200, 2.5, !reply.raw.writableFinished) },
  evidence: (i) => { const s = stateFor(i); fakeRequest(s, i); runtime.observe(s) },
  'log + metrics': (i) => { const s = stateFor(i); const { request, reply } = fakeRequest(s, i); logAccess(String(request.id), request.raw.method ?? '', request.raw.url ?? '', s, 200, 2.5, !reply.raw.writableFinished); metrics.request(s, 'GET', 200, 0.0025) }
}

const results: Record<string, number[]> = {}
for (let round = 0; round < ROUNDS; round++) {
  // Interleaved, so drift in the machine affects every variant alike.
  for (const [name, fn] of Object.entries(variants)) {
    for (let i = 0; i < 10_000; i++) fn(i)
    const start = process.hrtime.bigint()
    for (let i = 0; i < N; i++) fn(i)
    const ns = Number(process.hrtime.bigint() - start) / N
    ;(results[name] ??= []).push(ns)
    await new Promise((resolve) => setImmediate(resolve))
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
const base = median(results.baseline as number[])
process.stdout.write(`per-request cost, median of ${ROUNDS} interleaved rounds of ${N} (node ${process.version})\n\n`)
process.stdout.write('variant          ns/request   added over baseline (µs)\n')
for (const [name, xs] of Object.entries(results)) {
  const m = median(xs)
  process.stdout.write(`${name.padEnd(16)} ${m.toFixed(0).padStart(10)}   ${name === 'baseline' ? '' : ((m - base) / 1000).toFixed(2).padStart(8)}\n`)
}
await runtime.close(0)
