/**
 * npm run demo: two example backends ("legacy" on 8000, "django" on 8001), the proxy
 * in front of them with the repository's routes.yaml and flags.yaml, a burst of
 * traffic from several users, and a summary of where each route's traffic went,
 * read from the proxy's own access log. Keeps running until Ctrl-C.
 */
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { startExampleBackend } from './backend.js'
import { createLogger } from '../src/log.js'
import { startInstance } from '../src/instance.js'

const config = fileURLToPath(new URL('../routes.yaml', import.meta.url))
const PORT = Number(process.env.PORT ?? 8080)
const ADMIN_PORT = Number(process.env.ADMIN_PORT ?? 8081)

interface Tally { count: number, errors: number, ms: number[] }

async function main (): Promise<void> {
  let backends
  try {
    backends = await Promise.all([startExampleBackend('legacy', 8000), startExampleBackend('django', 8001)])
  } catch (err) {
    process.stderr.write(`demo: cannot start the example backends on 127.0.0.1:8000 and :8001 (${(err as Error).message}).\n` +
      'Stop whatever uses those ports, or run the proxy alone: npx strangler-proxy start --config routes.yaml\n')
    process.exit(1)
  }

  // The summary comes from the access lines; warnings and errors still reach stderr.
  const tally = new Map<string, Tally>()
  const sink = new Writable({
    write (chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) {
        if (line === '') continue
        const entry = JSON.parse(line) as { msg?: string, level: number, route?: string, backend?: string, reason?: string, status?: number, durationMs?: number }
        if (entry.msg === 'request') {
          const key = `${entry.route ?? '-'}\t${entry.backend ?? '-'}\t${entry.reason ?? '-'}`
          const t = tally.get(key) ?? { count: 0, errors: 0, ms: [] }
          t.count++
          if ((entry.status ?? 0) >= 500) t.errors++
          t.ms.push(entry.durationMs ?? 0)
          tally.set(key, t)
        } else if (entry.level >= 40) {
          process.stderr.write(line + '\n')
        }
      }
      cb()
    }
  })
  const logger = createLogger({ level: 'info', destination: sink })
  let proxy
  try {
    proxy = await startInstance({ configFile: config, logger, port: PORT, adminPort: ADMIN_PORT, env: process.env })
  } catch (err) {
    process.stderr.write(`demo: the proxy could not start: ${(err as Error).message}\n`)
    process.exit(1)
  }
  const base = `http://127.0.0.1:${PORT}`

  const users = Array.from({ length: 40 }, (_, i) => ({ id: `user-${i}`, tenant: i % 10 === 0 ? 'acme' : 'globex' }))
  const paths: Array<[string, string]> = [['GET', '/reports/monthly'], ['GET', '/api/orders/17'], ['POST', '/api/orders'], ['GET', '/login'], ['GET', '/']]
  for (const user of users) {
    for (const [method, path] of paths) {
      const res = await request(base + path, {
        method: method as 'GET',
        headers: { 'x-user-id': user.id, 'x-tenant-id': user.tenant },
        ...(method === 'POST' ? { body: '{"sku":"A-1"}' } : {})
      })
      await res.body.dump()
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 50))

  const pct = (sorted: number[], p: number): string => (sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0).toFixed(2)
  process.stdout.write(`\nSent ${users.length * paths.length} requests from ${users.length} users through ${base}\n\n`)
  process.stdout.write('route      backend  reason       requests   p50 ms   p99 ms   5xx\n')
  for (const [key, t] of [...tally].sort()) {
    const [route, backend, reason] = key.split('\t') as [string, string, string]
    const ms = [...t.ms].sort((a, b) => a - b)
    process.stdout.write(`${route.padEnd(10)} ${backend.padEnd(8)} ${reason.padEnd(12)} ${String(t.count).padStart(8)} ${pct(ms, 0.5).padStart(8)} ${pct(ms, 0.99).padStart(8)} ${String(t.errors).padStart(5)}\n`)
  }
  process.stdout.write(`
orders is on a flag (flags.yaml): tenant acme and 30 % of other users go to django, sticky per user.
The proxy keeps running:
  traffic   curl -H 'x-user-id: user-3' ${base}/api/orders/1
  explain   curl 'http://127.0.0.1:${ADMIN_PORT}/explain?path=/api/orders/1&header=x-user-id:user-3'
  routes    curl http://127.0.0.1:${ADMIN_PORT}/routes
  ready     curl http://127.0.0.1:${ADMIN_PORT}/readyz
Edit flags.yaml (try rollout "60") or routes.yaml and save: both reload without dropping requests. Ctrl-C stops.
`)
  const stop = (): void => {
    void proxy.shutdown('demo stopped').then(() => {
      for (const b of backends) b.close()
      process.exit(0)
    })
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

await main()
