/**
 * Unleash sees the proxy: against a real Unleash server, the proxy registers as a
 * client application and its usage metrics (the decisions it made, cached ones
 * included) reach Unleash's admin API, within 1 % of the proxy's own decision
 * counters, and the flag shows as seen. Impressions of a flag with impressionData
 * are log lines.
 */
import t from 'tap'
import { request } from 'undici'
import { startUpstream } from '../helpers/backends.js'
import { startProxy, sleep } from '../helpers/proxy.js'
import { rollout } from '../helpers/flags.js'
import { unleashOrSkip, CLIENT_TOKEN } from '../helpers/unleash-server.js'
import { putFeature, untilMetricsAccepted } from '../helpers/unleash-admin.js'

// Its own flag: the Unleash server is shared with the other system tests.
const FLAG = 'orders-on-django-metrics'
const APP = 'spx-metrics-it'

async function until<T> (what: string, read: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const v = await read().catch(() => undefined)
    if (v !== undefined) return v
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(500)
  }
}

function counter (metrics: string, reason: string): number {
  return [...metrics.matchAll(new RegExp(`^strangler_decisions_total\\{[^}]*reason="${reason}"[^}]*\\} (\\d+)$`, 'gm'))].reduce((s, m) => s + Number(m[1]), 0)
}

t.test('the proxy registers with Unleash and reports the decisions it made', async (t) => {
  const u = await unleashOrSkip(t, 'usage metrics against a real Unleash')
  if (u === undefined) return
  await putFeature(u, { name: FLAG, enabled: true, strategies: [rollout(40, FLAG)] })
  await u.admin('PATCH', `/projects/default/features/${FLAG}`, [{ op: 'replace', path: '/impressionData', value: true }])
  await untilMetricsAccepted(u, FLAG)
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const p = await startProxy(t, `listen: { host: 127.0.0.1 }
backends:
  legacy: { url: "${legacy.url}", legacy: true }
  django: { url: "${django.url}" }
flags:
  unleash: { url: "${u.url}", appName: ${APP}, environment: development, refreshInterval: 500ms, metrics: { interval: 1s } }
cohort: { userId: { header: x-user-id } }
routes:
  - { name: orders, match: { path: /api/orders/* }, backend: legacy, flag: { name: ${FLAG}, backend: django } }
  - { name: default, match: { path: /* }, backend: legacy }
`, { env: { UNLEASH_API_TOKEN: CLIENT_TOKEN }, flagsStartWaitMs: 10_000 })

  // 150 users twice each: the second request of a user is a cached result, and counts too.
  for (let round = 0; round < 2; round++) {
    for (let i = 0; i < 150; i++) await (await request(`${p.url}/api/orders/${i}`, { headers: { 'x-user-id': `user-${i}` } })).body.dump()
  }
  const metrics = await (await request(`${p.adminUrl}/metrics`)).body.text()
  const on = counter(metrics, 'flag_on')
  const off = counter(metrics, 'flag_off')
  t.equal(on + off, 300, 'the proxy decided 300 times on the flag')

  const raw = await until('Unleash to store the metrics', async () => {
    const body = await u.admin('GET', `/client-metrics/features/${FLAG}/raw`) as { data: Array<{ appName: string, yes: number, no: number }> }
    const rows = body.data.filter((r) => r.appName === APP)
    const yes = rows.reduce((s, r) => s + r.yes, 0)
    const no = rows.reduce((s, r) => s + r.no, 0)
    return yes + no >= 300 ? { yes, no } : undefined
  }, 30_000)
  t.ok(Math.abs(raw.yes - on) <= on * 0.01, `Unleash's yes (${raw.yes}) within 1 % of the proxy's flag_on (${on})`)
  t.ok(Math.abs(raw.no - off) <= off * 0.01, `Unleash's no (${raw.no}) within 1 % of the proxy's flag_off (${off})`)

  const app = await until('the application to be registered', async () => {
    const a = await u.admin('GET', `/metrics/applications/${APP}`) as { instances?: Array<{ instanceId: string, sdkVersion: string }>, strategies?: unknown[] }
    return (a.instances?.length ?? 0) > 0 ? a : undefined
  }, 45_000)
  t.match(app.instances?.[0], { instanceId: /-\d+-[0-9a-f]{8}$/, sdkVersion: /^unleash-client-node:\d+\.\d+\.\d+$/ }, 'an instance per process, with the SDK it evaluates with')

  const seen = await until('the flag to be seen', async () => {
    const f = await u.admin('GET', `/projects/default/features/${FLAG}`) as { environments: Array<{ name: string, lastSeenAt: string | null }> }
    return f.environments.find((e) => e.name === 'development' && e.lastSeenAt !== null)?.lastSeenAt ?? undefined
  }, 45_000)
  t.ok(Date.now() - Date.parse(seen) < 120_000, `last seen ${seen}`)

  const impressions = p.logs.filter((l) => l.msg === 'flag impression')
  t.equal(impressions.length, 300, 'one impression per decision on a flag with impressionData')
  t.match(impressions[0], { impression: { eventType: 'isEnabled', featureName: FLAG, context: { userId: 'user-0', environment: 'development' } } })
  const sends = await (await request(`${p.adminUrl}/metrics`)).body.text()
  t.match(sends, /^strangler_unleash_metrics_sends_total\{result="ok"\} [1-9]\d*$/m, 'sends counted')
})
