/**
 * Real Prometheus against the real proxy: every dashboard query and every rule
 * expression must evaluate without error, and the core panels must show data.
 * Rules also pass promtool's checks and unit tests.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { request } from 'undici'
import { parse } from 'yaml'
import { startUpstream, closedPort } from '../helpers/backends.js'
import { startProxy, sleep, ROOT } from '../helpers/proxy.js'
import { flagsJson, flaggedYaml, rollout } from '../helpers/flags.js'
import { startPrometheus } from '../helpers/prometheus.js'

const RULES = join(ROOT, 'deploy/prometheus/rules/strangler.rules.yml')
const DASHBOARD = join(ROOT, 'deploy/grafana/dashboards/strangler-proxy.json')

function missing (bin: string): boolean {
  return spawnSync(bin, ['--version']).error !== undefined
}

const required = process.env.STRANGLER_REQUIRE_PROMETHEUS === '1'

t.test('promtool: rules are valid and their unit tests pass', async (t) => {
  if (missing('promtool')) {
    if (required) throw new Error('promtool is not installed (apt-get install prometheus)')
    t.pass('promtool', { skip: 'promtool not installed (apt-get install prometheus)' })
    return
  }
  const check = spawnSync('promtool', ['check', 'rules', RULES])
  t.equal(check.status, 0, check.stdout.toString() + check.stderr.toString())
  const unit = spawnSync('promtool', ['test', 'rules', 'strangler.rules.test.yml'], { cwd: join(ROOT, 'deploy/prometheus/rules') })
  t.equal(unit.status, 0, unit.stdout.toString() + unit.stderr.toString())
  const config = spawnSync('promtool', ['check', 'config', 'prometheus.yml'], { cwd: join(ROOT, 'deploy/prometheus') })
  t.equal(config.status, 0, config.stdout.toString() + config.stderr.toString())
})

t.test('every alert can be acted on: severity, summary, description and a runbook page', async (t) => {
  const rules = parse(readFileSync(RULES, 'utf8')) as { groups: Array<{ rules: Array<{ alert?: string, labels?: Record<string, string>, annotations?: Record<string, string> }> }> }
  const alerts = rules.groups.flatMap((g) => g.rules).filter((r) => r.alert !== undefined)
  t.ok(alerts.length >= 10, `${alerts.length} alerts`)
  for (const { alert, labels, annotations } of alerts) {
    t.match(labels?.severity, /^(critical|warning)$/, `${alert ?? ''}: severity`)
    t.ok((annotations?.summary ?? '').length > 10 && (annotations?.description ?? '').length > 40, `${alert ?? ''}: summary and description`)
    t.equal(annotations?.runbook_url, `{{ $externalLabels.runbook_base_url }}/${alert ?? ''}.md`, `${alert ?? ''}: runbook_url`)
    const page = readFileSync(join(ROOT, 'docs/runbooks', `${alert ?? ''}.md`), 'utf8')
    t.match(page, new RegExp(`^# ${alert ?? ''} \\(${labels?.severity ?? ''}\\)`), `${alert ?? ''}: the page names the alert and its severity`)
    for (const section of ['What it means', 'Confirm', 'Roll back', 'Escalate']) t.match(page, new RegExp(`^## ${section}$`, 'm'), `${alert ?? ''}: ${section}`)
  }
})

interface Panel { title: string, type: string, targets?: Array<{ expr: string }> }

/** What Grafana substitutes, with windows that fit a 1 s scrape interval. */
function grafanaExpr (expr: string): string {
  return expr.replaceAll('$__rate_interval', '20s').replaceAll('$__range', '5m').replaceAll('$route', '.*').replaceAll('$job', '.*').replaceAll('$instance', '.*')
}

t.test('real Prometheus evaluates every dashboard query and rule over real traffic', async (t) => {
  if (missing('prometheus')) {
    if (required) throw new Error('prometheus is not installed (apt-get install prometheus)')
    t.pass('prometheus', { skip: 'prometheus not installed (apt-get install prometheus)' })
    return
  }
  const legacy = await startUpstream(t, 'legacy', (_req, res) => { res.end('ok') })
  const django = await startUpstream(t, 'django', (_req, res) => { res.end('ok') })
  const down = await closedPort()
  // The rollback guard runs at its defaults: a latency blip on a loaded host must not
  // divert the cohort and move the ledger this test reads.
  const yaml = flaggedYaml(legacy.url, django.url)
    .replace('backends:\n', `backends:\n  gone: { url: "http://127.0.0.1:${down}" }\n`)
    .replace('routes:\n', 'routes:\n  - { name: gone, match: { path: /gone/* }, backend: gone }\n  - { name: shadowed, match: { path: /other/* }, backend: legacy, shadow: { backend: django } }\n')
  const proxy = await startProxy(t, yaml, { files: { 'flags.json': flagsJson([{ name: 'orders-on-django', enabled: true, strategies: [rollout(50)] }]) } })

  const { api } = await startPrometheus(t, [new URL(proxy.adminUrl).host], { ruleFiles: [RULES] })

  // Eight seconds of traffic as 50 users: both backends, and a route whose backend is down.
  const until = Date.now() + 8000
  let n = 0
  while (Date.now() < until) {
    const path = n % 10 === 0 ? '/gone/x' : n % 3 === 0 ? '/other/x' : `/api/orders/${n}`
    await (await request(`${proxy.url}${path}`, { headers: { 'x-user-id': `u${n % 50}` } })).body.dump()
    n++
    if (n % 50 === 0) await sleep(20)
  }
  await sleep(2500)

  const query = async (expr: string): Promise<{ status: string, error?: string, data?: { result: unknown[] } }> => {
    const res = await request(`${api}/api/v1/query?query=${encodeURIComponent(expr)}`)
    return (await res.body.json()) as { status: string, error?: string, data?: { result: unknown[] } }
  }

  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[] }
  const core = new Set(['Migration ledger: share on new backends (last 5 min)', 'Traffic split by backend', 'Requests/s by backend', 'Error ratio (5xx) by backend',
    'Latency p50 by backend', 'Latency p95 by backend', 'Latency p99 by backend', 'Decisions by reason', 'Upstream errors by kind', 'Flag source', 'Config version',
    'Shadow parity by route (last 5 min)', 'Shadow comparisons by result'])
  let evaluated = 0
  for (const panel of dashboard.panels) {
    for (const target of panel.targets ?? []) {
      const expr = grafanaExpr(target.expr)
      const r = await query(expr)
      evaluated++
      t.equal(r.status, 'success', `${panel.title}: ${expr} ${r.error ?? ''}`)
      if (core.has(panel.title)) t.ok((r.data?.result.length ?? 0) > 0, `${panel.title} shows data`)
    }
  }
  t.ok(evaluated >= 15, `${evaluated} dashboard queries evaluated`)
  const annotations = (JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { annotations: { list: Array<{ name: string, expr: string }> } }).annotations.list
  t.match(annotations, [{ name: 'Migration timeline' }], 'timeline events are annotations on every panel')
  for (const a of annotations) {
    const r = await query(grafanaExpr(a.expr))
    t.equal(r.status, 'success', `annotation ${a.name}: ${r.error ?? ''}`)
  }
  const routes = (await (await request(`${api}/api/v1/label/route/values?match[]=strangler_requests_total`)).body.json()) as { data: string[] }
  t.same(routes.data.filter((r) => r !== '_none').sort(), ['gone', 'orders', 'shadowed'], 'the $route variable lists the routes')

  const rules = parse(readFileSync(RULES, 'utf8')) as { groups: Array<{ rules: Array<{ record?: string, alert?: string, expr: string }> }> }
  for (const rule of rules.groups.flatMap((g) => g.rules)) {
    const r = await query(rule.expr)
    t.equal(r.status, 'success', `${rule.record ?? rule.alert}: ${r.error ?? ''}`)
    if (rule.record !== undefined) t.ok((r.data?.result.length ?? 0) > 0, `${rule.record} has data`)
  }
  // Every series the rules and the dashboard name must be one the proxy exports.
  const exported = new Set((await (await request(`${proxy.adminUrl}/metrics`)).body.text()).split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]))
  const referenced = new Set([...readFileSync(RULES, 'utf8').matchAll(/\bstrangler_[a-z_]+/g), ...readFileSync(DASHBOARD, 'utf8').matchAll(/\bstrangler_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, '')))
  // (Runbook prose may name a family as "strangler_upstream_pool_*".)
  t.same([...referenced].filter((name) => !name.endsWith('_') && !exported.has(name)), [], 'no rule or panel names a series that does not exist')
  const health = (await (await request(`${api}/api/v1/rules`)).body.json()) as { data: { groups: Array<{ rules: Array<{ name: string, health: string, lastError?: string }> }> } }
  const unhealthy = health.data.groups.flatMap((g) => g.rules).filter((r) => r.health !== 'ok')
  t.same(unhealthy.map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`), [], 'Prometheus evaluates every rule without error')
  const share = await query('strangler_migration_share{route="orders"}')
  const value = Number((share.data?.result[0] as { value: [number, string] } | undefined)?.value[1])
  t.ok(value > 0.3 && value < 0.7, `orders ledger at ${(value * 100).toFixed(0)} % on django for a 50 % rollout`)
})

t.test('the dashboard imports anywhere: a data-source variable, job and instance variables, every query scoped by them', async (t) => {
  const text = readFileSync(DASHBOARD, 'utf8')
  const dashboard = JSON.parse(text) as { __inputs?: Array<{ type: string, pluginId: string }>, templating: { list: Array<{ name: string, type: string, query: unknown }> }, panels: Panel[] }
  t.match(dashboard.__inputs, [{ type: 'datasource', pluginId: 'prometheus' }], '__inputs for the import dialog')
  const vars = Object.fromEntries(dashboard.templating.list.map((v) => [v.name, v]))
  t.match(vars.datasource, { type: 'datasource', query: 'prometheus' })
  t.match(vars.job, { type: 'query' })
  t.match(vars.instance, { type: 'query' })
  const uids = [...text.matchAll(/"uid":\s*"([^"]*)"/g)].map((m) => m[1]).filter((u) => u !== undefined && !u.startsWith('${') && u !== 'strangler-proxy')
  t.same(uids, [], 'no hard-coded data-source uid')
  const unscoped = dashboard.panels.flatMap((p) => (p.targets ?? []).map((x) => x.expr)).filter((expr) => [...expr.matchAll(/strangler_[a-z_:]+(\{[^}]*\})?/g)].some((m) => !(m[1] ?? '').includes('job=~"$job", instance=~"$instance"')))
  t.same(unscoped, [], 'every series selected by job and instance, so one replica or many')
})
