/**
 * Alerts stop a ramp: a real Prometheus fires a rule, a real Alertmanager posts it to
 * the admin port's /alerts with an operator's token, and the ramp of the route in the
 * alert's labels steps back, recorded with the alert as the actor. Repeats act once;
 * resolved, unknown or unmapped alerts change nothing.
 */
import t from 'tap'
import { createHash } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { request } from 'undici'
import { startUpstream } from '../helpers/backends.js'
import { startProxy, tempDir, sleep, type TestProxy } from '../helpers/proxy.js'
import { flagsJson, flaggedYaml, rollout } from '../helpers/flags.js'
import { alertmanagerMissing, prometheusMissing, startAlertmanager, startPrometheus } from '../helpers/prometheus.js'

const TOKEN = 'alertmanager-operator-token-0123456789'
const ADMIN = 'alerts-test-admin-token-0123456789abcd'

async function start (t: Parameters<typeof startProxy>[0]): Promise<TestProxy> {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const yaml = flaggedYaml(legacy.url, django.url, `admin:
  host: 127.0.0.1
  operators: [{ name: alertmanager, role: operator, tokenHashEnv: HASH_AM }]
ramps: { alerts: { RampBreaker: stepBack, RampPauser: pause } }`).replace('    flag: { name: orders-on-django, backend: django }', '    flag: { name: orders-on-django, backend: django }\n    ramp: { steps: [10, 50, 100], hold: 1h }')
  return await startProxy(t, yaml, { adminToken: ADMIN, env: { HASH_AM: createHash('sha256').update(TOKEN).digest('hex') }, files: { 'flags.json': flagsJson([{ name: 'orders-on-django', enabled: true, strategies: [rollout(0)] }]) } })
}

async function post (p: TestProxy, path: string, token: string, body: unknown): Promise<{ status: number, json: Record<string, unknown> }> {
  const res = await request(`${p.adminUrl}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: res.statusCode, json: await res.body.json() as Record<string, unknown> }
}

async function ramp (p: TestProxy): Promise<{ percent: number, state: string, reason: string }> {
  const res = await request(`${p.adminUrl}/ramp`, { headers: { authorization: `Bearer ${ADMIN}` } })
  return ((await res.body.json()) as { routes: Array<{ percent: number, state: string, reason: string }> }).routes[0] as { percent: number, state: string, reason: string }
}

t.test('a real Alertmanager steps a ramp back through /alerts', async (t) => {
  const why = prometheusMissing() ?? alertmanagerMissing()
  if (why !== undefined) {
    if (process.env.STRANGLER_REQUIRE_PROMETHEUS === '1') throw new Error(why)
    t.pass('alertmanager', { skip: why })
    return
  }
  const p = await start(t)
  t.equal((await post(p, '/ramp/orders/skip', ADMIN, {})).status, 200)
  t.match(await ramp(p), { percent: 50, state: 'running' })
  const am = await startAlertmanager(t, `route:
  receiver: spx
  group_by: [alertname, route]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: spx
    webhook_configs:
      - url: "${p.adminUrl}/alerts"
        send_resolved: true
        http_config: { authorization: { type: Bearer, credentials: "${TOKEN}" } }
`)
  const rules = join(tempDir(t), 'rules.yml')
  writeFileSync(rules, `groups:
  - name: ramp
    rules:
      - alert: RampBreaker
        expr: vector(1)
        labels: { route: orders, severity: critical }
        annotations: { summary: "django answers 5xx above the baseline" }
`)
  // Prometheus drops the alerts it evaluates before it has discovered the Alertmanager: resend soon.
  await startPrometheus(t, [], { ruleFiles: [rules], alertmanager: am, args: ['--rules.alert.resend-delay=1s'] })
  const end = Date.now() + 30_000
  let r = await ramp(p)
  while (r.percent === 50 && Date.now() < end) {
    await sleep(250)
    r = await ramp(p)
  }
  t.match(r, { percent: 10, state: 'running', reason: 'stepped back from 50 % to 10 %: alert RampBreaker firing: django answers 5xx above the baseline' })
  const timeline = await request(`${p.adminUrl}/timeline?kind=ramp_transition`, { headers: { authorization: `Bearer ${ADMIN}` } })
  const events = ((await timeline.body.json()) as { events: Array<{ actor?: string, actorReason?: string, after: { transition: string } }> }).events
  t.match(events.at(-1), { actor: 'alert RampBreaker', actorReason: 'django answers 5xx above the baseline', after: { transition: 'step_back' } }, 'the alert is the actor')
})

t.test('/alerts: a repeat acts once; resolved, unmapped and unrouted alerts change nothing; a viewer cannot post', async (t) => {
  const p = await start(t)
  const alert = (over: Record<string, unknown> = {}): Record<string, unknown> => ({ status: 'firing', labels: { alertname: 'RampPauser', route: 'orders' }, annotations: { summary: 'p99 doubled' }, startsAt: '2026-12-02T10:00:00Z', fingerprint: 'abc123', ...over })
  const first = await post(p, '/alerts', TOKEN, { version: '4', alerts: [alert(), alert({ labels: { alertname: 'SomethingElse', route: 'orders' } }), alert({ status: 'resolved', fingerprint: 'x' }), alert({ labels: { alertname: 'RampPauser' }, fingerprint: 'y' })] })
  t.equal(first.status, 200)
  t.same(first.json, { handled: [{ alert: 'RampPauser', route: 'orders', action: 'pause', result: 'done' }], ignored: 3 })
  t.match(await ramp(p), { state: 'paused', reason: 'paused at 10 % by alert RampPauser ("p99 doubled")' })
  t.equal((await post(p, '/ramp/orders/resume', ADMIN, {})).status, 200, 'a person resumes')
  const repeat = await post(p, '/alerts', TOKEN, { version: '4', alerts: [alert()] })
  t.same(repeat.json, { handled: [{ alert: 'RampPauser', route: 'orders', action: 'pause', result: 'already acted on this alert' }], ignored: 0 })
  t.match(await ramp(p), { state: 'running' }, 'Alertmanager\'s repeat does not pause again what a person resumed')
  t.equal((await post(p, '/alerts', TOKEN, { nope: true })).status, 400)
})
