/**
 * The status page in a real headless Chromium (Debian's, driven by playwright-core)
 * against a running proxy with traffic on routes in different states: what a person
 * sees (route states, the overall share, readiness verdicts, the inventory), the
 * sign-in that turns the admin token into a read-only cookie, accessibility basics.
 * Screenshots go to reports/screenshots/.
 */
import t from 'tap'
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { request } from 'undici'
import { chromium, type Browser } from 'playwright-core'
import { startUpstream } from '../helpers/backends.js'
import { startProxy, sleep, ROOT } from '../helpers/proxy.js'
import { flagsJson, rollout, usersByBucket } from '../helpers/flags.js'
import { runCli } from '../helpers/cli.js'

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p))
const TOKEN = 'status-page-admin-token-of-32-bytes'
const SHOTS = join(ROOT, 'reports', 'screenshots')

t.test('a person opens the status page and sees how far the migration is', async (t) => {
  if (CHROMIUM === undefined) {
    if (process.env.STRANGLER_REQUIRE_BROWSER === '1') throw new Error('chromium is not installed (apt-get install chromium)')
    t.pass('the status page in a browser', { skip: 'chromium not installed (apt-get install chromium)' })
    return
  }
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const p = await startProxy(t, `listen: { host: 127.0.0.1 }
backends:
  legacy: { url: "${legacy.url}", legacy: true }
  django: { url: "${django.url}" }
flags: { file: flags.json }
cohort: { userId: { header: x-user-id } }
retirement: { after: 1s, legacyQuietFor: 1s }
coverage: { declared: { legacy: { list: legacy.txt }, django: { list: django.txt } } }
routes:
  - { name: reports, match: { path: /reports/* }, backend: django }
  - { name: orders, match: { path: /api/orders/* }, backend: legacy, flag: { name: orders-on-django, backend: django } }
  - { name: search, match: { path: /search/* }, backend: legacy, flag: { name: search-on-django, backend: django }, shadow: { backend: legacy } }
  - { name: default, match: { path: /* }, backend: legacy }
`, {
    files: {
      'flags.json': flagsJson([{ name: 'orders-on-django', enabled: true, strategies: [rollout(30)] }, { name: 'search-on-django', enabled: true, strategies: [rollout(100, 'search-on-django')] }]),
      'legacy.txt': 'GET /products/{id}\nGET /cart/{id}\nGET /api/orders/{id}\nGET /search/{q}\nGET /api/me\n',
      'django.txt': 'GET /reports/{name}\nGET /search/{q}\nGET /api/orders/{id}\nGET /api/me\n'
    },
    adminToken: TOKEN
  })

  const users = usersByBucket('orders-on-django')
  const get = async (path: string, user?: string): Promise<void> => { await (await request(`${p.url}${path}`, { headers: user === undefined ? {} : { 'x-user-id': user } })).body.dump() }
  for (const user of users) await get('/api/orders/1', user)
  for (let i = 0; i < 20; i++) await get(`/reports/${i}`)
  for (const path of ['/products/123', '/products/456', '/products/789', '/cart/9f86d081-884c-4d63-9d3a-1b2c3d4e5f60', '/cart/0b1c2d3e4f5a6b7c8d9e']) await get(path)
  await get('/account/orders/42?page=2')

  const bearer = { authorization: `Bearer ${TOKEN}` }
  // The first look starts the clock at 100 %; the shadow comparisons after it count as evidence.
  await (await request(`${p.adminUrl}/status.json`, { headers: bearer })).body.dump()
  for (let i = 0; i < 10; i++) await get(`/search/q${i}`, `s${i}`)
  await sleep(1300)
  const json = await (await request(`${p.adminUrl}/status.json`, { headers: bearer })).body.json() as { overall: { newShare: number, migrated: number, routes: number, ready: number }, routes: Array<{ name: string, state: string }> }
  t.same(Object.fromEntries(json.routes.map((r) => [r.name, r.state])), { reports: 'ready', orders: 'migrating', search: 'migrated', default: 'legacy' }, '/status.json')

  // The same data in a terminal.
  const cli = await runCli(['status', '--admin', p.adminUrl], { STRANGLER_ADMIN_TOKEN: TOKEN })
  t.equal(cli.code, 0, cli.stderr)
  t.match(cli.stdout, /^[\d.]+ % of requests on new backends .*; 2 of 4 routes migrated, 1 ready to retire\n\nROUTE\s+STATE\s+ROLLOUT/)
  t.match(cli.stdout, /\norders\s+migrating at 30 %\s+30 %\s+30\.0 %/)
  t.match(cli.stdout, /\nreports\s+ready to retire\s+.*READY\n/)
  const inv = await runCli(['inventory', '--admin', p.adminUrl], { STRANGLER_ADMIN_TOKEN: TOKEN })
  t.match(inv.stdout, /^METHOD\s+TEMPLATE\s+ROUTE\s+REQUESTS\s+SHARE\s+LAST SEEN\nGET\s+\/products\/:id\s+default\s+3\s/)
  const denied = await runCli(['status', '--admin', p.adminUrl])
  t.equal(denied.code, 1, 'without the token the CLI is refused')
  t.match(denied.stderr, /SPX_ADMIN_UNAUTHORIZED/)

  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless=new'] })
  t.teardown(() => browser.close())
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } })
  mkdirSync(SHOTS, { recursive: true })

  // Signing in: the token once, then a cookie that only reads.
  const first = await page.goto(`${p.adminUrl}/status`)
  t.equal(first?.status(), 401)
  await page.screenshot({ path: join(SHOTS, 'status-sign-in.png') })
  t.equal(await page.getByLabel('Operator token').count(), 1, 'the token field has a label')
  await page.getByLabel('Operator token').fill('wrong')
  await page.getByRole('button', { name: 'Sign in' }).click()
  t.match(await page.getByRole('alert').textContent(), /not accepted/)
  await page.getByLabel('Operator token').fill(TOKEN)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForURL(`${p.adminUrl}/status`)
  await page.screenshot({ path: join(SHOTS, 'status.png'), fullPage: true })
  const cookies = await page.context().cookies()
  t.match(cookies, [{ name: 'spx_admin_session', httpOnly: true, sameSite: 'Strict' }], 'an HttpOnly, SameSite=Strict cookie')
  t.match(await page.locator('.signed-in').textContent(), /Signed in as admin/, 'the page says who is signed in')

  // What a person sees.
  t.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Migration status')
  t.same(await page.getByRole('heading', { level: 2 }).allTextContents(), ['Overall', 'Routes', 'Retirement readiness', 'What is left to migrate', 'Declared endpoints'])
  const state = async (route: string): Promise<string> => ((await page.locator(`tr[data-route="${route}"] .badge`).textContent()) ?? '').trim()
  t.equal(await state('reports'), '✓ Ready to retire')
  t.equal(await state('orders'), '◐ Migrating · 30 %')
  t.equal(await state('search'), '● Migrated')
  t.equal(await state('default'), '○ Legacy')
  const share = (await page.locator('#new-share').textContent()) ?? ''
  t.match(share, new RegExp(`^${(json.overall.newShare * 100).toFixed(1)} %`), `the overall share as /status.json has it (${share})`)
  t.match((await page.locator('#routes-migrated').textContent()) ?? '', /^2 of 4/)
  t.match(await page.locator('section.readiness[data-route="reports"] h3').textContent(), /^reports: READY$/)
  t.match(await page.locator('section.readiness[data-route="search"] h3').textContent(), /^search: NOT READY$/)
  const evidence = (await page.locator('section.readiness[data-route="search"] li').allInnerTexts()).join('\n')
  t.match(evidence, /^✗ 0\.000 % of 10 comparisons at 100 %, minimum 99\.9 %$/m, `with the evidence: parity (legacy answers differently)\n${evidence}`)
  t.match(evidence, /^✓ at 100 % for \d+ s of 1 s$/m, 'and time at 100 %')
  const inventory = await page.locator('section[aria-labelledby="inventory"] tbody tr').allInnerTexts()
  t.match(inventory[0], /^GET\t\/products\/:id\tdefault\t3\t/, 'the inventory, by traffic')
  t.ok(inventory.some((r) => /^GET\t\/cart\/:id\tdefault\t2\t/.test(r)), 'UUIDs and long hex are :id')
  t.ok(inventory.some((r) => /^GET\t\/account\/orders\/:id\tdefault\t1\t/.test(r)), 'queries are left out')
  t.notOk(inventory.some((r) => /reports|orders\/1\b/.test(r)), 'only what legacy serves through the catch-all')

  t.match(await page.locator('#declared-migrated').innerText(), /^33\.3 %\s+of 6 declared endpoints migrated$/, 'the share of declared endpoints migrated')
  const coverage = Object.fromEntries((await page.locator('#coverage-counts tbody tr').allInnerTexts()).map((r) => r.split('\t')))
  t.match(coverage, { 'legacy only': '2', 'ported, not routed': '1', migrating: '1', migrated: '1', 'ready to retire': '1', 'routed, not implemented': '0' }, `declared endpoints by state: ${JSON.stringify(coverage)}`)

  // Accessibility basics: header cells, labels, and the badges' contrast.
  t.equal(await page.locator('thead th:not([scope="col"])').count(), 0, 'every column header has scope=col')
  t.equal(await page.locator('tbody tr[data-route] > th[scope="row"]').count(), 4, 'each route row has a row header')
  t.equal(await page.locator('progress').getAttribute('id'), 'progress')
  t.equal(await page.locator('label[for="progress"]').count(), 1, 'the progress bar has a label')
  // A string, not a function: the test runner's compiler would wrap named functions in helpers the page lacks.
  const ratios = await page.evaluate(`[...document.querySelectorAll('.badge')].map((el) => {
    const rgb = (c) => (c.match(/\\d+/g) || []).slice(0, 3).map(Number)
    const lum = (c) => { const [r, g, b] = c.map((v) => { const s = v / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4 }); return 0.2126 * r + 0.7152 * g + 0.0722 * b }
    const s = getComputedStyle(el)
    const [a, b] = [lum(rgb(s.color)), lum(rgb(s.backgroundColor))].sort((x, y) => y - x)
    return { state: el.getAttribute('data-state'), ratio: (a + 0.05) / (b + 0.05) }
  })`) as Array<{ state: string | null, ratio: number }>
  t.ok(ratios.length >= 4 && ratios.every((r) => r.ratio >= 4.5), `badge contrast ≥ 4.5:1: ${ratios.map((r) => `${r.state ?? ''} ${r.ratio.toFixed(1)}`).join(', ')}`)
  t.ok(await page.locator('.badge [aria-hidden="true"]').count() >= 4, 'the symbols are decoration; the words carry the state')

  // The cookie reads; it changes nothing.
  const cookie = `spx_admin_session=${cookies[0]?.value ?? ''}`
  const read = await request(`${p.adminUrl}/status.json`, { headers: { cookie } })
  t.equal(read.statusCode, 200, 'the cookie opens GET')
  await read.body.dump()
  const write = await request(`${p.adminUrl}/guard/reset`, { method: 'POST', headers: { cookie, 'content-type': 'application/json' }, body: '{}' })
  t.equal(write.statusCode, 401, 'and nothing that changes state')
  await write.body.dump()
  const forged = await request(`${p.adminUrl}/status/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' }, body: `token=${TOKEN}` })
  t.equal(forged.statusCode, 403, 'a cross-site sign-in is refused')
  await forged.body.dump()

  // Readable without JavaScript.
  const plain = await browser.newPage({ javaScriptEnabled: false })
  await plain.context().addCookies(cookies)
  await plain.goto(`${p.adminUrl}/status`)
  t.equal(await plain.locator('tr[data-route]').count(), 4, 'the page works with scripts off')

  // Signing out ends the session: the same cookie opens nothing afterwards.
  await page.getByRole('button', { name: 'Sign out' }).click()
  await page.waitForURL(`${p.adminUrl}/status`)
  t.equal(await page.getByLabel('Operator token').count(), 1, 'signed out: the sign-in form again')
  const after = await request(`${p.adminUrl}/status.json`, { headers: { cookie } })
  t.equal(after.statusCode, 401, 'the old cookie is dead')
  await after.body.dump()
})
