/**
 * The control plane finds replicas besides Prometheus's targets (ramps.replicas): a
 * replica listed but never scraped is shown as such, and still asked for its own view;
 * a DNS name is resolved to every address; a name that does not resolve leaves
 * Prometheus's replicas and says why. Real proxies, a real Prometheus.
 */
import t, { type Test } from 'tap'
import { existsSync, mkdirSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'
import { join } from 'node:path'
import { request } from 'undici'
import { startUpstream, closedPort } from '../helpers/backends.js'
import { startProxy, tempDir, writeConfig, sleep, ROOT, type TestProxy } from '../helpers/proxy.js'
import { prometheusMissing, startPrometheus } from '../helpers/prometheus.js'
import { runRampDriver } from '../../src/lifecycle/ramp-runner.js'
import { createLogger } from '../../src/observe/log.js'

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p))

/** The fleet's page as a person sees it in Debian's headless Chromium. */
async function inBrowser (t: Test, url: string, scraped: string, unscraped: string): Promise<void> {
  if (CHROMIUM === undefined) {
    if (process.env.STRANGLER_REQUIRE_BROWSER === '1') throw new Error('chromium is not installed (apt-get install chromium)')
    t.pass('the fleet page in a browser', { skip: 'chromium not installed (apt-get install chromium)' })
    return
  }
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless=new'] })
  t.teardown(() => browser.close())
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } })
  await page.goto(url)
  mkdirSync(join(ROOT, 'reports', 'screenshots'), { recursive: true })
  await page.screenshot({ path: join(ROOT, 'reports', 'screenshots', 'fleet-status.png'), fullPage: true })
  t.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Fleet migration status')
  t.same(await page.getByRole('heading', { level: 2 }).allTextContents(), ['Overall', 'Replicas', 'Routes', 'What is left to migrate'])
  const rows = Object.fromEntries((await page.locator('section[aria-labelledby="replicas"] tbody tr').allInnerTexts()).map((r) => r.split('\t').slice(0, 2)))
  t.same(rows, { [scraped]: 'in step', [unscraped]: 'answers, but Prometheus does not scrape it' }, 'each replica and its state, in words')
  t.match(await page.locator('section[aria-labelledby="inventory"] tbody').innerText(), /\/legacy\/only-here/, 'what legacy still serves, from the replica Prometheus does not scrape')
}

interface Fleet { replicas: Array<{ instance: string, up: boolean, scraped: boolean, listed: boolean }>, discovery: { source: string, error?: string } }

t.test('a listed replica Prometheus does not scrape is shown and asked; DNS and its failure', async (t) => {
  const missing = prometheusMissing()
  if (missing !== undefined) {
    if (process.env.STRANGLER_REQUIRE_PROMETHEUS === '1') throw new Error(missing)
    t.pass('discovery', { skip: missing })
    return
  }
  const legacy = await startUpstream(t, 'legacy')
  const mirror = await startUpstream(t, 'mirror')
  const unleash = `http://127.0.0.1:${await closedPort()}/api`
  const replicaYaml = `listen: { host: 127.0.0.1 }
backends: { legacy: { url: "${legacy.url}", legacy: true }, mirror: { url: "${mirror.url}" } }
flags: { unleash: { url: "${unleash}", timeout: 1s } }
routes:
  - { name: default, match: { path: /* }, backend: legacy, shadow: { backend: mirror } }
`
  const [scraped, unscraped] = [await startProxy(t, replicaYaml, { flagsStartWaitMs: 100 }), await startProxy(t, replicaYaml, { flagsStartWaitMs: 100 })] as [TestProxy, TestProxy]
  const host = (p: TestProxy): string => new URL(p.adminUrl).host
  const prom = await startPrometheus(t, [host(scraped)])
  const control = async (replicas: string): Promise<string> => {
    const dir = tempDir(t)
    const yaml = replicaYaml + `ramps: { driver: fleet, prometheus: "${prom.api}", interval: 500ms, replicas: ${replicas} }\n`
    const runner = await runRampDriver({ configFile: writeConfig(t, yaml, dir), logger: createLogger({ level: 'silent' }), host: '127.0.0.1', port: 0, env: { UNLEASH_ADMIN_TOKEN: 'admin', XDG_STATE_HOME: join(dir, 'state') }, watch: false })
    t.teardown(() => runner.stop())
    return runner.url
  }
  const fleetOf = async (url: string): Promise<Fleet> => (await (await request(`${url}/fleet`)).body.json()) as Fleet

  const listed = await control(`{ static: ["${host(scraped)}", "${host(unscraped)}"] }`)
  let fleet = await fleetOf(listed)
  for (const end = Date.now() + 15_000; !fleet.replicas.some((r) => r.instance === host(scraped) && r.up) && Date.now() < end; await sleep(250)) fleet = await fleetOf(listed)
  t.same(fleet.discovery, { source: 'static' })
  t.match(fleet.replicas.find((r) => r.instance === host(scraped)), { up: true, scraped: true, listed: true }, 'the scraped replica')
  t.match(fleet.replicas.find((r) => r.instance === host(unscraped)), { up: false, scraped: false, listed: true }, 'the listed one Prometheus does not know is shown, not dropped')
  await (await request(`${unscraped.url}/legacy/only-here`)).body.dump()
  const inventory = (await (await request(`${listed}/inventory`)).body.json()) as { entries: Array<{ template: string }>, unanswered: Record<string, string> }
  t.ok(inventory.entries.some((e) => e.template.startsWith('/legacy/only-here')), 'and asked for its own view: its inventory is in the fleet\'s')
  t.same(inventory.unanswered, {})
  // Parity added up over both replicas, each sample naming its replica.
  for (const p of [scraped, unscraped]) await (await request(`${p.url}/compared/1`)).body.dump()
  interface Parity { routes: Record<string, { totals: Record<string, number>, samples: Array<{ replica: string }> }>, replicas: Array<{ replica: string, answered: boolean }> }
  const compared = async (): Promise<number> => {
    const own = await Promise.all([scraped, unscraped].map(async (p) => ((await (await request(`${p.adminUrl}/parity`)).body.json()) as { routes: Record<string, { totals: Record<string, number> }> }).routes.default?.totals))
    return own.reduce((a, x) => a + (x?.match ?? 0) + (x?.mismatch ?? 0), 0)
  }
  for (let i = 0; i < 50 && await compared() < 3; i++) await sleep(100)
  const parity = (await (await request(`${listed}/parity`)).body.json()) as Parity
  const totals = parity.routes.default?.totals ?? {}
  t.equal((totals.match ?? 0) + (totals.mismatch ?? 0), await compared(), 'the fleet\'s comparisons are the replicas\' added up')
  t.same(new Set(parity.routes.default?.samples.map((s) => s.replica)), new Set([host(scraped), host(unscraped)]), 'samples from both, each naming its replica')
  t.ok(parity.replicas.every((r) => r.answered))
  const page = await (await request(`${listed}/status`)).body.text()
  t.match(page, new RegExp(`data-replica="${host(unscraped)}"><th scope="row">[^<]+</th><td class="verdict-not">answers, but Prometheus does not scrape it</td>`), 'the page says what is wrong with it')
  await inBrowser(t, `${listed}/status`, host(scraped), host(unscraped))

  const port = new URL(scraped.adminUrl).port
  const dns = await control(`{ dns: "localhost:${port}" }`)
  const byName = await fleetOf(dns)
  t.same(byName.discovery, { source: 'dns' })
  // What this host's resolver says localhost is (127.0.0.1, ::1 or both), each with the port.
  const { lookup } = await import('node:dns/promises')
  const expected = [...new Set((await lookup('localhost', { all: true })).map((a) => a.family === 6 ? `[${a.address}]:${port}` : `${a.address}:${port}`))].sort()
  t.same(byName.replicas.filter((r) => r.listed).map((r) => r.instance).sort(), expected, `every address of localhost is a listed replica (${expected.join(', ')})`)

  const broken = await control('{ dns: "replicas.invalid:8081" }')
  const fallback = await fleetOf(broken)
  t.match(fallback.discovery, { source: 'dns', error: /replicas\.invalid/ }, 'a name that does not resolve is said')
  t.ok(fallback.replicas.some((r) => r.instance === host(scraped) && r.up), 'and Prometheus\'s replicas are still shown')
})
