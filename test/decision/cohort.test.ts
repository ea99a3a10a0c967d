import t from 'tap'
import { createHmac } from 'node:crypto'
import { request } from 'undici'
import { SignJWT } from 'jose'
import { startUpstream } from '../helpers/backends.js'
import { startProxy, accessLines, sleep } from '../helpers/proxy.js'
import { flagsJson, flaggedYaml, rollout } from '../helpers/flags.js'

const SECRET = 'test-jwt-secret-of-enough-length-123'
const key = new TextEncoder().encode(SECRET)

async function token (sub: string, opts: { expired?: boolean, secret?: Uint8Array } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return new SignJWT({ sub, tenant: 'acme' })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt(now - 100)
    .setExpirationTime(opts.expired === true ? now - 10 : now + 600)
    .sign(opts.secret ?? key)
}

const JWT_COHORT = `cohort:
  userId: [ { jwt: sub }, { header: x-user-id } ]
  jwt: { secretEnv: TEST_JWT_SECRET }`

t.test('userId from a verified JWT; an expired or forged token is never used', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const yaml = flaggedYaml(legacy.url, django.url).replace(/cohort:\n.*\n.*\n/, JWT_COHORT + '\n')
  const proxy = await startProxy(t, yaml, {
    env: { TEST_JWT_SECRET: SECRET },
    files: { 'flags.json': flagsJson([{ name: 'orders-on-django', enabled: true, strategies: [{ name: 'userWithId', parameters: { userIds: 'alice' } }] }]) }
  })
  const go = async (headers: Record<string, string>): Promise<string> => {
    const res = await request(`${proxy.url}/api/orders/1`, { headers })
    return ((await res.body.json()) as { backend: string }).backend
  }
  t.equal(await go({ authorization: `Bearer ${await token('alice')}` }), 'django')
  t.equal(await go({ authorization: `Bearer ${await token('alice', { expired: true })}` }), 'legacy', 'expired token ignored')
  t.equal(await go({ authorization: `Bearer ${await token('alice', { secret: new TextEncoder().encode('another-secret-another-secret-12') })}` }), 'legacy', 'forged token ignored')
  t.equal(await go({ authorization: 'Bearer not.a.jwt' }), 'legacy')
  t.equal(await go({ 'x-user-id': 'alice' }), 'django', 'falls through to the next source')
  const explained = await (await request(`${proxy.adminUrl}/explain?path=/api/orders/1&header=${encodeURIComponent(`authorization:Bearer ${await token('alice')}`)}`)).body.json()
  t.match(explained, { backend: 'django', reason: 'flag_on', context: { userId: 'alice' }, contextFrom: { userId: 'jwt claim sub' } })
  t.notMatch(JSON.stringify(explained), /eyJ/, 'the token itself is not echoed')
})

t.test('a missing or short JWT secret refuses to start', async (t) => {
  const yaml = flaggedYaml('http://127.0.0.1:1', 'http://127.0.0.1:2').replace(/cohort:\n.*\n.*\n/, JWT_COHORT + '\n')
  await t.rejects(startProxy(t, yaml, { files: { 'flags.json': flagsJson([]) } }), /TEST_JWT_SECRET is not set/)
  await t.rejects(startProxy(t, yaml, { env: { TEST_JWT_SECRET: 'x' }, files: { 'flags.json': flagsJson([]) } }), /TEST_JWT_SECRET holds 1 bytes; an HMAC secret needs at least 32/, 'one byte')
  await t.rejects(startProxy(t, yaml, { env: { TEST_JWT_SECRET: 'a'.repeat(31) }, files: { 'flags.json': flagsJson([]) } }), /holds 31 bytes/, '31 bytes')
})

t.test('a JWT without exp is not used unless requireExp: false', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const flags = { 'flags.json': flagsJson([{ name: 'orders-on-django', enabled: true, strategies: [{ name: 'userWithId', parameters: { userIds: 'alice' } }] }]) }
  const forever = await new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().sign(key)
  const go = async (url: string): Promise<string> => ((await (await request(`${url}/api/orders/1`, { headers: { authorization: `Bearer ${forever}` } })).body.json()) as { backend: string }).backend
  const strict = await startProxy(t, flaggedYaml(legacy.url, django.url).replace(/cohort:\n.*\n.*\n/, JWT_COHORT + '\n'), { env: { TEST_JWT_SECRET: SECRET }, files: flags })
  t.equal(await go(strict.url), 'legacy', 'a token that never expires is ignored by default')
  const lax = await startProxy(t, flaggedYaml(legacy.url, django.url).replace(/cohort:\n.*\n.*\n/, JWT_COHORT.replace('secretEnv: TEST_JWT_SECRET', 'secretEnv: TEST_JWT_SECRET, requireExp: false') + '\n'), { env: { TEST_JWT_SECRET: SECRET }, files: flags })
  t.equal(await go(lax.url), 'django', 'accepted with requireExp: false')
})

t.test('anonymous visitors get an HttpOnly session cookie and stay on their backend', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  // 120 requests over both backends with the rollback guard at its defaults: a loaded
  // host's latency blips are no regression, so visitors stay where their session put them.
  const proxy = await startProxy(t, flaggedYaml(legacy.url, django.url), {
    files: { 'flags.json': flagsJson([{ name: 'orders-on-django', enabled: true, strategies: [rollout(50)] }]) }
  })
  const firstBackends: string[] = []
  const stableBackends: boolean[] = []
  for (let visitor = 0; visitor < 20; visitor++) {
    const first = await request(`${proxy.url}/api/orders/1`)
    const setCookie = String(first.headers['set-cookie'])
    const backend = ((await first.body.json()) as { backend: string }).backend
    t.match(setCookie, /^spx_sid=[0-9a-f-]{36}; Path=\/; Max-Age=31536000; HttpOnly; SameSite=Lax$/)
    const cookie = setCookie.split(';')[0] as string
    let same = true
    for (let i = 0; i < 5; i++) {
      const again = await request(`${proxy.url}/api/orders/${i}`, { headers: { cookie } })
      t.notOk(again.headers['set-cookie'], 'no new cookie once the visitor has one')
      same &&= ((await again.body.json()) as { backend: string }).backend === backend
    }
    firstBackends.push(backend)
    stableBackends.push(same)
  }
  t.ok(stableBackends.every(Boolean), 'every visitor kept the backend of their first request')
  t.ok(firstBackends.includes('django') && firstBackends.includes('legacy'), 'the 50 % rollout splits visitors')
  const known = await request(`${proxy.url}/api/orders/1`, { headers: { 'x-user-id': 'alice' } })
  await known.body.dump()
  t.notOk(known.headers['set-cookie'], 'a known user gets no session cookie')
  const staticRoute = await request(`${proxy.url}/other`)
  await staticRoute.body.dump()
  t.notOk(staticRoute.headers['set-cookie'], 'routes without flags never set it')
})

t.test('remoteAddress comes from the trusted client address', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const flags = flagsJson([{ name: 'orders-on-django', enabled: true, strategies: [{ name: 'remoteAddress', parameters: { IPs: '203.0.113.7' } }] }])
  const untrusted = await startProxy(t, flaggedYaml(legacy.url, django.url), { files: { 'flags.json': flags } })
  const viaUntrusted = await request(`${untrusted.url}/api/orders/1`, { headers: { 'x-forwarded-for': '203.0.113.7' } })
  t.match(await viaUntrusted.body.json(), { backend: 'legacy' }, 'a client cannot claim an address')
  const trusted = await startProxy(t, flaggedYaml(legacy.url, django.url, 'client: { trustedProxies: [loopback] }'), { files: { 'flags.json': flags } })
  const viaTrusted = await request(`${trusted.url}/api/orders/1`, { headers: { 'x-forwarded-for': '203.0.113.7' } })
  t.match(await viaTrusted.body.json(), { backend: 'django' }, 'a trusted proxy can')
})

t.test('overrides: honoured with a signed, unexpired token; otherwise ignored, counted and logged at a bounded rate', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const proxy = await startProxy(t, flaggedYaml(legacy.url, django.url, 'override: { header: x-test-as, cookie: test_as }'), {
    env: { STRANGLER_OVERRIDE_SECRET: 'tester-override-secret-of-32-bytes' },
    files: { 'flags.json': flagsJson([{ name: 'orders-on-django', enabled: false, strategies: [] }]) }
  })
  // The oracle: the documented format, signed here with node:crypto.
  const token = (subject: string, secret = 'tester-override-secret-of-32-bytes'): string => `${subject}.${createHmac('sha256', secret).update(subject).digest('hex')}`
  const soon = Math.floor(Date.now() / 1000) + 3600
  const go = async (headers: Record<string, string>): Promise<string> => {
    const res = await request(`${proxy.url}/api/orders/1`, { headers })
    return ((await res.body.json()) as { backend: string }).backend
  }
  t.equal(await go({ 'x-test-as': token(`django.${soon}`) }), 'django', 'a signed token in the header')
  t.equal(await go({ cookie: `a=1; test_as=${token(`django.${soon}`)}; b=2` }), 'django', 'and in the cookie')
  t.equal(await go({ 'x-test-as': token(`django@orders.${soon}`) }), 'django', 'a token naming this route')
  const refused: Array<[string, string]> = [
    ['django.tester-override-secret-of-32-bytes', 'the raw secret is not a token'],
    [`django.${createHmac('sha256', 'tester-override-secret-of-32-bytes').update('django').digest('hex')}`, 'an HMAC of the backend alone (no expiry) is not a token'],
    [token(`django.${soon}`, 'other-secret'), 'signed with another secret'],
    [token(`django.${Math.floor(Date.now() / 1000) - 1}`), 'expired'],
    [token(`django.${soon + 60 * 24 * 3600}`), 'valid for more than 30 days'],
    [token(`django@checkout.${soon}`), 'for another route'],
    [token(`elsewhere.${soon}`), 'a backend the route cannot use'],
    [token(`legacy.${soon}`).replace(/.$/, (c) => c === '0' ? '1' : '0'), 'a tampered signature']
  ]
  for (const [value, why] of refused) t.equal(await go({ 'x-test-as': value }), 'legacy', why)
  const seen = django.seen.concat(legacy.seen)
  t.notOk(seen.some((s) => s.headers['x-test-as'] !== undefined), 'the override header never reaches a backend')
  t.same(seen.map((s) => s.headers.cookie).filter((c) => c !== undefined), ['a=1; b=2'], 'the override cookie never reaches a backend; the others do')
  await sleep(20)
  t.same(accessLines(proxy.logs).map((l) => l.reason), ['override', 'override', 'override', ...refused.map(() => 'flag_off')])
  const evidence = await (await request(`${proxy.adminUrl}/metrics`)).body.text()
  t.match(evidence, 'strangler_evidence_ignored_total{reason="override"} 3', 'tester overrides are not evidence for any gate or the guard')
  t.notMatch(evidence, /strangler_evidence_requests_total\{route="orders",backend="django"/, 'django has no evidence: only testers reached it')
  const ignored = proxy.logs.filter((l) => l.msg === 'backend override ignored')
  t.same(ignored.map((l) => l.reason), ['expected <backend>[@<route>].<expires>.<signature>', 'wrong override signature', 'override token expired', 'override token is for route "checkout"', 'backend "elsewhere" is not one this route can use'], 'one line per kind of failure in 10 s, not one per request')
  const metrics = await (await request(`${proxy.adminUrl}/metrics`)).body.text()
  t.match(metrics, 'strangler_override_rejected_total{route="orders",reason="bad_signature"} 2')
  t.match(metrics, 'strangler_override_rejected_total{route="orders",reason="malformed"} 3')
  t.match(metrics, 'strangler_override_rejected_total{route="orders",reason="expired"} 1')
  t.notMatch(JSON.stringify(proxy.logs), /tester-override-secret-of-32-bytes/, 'the secret is never logged')
})

t.test('issuer and audience: a token from another issuer or for another audience is never used', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const cohort = JWT_COHORT.replace('secretEnv: TEST_JWT_SECRET', 'secretEnv: TEST_JWT_SECRET, issuer: "https://login.shop.example", audience: shop')
  const proxy = await startProxy(t, flaggedYaml(legacy.url, django.url).replace(/cohort:\n.*\n.*\n/, cohort + '\n'), {
    env: { TEST_JWT_SECRET: SECRET },
    files: { 'flags.json': flagsJson([{ name: 'orders-on-django', enabled: true, strategies: [{ name: 'userWithId', parameters: { userIds: 'alice' } }] }]) }
  })
  const signed = async (iss: string, aud: string): Promise<string> => await new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'HS256' }).setIssuer(iss).setAudience(aud).setExpirationTime('10m').sign(key)
  const go = async (token: string): Promise<string> => ((await (await request(`${proxy.url}/api/orders/1`, { headers: { authorization: `Bearer ${token}` } })).body.json()) as { backend: string }).backend
  t.equal(await go(await signed('https://login.shop.example', 'shop')), 'django', 'the configured issuer and audience')
  t.equal(await go(await signed('https://evil.example', 'shop')), 'legacy', 'another issuer, same secret')
  t.equal(await go(await signed('https://login.shop.example', 'admin-portal')), 'legacy', 'another audience')
  const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'alice', iss: 'https://login.shop.example', aud: 'shop', exp: Math.floor(Date.now() / 1000) + 600 })).toString('base64url')}.`
  t.equal(await go(none), 'legacy', 'alg: none')
})
