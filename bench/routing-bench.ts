/**
 * Route matching cost as the table grows: 10, 100 and 1,000 routes, matching a mix of
 * paths that hit early, late and no route. Reported per match; no timings asserted.
 */
import { parseConfig } from '../src/config/config.js'
import { buildRouteTable } from '../src/routing/table.js'
import { routingSegments } from '../src/config/patterns.js'

function table (n: number): ReturnType<typeof buildRouteTable> {
  const routes: string[] = []
  for (let i = 0; i < n - 1; i++) {
    const kind = i % 4
    const path = kind === 0 ? `/svc${i}/*` : kind === 1 ? `/api/v${i}/orders/:id` : kind === 2 ? `/static/${i}/index.html` : `/svc${i}/items/*`
    routes.push(`  - { name: r${i}, match: { path: "${path}"${i % 5 === 0 ? ', methods: [GET]' : ''}${i % 7 === 0 ? `, host: "h${i}.example"` : ''} }, backend: b }`)
  }
  routes.push('  - { name: default, match: { path: /* }, backend: b }')
  return buildRouteTable(parseConfig(`backends: { b: { url: "http://127.0.0.1:1" } }\nroutes:\n${routes.join('\n')}\n`, 'bench.yaml'))
}

const N = Number(process.env.BENCH_N ?? 200_000)
process.stdout.write(`route matching, ${N} matches per size (node ${process.version})\n\nroutes   ns/match   (incl. path normalisation)\n`)
for (const size of [10, 100, 1000]) {
  const t = table(size)
  const paths = Array.from({ length: 64 }, (_, i) => i % 4 === 0 ? `/svc${(i * 37) % size}/x/y` : i % 4 === 1 ? `/api/v${(i * 13) % size}/orders/42` : i % 4 === 2 ? '/nothing/here' : `/static/${i}/index.html`)
  const inputs = paths.map((p) => ({ method: 'GET', host: 'shop.example', segs: routingSegments(p).segs as string[], headers: {} }))
  let hits = 0
  for (let i = 0; i < 20_000; i++) if (t.match(inputs[i % inputs.length] as never) !== undefined) hits++
  const start = process.hrtime.bigint()
  for (let i = 0; i < N; i++) {
    const input = inputs[i % inputs.length] as (typeof inputs)[number]
    const segs = routingSegments(paths[i % paths.length] as string).segs as string[]
    if (t.match({ ...input, segs }) !== undefined) hits++
  }
  const ns = Number(process.hrtime.bigint() - start) / N
  process.stdout.write(`${String(size).padStart(6)}   ${ns.toFixed(0).padStart(8)}\n`)
  if (hits === 0) throw new Error('no route matched')
}
