/**
 * The identity bridge on real sockets: legacy keeps its own sessions; the proxy asks
 * legacy's /whoami once per session and TTL and hands django a signed JWT that django
 * verifies against the proxy's JWKS. A client can never supply that header; a lookup
 * that fails never reaches django without an identity; logout propagates; the cache
 * stays in its bounds; a burst of one session's requests asks legacy once.
 */
import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { request } from 'undici'
import { createRemoteJWKSet, jwtVerify } from 'jose'
import { startUpstream, echo, type Upstream } from '../helpers/backends.js'
import { startProxy, tempDir, type TestProxy } from '../helpers/proxy.js'
import { flagsJson, rollout } from '../helpers/flags.js'

interface Legacy { upstream: Upstream, sessions: Map<string, { sub: string, email: string }>, whoami: () => number, failing: (on: boolean) => void }

async function legacyApp (t: Parameters<typeof startProxy>[0]): Promise<Legacy> {
  const sessions = new Map([['s-alice', { sub: 'alice', email: 'alice@shop.example' }], ['s-bob', { sub: 'bob', email: 'bob@shop.example' }]])
  let calls = 0
  let failing = false
  const upstream = await startUpstream(t, 'legacy', (req, res, seen, name) => {
    // Legacy's own rule: only alice may see the secret report.
    if (req.url === '/reports/secret' && !/legacy_sid=s-alice/.test(req.headers.cookie ?? '')) return void res.writeHead(403, { 'content-type': 'application/json' }).end('{"error":"forbidden"}')
    if (req.url !== '/whoami') return echo(req, res, seen, name)
    calls++
    if (failing) return void res.writeHead(500).end()
    const sid = /legacy_sid=([^;]+)/.exec(req.headers.cookie ?? '')?.[1]
    const user = sid === undefined ? undefined : sessions.get(sid)
    // Slow enough that concurrent requests of one session overlap the lookup.
    setTimeout(() => user === undefined ? res.writeHead(401).end() : res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ...user, internal: 'not for django' })), 30)
  })
  return { upstream, sessions, whoami: () => calls, failing: (on) => { failing = on } }
}

async function start (t: Parameters<typeof startProxy>[0], onFailure = 'legacy', cache = ''): Promise<{ p: TestProxy, legacy: Legacy, django: Upstream }> {
  const legacy = await legacyApp(t)
  const django = await startUpstream(t, 'django')
  const dir = tempDir(t)
  writeFileSync(join(dir, 'identity.pem'), generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }))
  const p = await startProxy(t, `listen: { host: 127.0.0.1 }
backends:
  legacy: { url: "${legacy.upstream.url}", legacy: true }
  django: { url: "${django.url}" }
flags: { file: flags.json }
identity:
  resolve: { url: "${legacy.upstream.url}/whoami", fields: [sub, email] }
  session: { cookie: legacy_sid }
  token: { keyFile: identity.pem, backends: [django], issuer: shop-proxy }
  onFailure: ${onFailure}
  ${cache}
cohort: { userId: [ { identity: sub }, { header: x-user-id } ] }
routes:
  - { name: orders, match: { path: /api/orders/* }, backend: legacy, flag: { name: orders-on-django, backend: django } }
  - { name: reports, match: { path: /reports/* }, backend: legacy, shadow: { backend: django } }
  - { name: default, match: { path: /* }, backend: legacy }
`, { dir, files: { 'flags.json': flagsJson([{ name: 'orders-on-django', enabled: true, strategies: [rollout(100)] }]) } })
  return { p, legacy, django }
}

const get = async (p: TestProxy, path: string, headers: Record<string, string> = {}): Promise<{ status: number, body: Record<string, unknown> }> => {
  const res = await request(`${p.url}${path}`, { headers })
  const text = await res.body.text()
  return { status: res.statusCode, body: text.startsWith('{') ? JSON.parse(text) as Record<string, unknown> : {} }
}

t.test('a signed-in user reaches django with a JWT django verifies; a client can never supply it', async (t) => {
  const { p, legacy, django } = await start(t)
  const jwks = createRemoteJWKSet(new URL(`${p.adminUrl}/.well-known/jwks.json`))
  await get(p, '/api/orders/1', { cookie: 'legacy_sid=s-alice; theme=dark', 'x-strangler-identity': 'forged.by.client' })
  const token = django.seen.at(-1)?.headers['x-strangler-identity'] as string
  const { payload, protectedHeader } = await jwtVerify(token, jwks, { issuer: 'shop-proxy', audience: 'django' })
  t.match(payload, { sub: 'alice', email: 'alice@shop.example' }, 'the user legacy signed in, verified with the JWKS')
  t.equal(payload.internal, undefined, 'only the configured fields')
  t.equal(protectedHeader.alg, 'EdDSA')
  t.ok((payload.exp as number) - (payload.iat as number) <= 120, 'short-lived')
  await get(p, '/api/orders/2', { 'x-strangler-identity': 'forged.by.client' })
  t.equal(django.seen.at(-1)?.headers['x-strangler-identity'], undefined, 'anonymous: no identity, and the forged one is gone')
  await get(p, '/account', { cookie: 'legacy_sid=s-alice', 'x-strangler-identity': 'forged.by.client' })
  t.equal(legacy.upstream.seen.at(-1)?.headers['x-strangler-identity'], undefined, 'legacy never gets the header either')
  const explain = await (await request(`${p.adminUrl}/explain?path=/api/orders/1&header=cookie:legacy_sid=s-bob`)).body.json() as { cohort?: { from?: Record<string, string> } }
  t.ok(explain !== undefined)
  t.equal(legacy.whoami(), 1, 'one lookup for alice (bob\'s explain asks nothing: explain is no request)')
})

t.test('200 concurrent requests of one session ask legacy once; logout propagates through the hook', async (t) => {
  const { p, legacy, django } = await start(t)
  await Promise.all(Array.from({ length: 200 }, async (_, i) => await get(p, `/api/orders/${i}`, { cookie: 'legacy_sid=s-bob' })))
  t.equal(legacy.whoami(), 1, 'no stampede')
  t.equal(django.seen.filter((s) => s.headers['x-strangler-identity'] !== undefined).length, 200)
  // The first scrape after a lookup already holds its answer time, not the next one.
  t.match(await (await request(`${p.adminUrl}/metrics`)).body.text(), /^strangler_identity_lookup_duration_seconds_count 1$/m, 'legacy\'s answer time is in the first scrape')
  legacy.sessions.delete('s-bob')
  const purge = await request(`${p.adminUrl}/identity/sessions/s-bob`, { method: 'DELETE' })
  t.same(await purge.body.json(), { purged: true })
  await get(p, '/api/orders/1', { cookie: 'legacy_sid=s-bob' })
  t.equal(django.seen.at(-1)?.headers['x-strangler-identity'], undefined, 'signed out at once after the hook')
  t.equal(legacy.whoami(), 2)
})

t.test('legacy down: onFailure legacy serves from legacy, deny answers 503; never django without an identity', async (t) => {
  const soft = await start(t, 'legacy')
  soft.legacy.failing(true)
  const served = await get(soft.p, '/api/orders/1', { cookie: 'legacy_sid=s-alice' })
  t.equal(served.status, 200)
  t.equal(served.body.backend, 'legacy', 'served by legacy')
  t.equal(soft.django.seen.length, 0, 'django saw nothing')
  const text = await (await request(`${soft.p.adminUrl}/metrics`)).body.text()
  t.match(text, /strangler_identity_lookups_total\{result="failed"\} 1/)
  t.match(text, /strangler_decisions_total\{[^}]*reason="identity_unavailable"[^}]*\} 1/)

  const hard = await start(t, 'deny')
  hard.legacy.failing(true)
  const denied = await get(hard.p, '/api/orders/1', { cookie: 'legacy_sid=s-alice' })
  t.equal(denied.status, 503)
  t.match(denied.body, { code: 'SPX_IDENTITY_UNAVAILABLE' })
  t.equal(hard.django.seen.length, 0)
})

t.test('the cache stays within its bounds over 1,000 sessions, in entries and in bytes', async (t) => {
  const bounded = async (cache: string, n: number): Promise<{ entries: number, bytes: number, text: string }> => {
    const { p, legacy } = await start(t, 'legacy', cache)
    for (let i = 0; i < n; i++) legacy.sessions.set(`s-${i}`, { sub: `u${i}`, email: `u${i}@shop.example` })
    for (let i = 0; i < n; i += 100) await Promise.all(Array.from({ length: 100 }, async (_, j) => await get(p, '/api/orders/1', { cookie: `legacy_sid=s-${i + j}` })))
    const text = await (await request(`${p.adminUrl}/metrics`)).body.text()
    return { entries: Number(/^strangler_identity_cache_entries (\d+)/m.exec(text)?.[1]), bytes: Number(/^strangler_identity_cache_bytes (\d+)/m.exec(text)?.[1]), text }
  }
  const byCount = await bounded('cache: { maxEntries: 200, ttl: 1m }', 1000)
  t.ok(byCount.entries > 100 && byCount.entries <= 200, `${byCount.entries} sessions cached of 1,000 seen, limit 200`)
  t.match(byCount.text, /strangler_identity_lookups_total\{result="resolved"\} 1000/)
  const byBytes = await bounded('cache: { maxEntries: 10000, maxBytes: 16kb, ttl: 1m }', 1000)
  t.ok(byBytes.bytes > 8 * 1024 && byBytes.bytes <= 16 * 1024, `${byBytes.bytes} bytes cached, limit 16,384`)
  t.ok(byBytes.entries < 1000, `so ${byBytes.entries} of 1,000 sessions are kept`)
})

t.test('auth parity: the shadow copy carries the identity, and the new backend serving what legacy refuses is a mismatch of its own kind', async (t) => {
  const { p, django } = await start(t)
  const jwks = createRemoteJWKSet(new URL(`${p.adminUrl}/.well-known/jwks.json`))
  const copyOf = async (path: string, cookie: string): Promise<void> => {
    const before = django.seen.length
    const res = await request(`${p.url}${path}`, { headers: { cookie } })
    await res.body.dump()
    for (let i = 0; i < 100 && django.seen.length === before; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  }
  await copyOf('/reports/secret', 'legacy_sid=s-alice')
  const token = django.seen.at(-1)?.headers['x-strangler-identity'] as string
  const { payload } = await jwtVerify(token, jwks, { issuer: 'shop-proxy', audience: 'django' })
  t.equal(payload.sub, 'alice', 'the shadow copy reaches django as the signed-in user')
  await copyOf('/reports/secret', 'legacy_sid=s-bob')
  await new Promise((resolve) => setTimeout(resolve, 100))
  const parity = (await (await request(`${p.adminUrl}/parity`)).body.json() as { routes: Record<string, { authMismatches: number, totals: { match: number, mismatch: number }, samples: Array<{ kind: string, primary: { status: number }, shadow: { status: number } }> }> }).routes
  // Both test backends echo what they received, so alice's two answers differ too, in content only.
  t.match(parity.reports, { authMismatches: 1, totals: { mismatch: 2 } }, 'bob: legacy refuses, django serves')
  t.match(parity.reports?.samples, [{ kind: 'answer', primary: { status: 200 }, shadow: { status: 200 } }, { kind: 'auth', primary: { status: 403 }, shadow: { status: 200 } }])
  const metrics = await (await request(`${p.adminUrl}/metrics`)).body.text()
  t.match(metrics, /^strangler_shadow_auth_mismatches_total\{route="reports"\} 1$/m)
  t.ok(p.logs.some((l) => l.msg === 'auth parity: one backend refused what the other served'), 'logged')
})

t.test('createKey: a key is made once where none is, kept across a restart; without it a missing key refuses to start', async (t) => {
  const { statSync, readFileSync } = await import('node:fs')
  const dir = tempDir(t)
  const yaml = (create: boolean): string => `listen: { host: 127.0.0.1 }
backends:
  legacy: { url: "http://127.0.0.1:1", legacy: true }
  django: { url: "http://127.0.0.1:1" }
identity:
  resolve: { url: "http://127.0.0.1:1/whoami" }
  session: { cookie: legacy_sid }
  token: { keyFile: keys/identity.pem, createKey: ${create}, backends: [django] }
routes:
  - { name: default, match: { path: /* }, backend: legacy }
`
  const { runCli } = await import('../helpers/cli.js')
  writeFileSync(join(dir, 'routes.yaml'), yaml(false))
  const refused = await runCli(['start', '--config', join(dir, 'routes.yaml')], { PORT: '0', ADMIN_PORT: '0' })
  t.not(refused.code, 0, 'no key and no createKey: the proxy does not start')
  t.match(refused.stderr + refused.stdout, /identity\.token\.keyFile: .*keys\/identity\.pem is not a readable PEM private key/, 'and says which file')

  const jwks = async (p: TestProxy): Promise<string> => ((await (await request(`${p.adminUrl}/.well-known/jwks.json`)).body.json()) as { keys: Array<{ kid: string }> }).keys[0]?.kid ?? ''
  const first = await startProxy(t, yaml(true), { dir })
  const file = join(dir, 'keys', 'identity.pem')
  t.equal(statSync(file).mode & 0o777, 0o600, 'the key is written readable by the proxy\'s user only')
  const kid = await jwks(first)
  t.ok(kid.length > 20, 'its public half is served as the JWKS')
  const pem = readFileSync(file, 'utf8')
  await first.shutdown('test')
  const again = await startProxy(t, yaml(true), { dir })
  t.equal(await jwks(again), kid, 'a restart signs with the same key')
  t.equal(readFileSync(file, 'utf8'), pem, 'the file is not replaced')
})
