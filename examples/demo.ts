/**
 * npm run demo: the legacy app on 8000 and the Django service on 8001, the proxy in
 * front of them with the repository's routes.yaml and flags.yaml, users who sign in
 * at the legacy login and then use orders and reports, and a summary of where each
 * route's traffic went, read from the proxy's own access log. Keeps running until Ctrl-C.
 */
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { ensureDjango, startDjango, startLegacy, type App } from './stack.js'
import { createLogger } from '../src/observe/log.js'
import { startInstance } from '../src/lifecycle/instance.js'

const config = fileURLToPath(new URL('../routes.yaml', import.meta.url))
const PORT = Number(process.env.PORT ?? 8080)
const ADMIN_PORT = Number(process.env.ADMIN_PORT ?? 8081)

interface Tally { count: number, errors: number, ms: number[] }

async function main (): Promise<void> {
  const howTo = ensureDjango((line) => process.stdout.write(`demo: ${line}\n`))
  if (howTo !== undefined) {
    process.stderr.write(`demo: the Django service needs Django: ${howTo}\n`)
    process.exit(1)
  }
  let apps: App[]
  try {
    // Django gets its own session secret: it cannot read legacy's sessions, and knows
    // the user only from the proxy's signed identity, checked against the proxy's JWKS.
    apps = await Promise.all([startLegacy(8000), startDjango(8001, { STRANGLER_JWKS_URL: `http://127.0.0.1:${ADMIN_PORT}/.well-known/jwks.json`, SESSION_SECRET: randomBytes(32).toString('hex'), DJANGO_ADMIN: '1', DJANGO_DB: join(tmpdir(), 'strangler-demo-django.sqlite3'), STRANGLER_STAFF: 'alice' })])
  } catch (err) {
    process.stderr.write(`demo: cannot start the apps on 127.0.0.1:8000 and :8001: ${(err as Error).message}\n` +
      'Stop whatever uses those ports, or run the proxy alone: npx strangler-proxy start --config routes.yaml\n')
    process.exit(1)
  }
  const stopApps = async (): Promise<void> => { await Promise.all(apps.map((a) => a.stop())) }
  process.on('exit', () => { for (const a of apps) a.child.kill('SIGTERM') })

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
    await stopApps()
    process.exit(1)
  }
  const base = `http://127.0.0.1:${PORT}`

  const users = Array.from({ length: 40 }, (_, i) => ({ id: `user-${i}`, tenant: i % 10 === 0 ? 'acme' : 'globex' }))
  for (const user of users) {
    // Sign in at the legacy login; the proxy asks legacy who that session is, once.
    const login = await request(`${base}/login?user=${user.id}&tenant=${user.tenant}`)
    await login.body.dump()
    const cookie = String(login.headers['set-cookie']).split(';')[0] as string
    const headers = { cookie, 'x-user-id': user.id, 'x-tenant-id': user.tenant }
    for (const [method, path] of [['GET', '/api/orders/17'], ['GET', '/api/orders'], ['POST', '/api/orders'], ['GET', '/reports/monthly'], ['GET', '/']] as const) {
      const res = await request(base + path, { method, headers: { ...headers, 'content-type': 'application/json' }, ...(method === 'POST' ? { body: '{"sku":"B-200","qty":2}' } : {}) })
      await res.body.dump()
    }
  }
  await new Promise((resolve) => setTimeout(resolve, 50))

  const pct = (sorted: number[], p: number): string => (sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0).toFixed(2)
  process.stdout.write(`\nSent ${users.length * 6} requests from ${users.length} signed-in users through ${base}\n\n`)
  process.stdout.write('route      backend  reason       requests   p50 ms   p99 ms   5xx\n')
  for (const [key, t] of [...tally].sort()) {
    const [route, backend, reason] = key.split('\t') as [string, string, string]
    const ms = [...t.ms].sort((a, b) => a - b)
    process.stdout.write(`${route.padEnd(10)} ${backend.padEnd(8)} ${reason.padEnd(12)} ${String(t.count).padStart(8)} ${pct(ms, 0.5).padStart(8)} ${pct(ms, 0.99).padStart(8)} ${String(t.errors).padStart(5)}\n`)
  }
  process.stdout.write(`
reports is migrated to Django; orders is on a flag (flags.yaml): tenant acme and 30 % of other users
go to Django, sticky per user; login and everything else stay on the legacy app.
Django never sees legacy's session secret: the proxy asks legacy's /whoami who a session is and
hands Django a signed identity (docs/identity.md); try it with a session:
  curl -c jar '${base}/login?user=carol' && curl -b jar ${base}/api/orders/1
Django's admin works the same way: open ${base}/login?user=alice in a browser, then ${base}/admin/
The proxy keeps running:
  traffic   curl -H 'x-user-id: user-3' -i ${base}/api/orders/1     (x-served-by says which app answered)
  explain   curl 'http://127.0.0.1:${ADMIN_PORT}/explain?path=/api/orders/1&header=x-user-id:user-3'
  metrics   curl http://127.0.0.1:${ADMIN_PORT}/metrics
  routes    curl http://127.0.0.1:${ADMIN_PORT}/routes
  ready     curl http://127.0.0.1:${ADMIN_PORT}/readyz
  status    open http://127.0.0.1:${ADMIN_PORT}/status in a browser (migration status, readiness, what is left)
  timeline  curl http://127.0.0.1:${ADMIN_PORT}/timeline     (every change to where traffic goes)
  traces    docker-compose up runs Jaeger: open http://127.0.0.1:16686, service strangler-proxy; an
            access line's traceId finds its trace, and both apps log the same traceId. Here, set
            OTEL_EXPORTER_OTLP_ENDPOINT=http://your-collector:4318 before npm run demo.
Edit flags.yaml (try rollout "60") or routes.yaml and save: both reload without dropping requests. Ctrl-C stops.
`)
  const stop = (): void => {
    void proxy.shutdown('demo stopped').then(stopApps).then(() => process.exit(0))
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}

await main()
