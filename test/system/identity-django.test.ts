/**
 * The identity bridge with the example apps for real: the legacy app keeps its own
 * session cookie, which Django here cannot read (another secret); the proxy asks
 * legacy's /whoami and hands Django a signed token that Django's middleware verifies
 * with PyJWT against the proxy's JWKS. Tokens that are forged, expired or for
 * another audience are refused by Django itself. Django's admin works through the
 * proxy for the bridged user.
 */
import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { request } from 'undici'
import { SignJWT, importPKCS8 } from 'jose'
import { djangoMissing, startDjango, startLegacy, type App } from '../../examples/stack.js'
import { freePort } from '../helpers/free-port.js'
import { startProxy, tempDir } from '../helpers/proxy.js'

t.test('Django knows the user legacy signed in, from the proxy\'s token alone', async (t) => {
  // djangoMissing() also asks for PyJWT and cryptography, which the middleware needs.
  const missing = djangoMissing()
  if (missing !== undefined) {
    if (process.env.STRANGLER_REQUIRE_DJANGO === '1') throw new Error(missing)
    t.pass('identity bridge with Django', { skip: missing })
    return
  }
  const dir = tempDir(t)
  const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string
  writeFileSync(join(dir, 'identity.pem'), pem)
  const apps: App[] = []
  t.teardown(() => Promise.all(apps.map((a) => a.stop())))
  const legacy = await startLegacy(await freePort())
  apps.push(legacy)
  const djangoPort = await freePort()
  const p = await startProxy(t, `listen: { host: 127.0.0.1 }
backends:
  legacy: { url: "${legacy.url}", legacy: true }
  django: { url: "http://127.0.0.1:${djangoPort}" }
identity:
  resolve: { url: "${legacy.url}/whoami", fields: [sub, tenant] }
  session: { cookie: session }
  token: { keyFile: identity.pem, backends: [django], issuer: shop-proxy }
cohort: { userId: [ { identity: sub } ] }
routes:
  - { name: me, match: { path: /api/me }, backend: django }
  - { name: admin, match: { path: /admin/* }, backend: django }
  - { name: default, match: { path: /* }, backend: legacy }
`, { dir })
  const django = await startDjango(djangoPort, { STRANGLER_JWKS_URL: `${p.adminUrl}/.well-known/jwks.json`, STRANGLER_ISSUER: 'shop-proxy', SESSION_SECRET: 'django-cannot-read-legacy-sessions', DJANGO_ADMIN: '1', DJANGO_DB: join(dir, 'django.sqlite3'), STRANGLER_STAFF: 'carol' })
  apps.push(django)

  const login = await request(`${p.url}/login?user=carol&tenant=acme`)
  t.equal(login.statusCode, 200, 'signed in at legacy, through the proxy')
  await login.body.dump()
  const cookie = (String(login.headers['set-cookie'])).split(';')[0] as string

  const me = await request(`${p.url}/api/me`, { headers: { cookie } })
  t.equal(me.statusCode, 200)
  t.same(await me.body.json(), { user: 'carol', tenant: 'acme' }, 'Django names the user legacy signed in')
  const anonymous = await request(`${p.url}/api/me`)
  t.equal(anonymous.statusCode, 401, 'no session: Django sees nobody')
  await anonymous.body.dump()
  const direct = await request(`${django.url}/api/me`, { headers: { cookie } })
  t.equal(direct.statusCode, 401, 'Django cannot read legacy\'s cookie: only the bridge names the user')
  await direct.body.dump()

  // Django's admin through the proxy: the bridged user is the Django user.
  const admin = await request(`${p.url}/admin/`, { headers: { cookie } })
  const page = await admin.body.text()
  t.equal(admin.statusCode, 200, 'carol (staff in Django) opens the admin through the proxy')
  t.match(page, /Site administration/)
  t.match(page, /carol/, 'signed in as the user legacy signed in')
  const daveLogin = await request(`${p.url}/login?user=dave`)
  await daveLogin.body.dump()
  const dave = await request(`${p.url}/admin/`, { headers: { cookie: String(daveLogin.headers['set-cookie']).split(';')[0] as string } })
  await dave.body.dump()
  t.equal(dave.statusCode, 302, 'dave is not staff: the admin sends him to its login')
  t.match(dave.headers.location, /^\/admin\/login\/\?next=\/admin\//)
  const nobody = await request(`${p.url}/admin/`)
  await nobody.body.dump()
  t.equal(nobody.statusCode, 302, 'nobody signed in: the same')
  // The admin's own sign-in form, with its CSRF token: carol has no password to give.
  const form = await request(`${p.url}/admin/login/`)
  const csrfCookie = String(form.headers['set-cookie']).split(';')[0] as string
  const csrf = /name="csrfmiddlewaretoken" value="([^"]+)"/.exec(await form.body.text())?.[1] ?? ''
  const password = await request(`${p.url}/admin/login/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: csrfCookie, referer: `${p.url}/admin/login/` }, body: `csrfmiddlewaretoken=${csrf}&username=carol&password=x&next=/admin/` })
  t.equal(password.statusCode, 200, 'the admin\'s password form answers (its CSRF check passed)')
  t.match(await password.body.text(), /correct username and password/, 'and refuses carol: the bridged users have no password')

  // What a client might try against Django directly.
  const key = await importPKCS8(pem, 'EdDSA')
  const jwks = await (await request(`${p.adminUrl}/.well-known/jwks.json`)).body.json() as { keys: Array<{ kid: string }> }
  const kid = jwks.keys[0]?.kid as string
  const now = Math.floor(Date.now() / 1000)
  const sign = async (o: { exp?: number, aud?: string, with?: typeof key } = {}): Promise<string> => await new SignJWT({ tenant: 'acme' })
    .setProtectedHeader({ alg: 'EdDSA', kid }).setSubject('mallory').setIssuer('shop-proxy').setAudience(o.aud ?? 'django')
    .setIssuedAt((o.exp ?? now + 60) - 120).setExpirationTime(o.exp ?? now + 60).sign(o.with ?? key)
  const other = await importPKCS8(generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, 'EdDSA')
  const ask = async (header: string): Promise<{ status: number, body: { error?: string, detail?: string } }> => {
    const res = await request(`${django.url}/api/me`, { headers: { 'x-strangler-identity': header } })
    return { status: res.statusCode, body: await res.body.json() as { error?: string, detail?: string } }
  }
  const good = await ask(await sign())
  t.equal(good.status, 200, 'a token signed with the proxy\'s key is accepted (the check below can fail)')
  const expired = await ask(await sign({ exp: now - 300 }))
  t.match(expired, { status: 401, body: { error: 'invalid identity token', detail: /expired/i } }, 'an expired token is refused by Django')
  const audience = await ask(await sign({ aud: 'reports' }))
  t.match(audience, { status: 401, body: { detail: /audience/i } }, 'a token for another backend is refused')
  const forged = await ask(await sign({ with: other }))
  t.match(forged, { status: 401, body: { detail: /signature/i } }, 'a token signed with another key is refused')
})
