/**
 * npm run demo: two example backends ("legacy" on 8000, "django" on 8001), the proxy
 * in front of them with the repository's routes.yaml, a short burst of traffic, and
 * a summary of where it went. Keeps running until Ctrl-C.
 */
import { request } from 'undici'
import { fileURLToPath } from 'node:url'
import { startExampleBackend } from './backend.js'
import { createLogger } from '../src/log.js'
import { startInstance } from '../src/instance.js'

const config = fileURLToPath(new URL('../routes.yaml', import.meta.url))
const PORT = Number(process.env.PORT ?? 8080)
const ADMIN_PORT = Number(process.env.ADMIN_PORT ?? 8081)

async function main (): Promise<void> {
  let backends
  try {
    backends = await Promise.all([startExampleBackend('legacy', 8000), startExampleBackend('django', 8001)])
  } catch (err) {
    process.stderr.write(`demo: cannot start the example backends on 127.0.0.1:8000 and :8001 (${(err as Error).message}).\n` +
      'Stop whatever uses those ports, or run the proxy alone: npx strangler-proxy start --config routes.yaml\n')
    process.exit(1)
  }
  // Warn level keeps the summary readable; LOG_LEVEL=info shows one access line per request.
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn' })
  const proxy = await startInstance({ configFile: config, logger, port: PORT, adminPort: ADMIN_PORT })
  const base = `http://127.0.0.1:${PORT}`

  const traffic: Array<[string, string]> = [
    ['GET', '/reports/monthly'], ['GET', '/api/orders/17'], ['POST', '/api/orders'],
    ['GET', '/login'], ['GET', '/api/orders/18'], ['DELETE', '/api/orders/17'], ['GET', '/'], ['HEAD', '/reports/yearly']
  ]
  const tally = new Map<string, Map<string, number>>()
  const latencies: number[] = []
  let errors = 0
  for (let round = 0; round < 25; round++) {
    for (const [method, path] of traffic) {
      const start = performance.now()
      const res = await request(base + path, { method, headers: { 'x-user-id': `user-${round % 5}` }, ...(method === 'POST' ? { body: '{"sku":"A-1"}' } : {}) })
      await res.body.dump()
      latencies.push(performance.now() - start)
      if (res.statusCode >= 500) errors++
      const explained = (await (await request(`http://127.0.0.1:${ADMIN_PORT}/explain?method=${method}&path=${encodeURIComponent(path)}`)).body.json()) as { route: string }
      const perRoute = tally.get(explained.route) ?? new Map<string, number>()
      const backend = String(res.headers['x-backend'] ?? 'none')
      perRoute.set(backend, (perRoute.get(backend) ?? 0) + 1)
      tally.set(explained.route, perRoute)
    }
  }
  latencies.sort((a, b) => a - b)
  const pct = (p: number): string => (latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] ?? 0).toFixed(2)
  process.stdout.write(`\nSent ${latencies.length} requests through ${base} (p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, ${errors} errors)\n\n`)
  process.stdout.write('route            backend   requests\n')
  for (const [route, perBackend] of tally) {
    for (const [backend, n] of perBackend) process.stdout.write(`${route.padEnd(16)} ${backend.padEnd(9)} ${n}\n`)
  }
  process.stdout.write(`
The proxy keeps running:
  traffic   ${base}/api/orders/1
  routes    http://127.0.0.1:${ADMIN_PORT}/routes
  explain   http://127.0.0.1:${ADMIN_PORT}/explain?method=POST&path=/api/orders
  health    http://127.0.0.1:${ADMIN_PORT}/readyz
Edit routes.yaml and save: the table reloads without dropping requests. Ctrl-C stops everything.
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
