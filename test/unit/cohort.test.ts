/**
 * The cohort a request is evaluated with, and the JWT claims it may come from. Tokens
 * are signed here with node:crypto (HS256 by hand), not with the library the verifier
 * uses, so a verifier that accepted the wrong thing could not agree with itself.
 */
import t from 'tap'
import { createHmac } from 'node:crypto'
import { parseConfig, type CohortConfig, type JwtConfig } from '../../src/config/config.js'
import { buildCohort, type Cohort } from '../../src/decision/cohort.js'
import { createJwtVerifier } from '../../src/decision/jwt.js'

const SECRET = 'k'.repeat(32)
const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url')

/** An HS-signed JWT; `alg` other than HS256/HS384 is written into the header as given. */
function token (claims: Record<string, unknown>, { secret = SECRET, alg = 'HS256' } = {}): string {
  const head = `${b64({ alg, typ: 'JWT' })}.${b64(claims)}`
  const hash = alg === 'HS384' ? 'sha384' : 'sha256'
  return alg === 'none' ? `${head}.` : `${head}.${createHmac(hash, secret).update(head).digest('base64url')}`
}
const now = (): number => Math.floor(Date.now() / 1000)

function cohortConfig (yaml: string): CohortConfig {
  return parseConfig(`backends: { b: { url: "http://127.0.0.1:1" } }\nroutes: [{ name: r, match: { path: /* }, backend: b }]\ncohort:\n${yaml}`, '/srv/routes.yaml').cohort
}

async function cohort (config: CohortConfig, headers: Record<string, string | string[]>): Promise<Cohort> {
  const jwt = config.jwt === undefined ? undefined : createJwtVerifier(config.jwt, { JWT_SECRET: SECRET })
  return await buildCohort(config, { headers, clientIp: '198.51.100.7' }, jwt)
}

t.test('each value from the first source that has one, and where it came from', async (t) => {
  const config = cohortConfig(`  userId: [{ jwt: sub }, { header: x-user-id }, { cookie: uid }]
  sessionId: { header: x-session }
  properties: { plan: [{ jwt: plan }, { header: x-plan }], tenant: { cookie: tenant } }
  jwt: { secretEnv: JWT_SECRET }
`)
  const signed = `Bearer ${token({ sub: 'alice', plan: 'gold', exp: now() + 60 })}`
  t.strictSame(await cohort(config, { authorization: signed, 'x-user-id': 'bob', cookie: 'tenant=acme; uid=carol', 'x-session': 's1' }), {
    context: { remoteAddress: '198.51.100.7', properties: { plan: 'gold', tenant: 'acme' }, userId: 'alice', sessionId: 's1' },
    issuedSession: undefined,
    from: { remoteAddress: 'client address', userId: 'jwt claim sub', sessionId: 'header x-session', plan: 'jwt claim plan', tenant: 'cookie tenant' }
  })
  t.match(await cohort(config, { 'x-user-id': '', cookie: 'uid=carol', 'x-plan': 'free' }), { context: { userId: 'carol', properties: { plan: 'free' } }, from: { userId: 'cookie uid', plan: 'header x-plan' } }, 'an empty header is no value')
  t.match(await cohort(config, { 'x-user-id': ['bob', 'mallory'] }), { context: { userId: 'bob' }, from: { userId: 'header x-user-id' } }, 'a repeated header: the first')
  t.match(await cohort(config, { authorization: `Bearer ${token({ sub: 42, plan: { tier: 1 }, exp: now() + 60 })}`, 'x-plan': 'free' }), { context: { userId: '42', properties: { plan: 'free' } } }, 'a numeric claim is a value, an object claim is not')
})

t.test('sessions: configured sources, then the proxy\'s cookie, then a new one for anonymous visitors only', async (t) => {
  const config = cohortConfig('  userId: { header: x-user-id }\n')
  t.match(await cohort(config, { cookie: 'spx_sid=abc' }), { context: { sessionId: 'abc' }, issuedSession: undefined, from: { sessionId: 'cookie spx_sid' } })
  const anonymous = await cohort(config, {})
  t.match(anonymous.issuedSession, /^[0-9a-f-]{36}$/)
  t.equal(anonymous.context.sessionId, anonymous.issuedSession)
  t.equal(anonymous.from.sessionId, 'new spx_sid cookie')
  t.not((await cohort(config, {})).issuedSession, anonymous.issuedSession, 'each visitor their own')
  const known = await cohort(config, { 'x-user-id': 'u1' })
  t.strictSame([known.issuedSession, known.context.sessionId], [undefined, undefined], 'a known user needs no session cookie')
  const off = await cohort(cohortConfig('  sessionCookie: false\n'), { cookie: 'spx_sid=abc' })
  t.strictSame([off.issuedSession, off.context.sessionId], [undefined, undefined], 'sessionCookie: false issues and reads none')
})

function verifier (yaml: string, env: Record<string, string> = { JWT_SECRET: SECRET }): ReturnType<typeof createJwtVerifier> {
  return createJwtVerifier(cohortConfig(`  jwt: ${yaml}\n`).jwt as JwtConfig, env)
}

t.test('a token is used only when it verifies', async (t) => {
  const v = verifier('{ secretEnv: JWT_SECRET, issuer: shop, audience: web }')
  const good = { sub: 'alice', iss: 'shop', aud: 'web', exp: now() + 60 }
  t.match(await v.claims({ authorization: `Bearer ${token(good)}` }), { sub: 'alice' })
  t.match(await v.claims({ authorization: token(good) }), { sub: 'alice' }, 'without the Bearer prefix too')
  const refused: Array<[string, string]> = [
    ['another key', token(good, { secret: 'x'.repeat(32) })],
    ['another issuer', token({ ...good, iss: 'evil' })],
    ['another audience', token({ ...good, aud: 'api' })],
    ['expired', token({ ...good, exp: now() - 120 })],
    ['not yet valid', token({ ...good, nbf: now() + 600 })],
    ['no exp', token({ sub: 'alice', iss: 'shop', aud: 'web' })],
    ['alg none', token(good, { alg: 'none' })],
    ['an algorithm not allowed (HS384)', token(good, { alg: 'HS384' })],
    ['not a JWT', 'hello'],
    ['empty', '']
  ]
  for (const [why, tok] of refused) t.equal(await v.claims({ authorization: `Bearer ${tok}` }), undefined, why)
  t.equal(await v.claims({}), undefined, 'no token')
})

t.test('where the token is read: the cookie first, then the header', async (t) => {
  const v = verifier('{ secretEnv: JWT_SECRET, header: x-token, cookie: tok, requireExp: false }')
  t.match(await v.claims({ cookie: `tok=${token({ sub: 'from-cookie' })}`, 'x-token': token({ sub: 'from-header' }) }), { sub: 'from-cookie' })
  t.match(await v.claims({ 'x-token': [token({ sub: 'first' }), token({ sub: 'second' })] }), { sub: 'first' })
  t.match(await v.claims({ 'x-token': token({ sub: 'no-exp' }) }), { sub: 'no-exp' }, 'requireExp: false accepts a token without exp')
  t.equal(await v.claims({ authorization: `Bearer ${token({ sub: 'x' })}` }), undefined, 'the default header is not read when another is named')
})

t.test('a token verified once is answered without waiting', async (t) => {
  const v = verifier('{ secretEnv: JWT_SECRET }')
  const headers = { authorization: `Bearer ${token({ sub: 'alice', exp: now() + 60 })}` }
  t.ok(v.claims(headers) instanceof Promise, 'the first time it is verified')
  await v.claims(headers)
  const again = v.claims(headers)
  t.notOk(again instanceof Promise, 'then remembered')
  t.match(again, { sub: 'alice' })
})

t.test('the HMAC secret: set, and at least 32 bytes', async (t) => {
  t.throws(() => verifier('{ secretEnv: JWT_SECRET }', {}), { code: 'SPX_CONFIG_INVALID', message: 'cohort.jwt.secretEnv: environment variable JWT_SECRET is not set' })
  t.throws(() => verifier('{ secretEnv: JWT_SECRET }', { JWT_SECRET: '' }), { message: 'cohort.jwt.secretEnv: environment variable JWT_SECRET is not set' })
  t.throws(() => verifier('{ secretEnv: JWT_SECRET }', { JWT_SECRET: 'k'.repeat(31) }), { code: 'SPX_CONFIG_INVALID', message: 'cohort.jwt.secretEnv: JWT_SECRET holds 31 bytes; an HMAC secret needs at least 32' })
  t.doesNotThrow(() => verifier('{ secretEnv: JWT_SECRET }', { JWT_SECRET: 'k'.repeat(32) }))
})
