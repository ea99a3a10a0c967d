/**
 * Verified JWT claims are remembered, and nothing that should fail verification is
 * ever served from memory: a tampered signature, a token that expires while
 * remembered, one not yet valid, an unsigned one, or any token after the secret
 * rotates. Real proxy, real sockets; tokens signed here with jose.
 */
import t, { type Test } from 'tap'
import { writeFileSync } from 'node:fs'
import { request } from 'undici'
import { SignJWT } from 'jose'
import { startUpstream } from '../helpers/backends.js'
import { startProxy, sleep, type TestProxy } from '../helpers/proxy.js'
import { flagsJson, flaggedYaml } from '../helpers/flags.js'
import { ClaimsCache, MAX_ENTRIES, MAX_TTL_MS } from '../../src/decision/jwt-cache.js'

const SECRET_A = 'first-jwt-secret-of-enough-length-1234'
const SECRET_B = 'second-jwt-secret-of-enough-length-5678'
const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url')

async function sign (claims: Record<string, unknown>, secret = SECRET_A): Promise<string> {
  return await new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(enc(secret))
}

const cohort = (env: string): string => `cohort:\n  userId: [ { jwt: sub } ]\n  jwt: { secretEnv: ${env} }`

async function proxyFor (t: Test): Promise<{ p: TestProxy, yaml: string, go: (token: string) => Promise<string> }> {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const yaml = flaggedYaml(legacy.url, django.url).replace(/cohort:\n.*\n.*\n/, cohort('JWT_A') + '\n')
  const p = await startProxy(t, yaml, {
    env: { JWT_A: SECRET_A, JWT_B: SECRET_B },
    files: { 'flags.json': flagsJson([{ name: 'orders-on-django', enabled: true, strategies: [{ name: 'userWithId', parameters: { userIds: 'alice' } }] }]) }
  })
  const go = async (token: string): Promise<string> => ((await (await request(`${p.url}/api/orders/1`, { headers: { authorization: `Bearer ${token}` } })).body.json()) as { backend: string }).backend
  return { p, yaml, go }
}

t.test('a remembered token stops working the moment it expires', async (t) => {
  const { go } = await proxyFor(t)
  const now = Math.floor(Date.now() / 1000)
  const token = await sign({ sub: 'alice', exp: now + 2 })
  t.equal(await go(token), 'django')
  t.equal(await go(token), 'django', 'from memory')
  await sleep((now + 2) * 1000 - Date.now() + 100)
  t.equal(await go(token), 'legacy', 'expired: not served from memory')
})

t.test('tampered, not yet valid and unsigned tokens are never accepted, however often sent', async (t) => {
  const { go } = await proxyFor(t)
  const now = Math.floor(Date.now() / 1000)
  const good = await sign({ sub: 'alice', exp: now + 600 })
  t.equal(await go(good), 'django')
  const [h, , s] = good.split('.')
  const tampered = `${h ?? ''}.${b64({ sub: 'alice', exp: now + 6000 })}.${s ?? ''}`
  // A character inside the signature changed for another: never the same one, never only
  // the last character's padding bits, which base64url decoding ignores.
  const at = good.lastIndexOf('.') + 5
  const flipped = good.slice(0, at) + (good[at] === 'A' ? 'B' : 'A') + good.slice(at + 1)
  const early = await sign({ sub: 'alice', exp: now + 600, nbf: now + 60 })
  const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'alice', exp: now + 600 })}.`
  for (const [name, token] of [['payload changed', tampered], ['signature changed', flipped], ['nbf in the future', early], ['alg none', unsigned]] as const) {
    t.same([await go(token), await go(token), await go(token)], ['legacy', 'legacy', 'legacy'], name)
  }
  t.equal(await go(good), 'django', 'the good one still works')
})

t.test('after a reload that rotates the secret, no token signed with the old one is used', async (t) => {
  const { p, yaml, go } = await proxyFor(t)
  const now = Math.floor(Date.now() / 1000)
  const old = await sign({ sub: 'alice', exp: now + 600 })
  t.equal(await go(old), 'django')
  t.equal(await go(old), 'django', 'remembered')
  writeFileSync(p.file, yaml.replace('secretEnv: JWT_A', 'secretEnv: JWT_B'))
  t.match(p.reload('SIGHUP'), { ok: true, changed: true })
  t.equal(await go(old), 'legacy', 'the old secret\'s token is gone with the old verifier')
  t.equal(await go(await sign({ sub: 'alice', exp: now + 600 }, SECRET_B)), 'django', 'the new secret works')
})

t.test('the cache is bounded and caps how long it trusts a token', async (t) => {
  const c = new ClaimsCache()
  c.set('forever', { sub: 'a' }, 0)
  t.same(c.get('forever', MAX_TTL_MS - 1), { sub: 'a' })
  t.equal(c.get('forever', MAX_TTL_MS), undefined, 'a token without exp is trusted from memory for MAX_TTL_MS at most')
  c.set('expired', { sub: 'a', exp: 10 }, 10_000)
  t.equal(c.size, 0, 'an already expired token is not kept')
  for (let i = 0; i <= MAX_ENTRIES; i++) c.set(`t${i}`, { sub: 'a' }, 0)
  t.ok(c.size <= MAX_ENTRIES, `${c.size} entries`)
  c.set('x'.repeat(9000), { sub: 'a' }, 0)
  t.equal(c.get('x'.repeat(9000), 1), undefined, 'a very long token is not remembered')
})
