/**
 * Migration coverage on the example apps' real declarations: the Django service's
 * `manage.py declared_routes` and the legacy app's OpenAPI document (served over HTTP,
 * as a deployed app would), reconciled with routes.yaml and real traffic through the
 * proxy. Every state appears; the admin API, the CLI, the status page and `validate`
 * say the same. Traffic counts survive a restart.
 */
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { request } from 'undici'
import { djangoMissing, PYTHON } from '../../examples/stack.js'
import { startUpstream } from '../helpers/backends.js'
import { startProxy, sleep, ROOT, tempDir, writeConfig } from '../helpers/proxy.js'
import { flagsJson, rollout } from '../helpers/flags.js'
import { runCli } from '../helpers/cli.js'
import { stateFileName } from '../../src/flags/private-storage.js'

const TOKEN = 'coverage-test-admin-token-of-32-bytes'
const DAY = 86_400_000

interface Row { method: string, template: string, state: string, stateText: string, declaredBy: string[], route: string | null, requests: number, lastSeen: string | null, missingOn: string[] }
interface Report { counts: Record<string, number>, endpoints: number, migratedShare: number, since: string, rows: Row[], sources: Array<{ backend: string, error: string | null, endpoints: number }> }

/** The legacy app's OpenAPI document on a loopback URL. */
async function serveOpenApi (t: { teardown: (fn: () => unknown) => void }, text: string): Promise<string> {
  const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/yaml' }).end(text))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/openapi.yaml`
}

function byEndpoint (report: Report): Record<string, string> {
  return Object.fromEntries(report.rows.map((r) => [`${r.method} ${r.template}`, r.stateText]))
}

t.test('declared routes of both example apps, reconciled with routes.yaml and traffic', async (t) => {
  const missing = djangoMissing()
  if (missing !== undefined) {
    if (process.env.STRANGLER_REQUIRE_DJANGO === '1') throw new Error(missing)
    t.pass('coverage of the example apps', { skip: `${missing} (apt-get install python3-django)` })
    return
  }
  const dir = tempDir(t)
  const declared = execFileSync(PYTHON, ['manage.py', 'declared_routes', '--exclude', '^/healthz$'], { cwd: join(ROOT, 'examples/django-service'), encoding: 'utf8' })
  t.match(declared, /^GET \/api\/orders\/\{order_id\}$/m, 'the Django command prints its URL patterns as templates')
  t.match(declared, /^POST \/api\/orders$/m, 'with the methods each view allows')
  writeFileSync(join(dir, 'django-routes.txt'), declared)
  const openapi = await serveOpenApi(t, readFileSync(join(ROOT, 'examples/legacy-app/openapi.yaml'), 'utf8'))

  // A proxy that has counted traffic for 40 days already: endpoints nobody called are unused.
  const stateDir = join(dir, 'state', 'strangler-proxy')
  mkdirSync(stateDir, { recursive: true, mode: 0o700 })
  writeFileSync(join(stateDir, stateFileName('coverage', join(dir, 'routes.yaml'), 'json')), JSON.stringify({ version: 1, since: Date.now() - 40 * DAY, endpoints: { 'GET /login': { requests: 5, last: Date.now() - 41 * DAY } } }), { mode: 0o600 })

  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const yaml = `listen: { host: 127.0.0.1 }
backends:
  legacy: { url: "${legacy.url}", legacy: true }
  django: { url: "${django.url}" }
flags: { file: flags.json }
cohort: { userId: { header: x-user-id } }
retirement: { after: 1s, legacyQuietFor: 1s }
coverage:
  declared:
    legacy: { openapi: "${openapi}" }
    django: { list: django-routes.txt }
routes:
  - { name: reports, match: { path: /reports/* }, backend: django }
  - { name: reports-index, match: { path: /reports }, backend: django, shadow: { backend: legacy } }
  - { name: orders, match: { path: /api/orders/* }, backend: legacy, flag: { name: orders-on-django, backend: django } }
  - { name: login-form, match: { path: /login, methods: [POST] }, backend: django }
  - { name: default, match: { path: /* }, backend: legacy }
`
  const p = await startProxy(t, yaml, { dir, adminToken: TOKEN, files: { 'flags.json': flagsJson([{ name: 'orders-on-django', enabled: true, strategies: [rollout(30)] }]) } })
  const bearer = { authorization: `Bearer ${TOKEN}` }
  const get = async (path: string, method = 'GET'): Promise<void> => { await (await request(`${p.url}${path}`, { method })).body.dump() }
  for (const path of ['/api/me', '/api/me', '/api/me', '/login?user=ann', '/reports/daily', '/reports/weekly', '/api/orders/7']) await get(path)
  await get('/api/orders/8', 'HEAD')
  // Starts the retirement clock; /reports/* is then ready to retire a second later.
  await (await request(`${p.adminUrl}/status.json`, { headers: bearer })).body.dump()
  await sleep(1300)
  await get('/reports/monthly')

  const res = await request(`${p.adminUrl}/coverage`, { headers: bearer })
  t.equal(res.statusCode, 200)
  const report = await res.body.json() as Report
  t.same(report.sources.map((s) => [s.backend, s.error, s.endpoints]), [['legacy', null, 11], ['django', null, 6]], 'both declarations read')
  t.same(byEndpoint(report), {
    'POST /login': 'routed, not implemented by django',
    'GET /api/me': 'ported, not routed',
    'GET /login': 'legacy only',
    'GET /': 'unused for 40 days',
    'GET /healthz': 'unused for 40 days',
    'GET /whoami': 'unused for 40 days',
    'GET /api/orders': 'migrating',
    'POST /api/orders': 'migrating',
    'GET /api/orders/{id}': 'migrating',
    'GET /reports': 'migrated',
    'GET /reports/{name}': 'ready to retire'
  }, 'one row per method and template, in every state, what needs a person first')
  const row = (key: string): Row => report.rows.find((r) => `${r.method} ${r.template}` === key) as Row
  t.same(row('GET /api/me').declaredBy, ['legacy', 'django'], 'declared by both apps: parameter names and trailing slashes do not split a row')
  t.equal(row('GET /api/me').requests, 3, 'requests counted per declared endpoint')
  t.equal(row('GET /login').requests, 6, 'counts saved by an earlier process are added')
  t.equal(row('GET /api/orders/{id}').requests, 2, 'a path with an id matches its template; HEAD counts for GET')
  t.equal(row('GET /reports/{name}').requests, 3)
  t.equal(row('GET /').lastSeen, null)
  t.same(report.counts, { 'routed-not-implemented': 1, 'no-route': 0, 'ported-not-routed': 1, 'legacy-only': 1, unused: 3, migrating: 3, migrated: 1, ready: 1 })
  t.equal(report.migratedShare, 2 / 11, 'two of eleven declared endpoints migrated')

  const status = await (await request(`${p.adminUrl}/status.json`, { headers: bearer })).body.json() as { coverage: { endpoints: number, migratedShare: number, counts: Record<string, number> } }
  t.match(status.coverage, { endpoints: 11, migratedShare: 2 / 11, counts: { 'routed-not-implemented': 1 } }, '/status.json carries the summary')
  const page = await (await request(`${p.adminUrl}/status`, { headers: bearer })).body.text()
  t.match(page, /<h2 id="coverage">Declared endpoints<\/h2>/, 'the status page has a coverage section')
  t.match(page, /18\.2 %<small>of 11 declared endpoints migrated/)
  t.match(page, /1 endpoint is routed to a backend that does not declare it/)

  const table = await runCli(['coverage', '--admin', p.adminUrl], { STRANGLER_TOKEN: TOKEN })
  t.equal(table.code, 0, table.stderr)
  t.match(table.stdout, /^18\.2 % of 11 declared endpoints migrated/)
  t.match(table.stdout, /\nPOST\s+\/login\s+routed, not implemented by django\s+legacy\s+login-form\s+0\s+-\n/)
  t.match(table.stdout, /\nGET\s+\/api\/me\s+ported, not routed\s+legacy,django\s+default\s+3\s+\d{4}-/)
  const json = await runCli(['coverage', '--json', '--admin', p.adminUrl], { STRANGLER_TOKEN: TOKEN })
  t.same(byEndpoint(JSON.parse(json.stdout) as Report), byEndpoint(report), 'coverage --json is GET /coverage')

  const validate = await runCli(['validate', p.file])
  t.equal(validate.code, 0, 'a warning does not fail validation')
  t.match(validate.stderr, /warning: route "login-form" may send POST \/login to django, which does not declare it \(routed, not implemented\)/)
  t.match(validate.stdout, /OK/)

  await p.shutdown('restart')
  const saved = JSON.parse(readFileSync(join(stateDir, stateFileName('coverage', join(dir, 'routes.yaml'), 'json')), 'utf8')) as { endpoints: Record<string, { requests: number }> }
  t.equal(saved.endpoints['GET /api/me']?.requests, 3, 'the counts are saved at shutdown, in the private state directory')
})

t.test('a declaration that cannot be read is shown, logged and warned about; traffic is unaffected', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'bad.yaml'), 'openapi: 3.0.3\ninfo: { title: x }\npaths: { /a: { get: {} } }\n')
  writeFileSync(join(dir, 'list.txt'), 'GET /ok\nFETCH /nope\n')
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const yaml = `listen: { host: 127.0.0.1 }
backends:
  legacy: { url: "${legacy.url}", legacy: true }
  django: { url: "${django.url}" }
coverage:
  declared:
    legacy: { openapi: bad.yaml }
    django: { list: list.txt }
routes:
  - { name: default, match: { path: /* }, backend: legacy }
`
  const p = await startProxy(t, yaml, { dir, adminToken: TOKEN })
  const res = await request(`${p.url}/a`)
  t.equal(res.statusCode, 200, 'traffic flows')
  await res.body.dump()
  const report = await (await request(`${p.adminUrl}/coverage`, { headers: { authorization: `Bearer ${TOKEN}` } })).body.json() as Report
  t.match(report.sources[0], { backend: 'legacy', endpoints: 0, error: /bad\.yaml: not a valid OpenAPI document/ })
  t.match(report.sources[1], { backend: 'django', endpoints: 0, error: /list\.txt:2: "FETCH" is not one of GET, POST/ })
  t.ok(p.logs.some((l) => l.msg?.startsWith('could not read the routes a backend declares') === true && l.backend === 'django'), 'a log line names the backend')
  const page = await (await request(`${p.adminUrl}/status`, { headers: { authorization: `Bearer ${TOKEN}` } })).body.text()
  t.match(page, /Not read: legacy \(.*bad\.yaml: not a valid OpenAPI document/)
  const validate = await runCli(['validate', p.file])
  t.equal(validate.code, 0)
  t.match(validate.stderr, /warning: coverage\.declared\.django: not read: .*list\.txt:2:/)
})

t.test('coverage: in routes.yaml is checked', async (t) => {
  const dir = tempDir(t)
  const file = writeConfig(t, `backends: { legacy: { url: "http://127.0.0.1:1" } }
coverage:
  declared:
    legacy: { openapi: a.yaml, list: b.txt }
    django: { list: b.txt }
routes: [ { name: d, match: { path: /* }, backend: legacy } ]
`, dir)
  const r = await runCli(['validate', file])
  t.equal(r.code, 1)
  t.match(r.stderr, /routes\.yaml:4:\d+: coverage\.declared\.legacy: name exactly one of openapi/)
  t.match(r.stderr, /routes\.yaml:5:\d+: coverage\.declared\.django: unknown backend "django"/)
})

t.test('GET /coverage without coverage: says how to get it', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const p = await startProxy(t, `listen: { host: 127.0.0.1 }\nbackends: { legacy: { url: "${legacy.url}" } }\nroutes: [ { name: d, match: { path: /* }, backend: legacy } ]\n`)
  const res = await request(`${p.adminUrl}/coverage`)
  t.equal(res.statusCode, 404)
  t.match(await res.body.json(), { code: 'SPX_ADMIN_NOT_FOUND', detail: /no coverage: in routes\.yaml/ })
})
