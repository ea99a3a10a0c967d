/**
 * The proxy against a real Unleash server: routing follows a rollout change and a
 * flag disable within the refresh interval, with zero failed requests meanwhile.
 */
import t from 'tap'
import { Agent, request } from 'undici'
import { startUpstream } from '../helpers/backends.js'
import { startProxy, sleep, type TestProxy } from '../helpers/proxy.js'
import { rollout } from '../helpers/flags.js'
import { normalizedStrategyValue } from '../../src/flags/unleash-internals.js'
import { unleashOrSkip, ADMIN_TOKEN, CLIENT_TOKEN } from '../helpers/unleash-server.js'
import { putFeature, firstStrategyId } from '../helpers/unleash-admin.js'

// Its own flag: the Unleash server is shared with the other system tests.
const FLAG = 'orders-on-django-it'
const USERS = Array.from({ length: 300 }, (_, i) => `shopper-${i}`)
const REFRESH_MS = 500

const expected = (user: string, percent: number): string => normalizedStrategyValue(user, FLAG) <= percent ? 'django' : 'legacy'

t.test('routing follows Unleash within the refresh interval, with no failed request', async (t) => {
  const u = await unleashOrSkip(t, 'integration with a real Unleash')
  if (u === undefined) return
  await putFeature(u, { name: FLAG, enabled: true, strategies: [rollout(30, FLAG)] })

  const named = (name: string) => (_req: unknown, res: import('node:http').ServerResponse) => { res.writeHead(200, { 'x-backend': name }).end() }
  const legacy = await startUpstream(t, 'legacy', named('legacy'))
  const django = await startUpstream(t, 'django', named('django'))
  const proxy: TestProxy = await startProxy(t, `listen: { host: 127.0.0.1 }
backends:
  legacy: { url: "${legacy.url}" }
  django: { url: "${django.url}" }
flags:
  unleash: { url: "${u.url}", appName: spx-it, environment: development, refreshInterval: ${REFRESH_MS}ms }
cohort: { userId: { header: x-user-id } }
routes:
  - { name: orders, match: { path: /api/orders/* }, backend: legacy, flag: { name: ${FLAG}, backend: django } }
  - { name: default, match: { path: /* }, backend: legacy }
`, { env: { UNLEASH_API_TOKEN: CLIENT_TOKEN, UNLEASH_ADMIN_TOKEN: ADMIN_TOKEN }, flagsStartWaitMs: 10_000 })

  // Background traffic for the whole test: every response must be a 200.
  const agent = new Agent({ connections: 8 })
  t.teardown(() => agent.close())
  let sent = 0
  const failures: string[] = []
  let running = true
  const loops = Array.from({ length: 4 }, async (_, w) => {
    for (let i = w; running; i += 4) {
      const user = USERS[i % USERS.length] as string
      try {
        const res = await request(`${proxy.url}/api/orders/${i}`, { headers: { 'x-user-id': user }, dispatcher: agent })
        await res.body.dump()
        sent++
        if (res.statusCode !== 200) failures.push(`${res.statusCode}`)
      } catch (err) {
        failures.push((err as Error).message)
      }
    }
  })

  const observe = async (): Promise<Map<string, string>> => {
    const seen = new Map<string, string>()
    for (const user of USERS) {
      const res = await request(`${proxy.url}/api/orders/probe`, { headers: { 'x-user-id': user }, dispatcher: agent })
      seen.set(user, String(res.headers['x-backend']))
      await res.body.dump()
    }
    return seen
  }
  const mismatches = (seen: Map<string, string>, want: (user: string) => string): string[] =>
    USERS.filter((user) => seen.get(user) !== want(user))
  /** Milliseconds until one user's routing becomes `want`, probing every 20 ms. */
  const flipTime = async (user: string, want: string, since: number): Promise<number> => {
    while (performance.now() - since < 15_000) {
      const res = await request(`${proxy.url}/api/orders/flip`, { headers: { 'x-user-id': user }, dispatcher: agent })
      await res.body.dump()
      if (res.headers['x-backend'] === want) return performance.now() - since
      await sleep(20)
    }
    return Infinity
  }
  // Unleash's server refreshes its own client-API view about once a second, so
  // a change reaches SDKs within its cache period plus their refresh interval.
  const BOUND_MS = REFRESH_MS + 2000

  t.same(mismatches(await observe(), (user) => expected(user, 30)), [], 'at 30 %: exactly the users whose bucket is ≤ 30 are on django')

  // Raise the rollout to 60 % in Unleash.
  const strategyId = await firstStrategyId(u, FLAG)
  const changedAt = performance.now()
  await u.admin('PUT', `/projects/default/features/${FLAG}/environments/development/strategies/${strategyId}`, {
    name: 'flexibleRollout', parameters: { rollout: '60', stickiness: 'default', groupId: FLAG }, constraints: []
  })
  const mover = USERS.find((user) => expected(user, 30) === 'legacy' && expected(user, 60) === 'django') as string
  const rampMs = await flipTime(mover, 'django', changedAt)
  t.ok(rampMs < BOUND_MS, `rollout change reached routing after ${rampMs.toFixed(0)} ms (refresh interval ${REFRESH_MS} ms)`)
  t.same(mismatches(await observe(), (user) => expected(user, 60)), [], 'at 60 %: routing matches the new rollout for every user')

  // Disable the flag: everyone back on legacy.
  const disabledAt = performance.now()
  await u.admin('POST', `/projects/default/features/${FLAG}/environments/development/off`)
  const offMs = await flipTime(mover, 'legacy', disabledAt)
  t.ok(offMs < BOUND_MS, `disable reached routing after ${offMs.toFixed(0)} ms`)
  t.same(mismatches(await observe(), () => 'legacy'), [], 'flag off: every user on legacy')

  running = false
  await Promise.all(loops)
  t.ok(sent > 100, `${sent} requests ran in the background`)
  t.same(failures, [], 'zero failed requests while flags changed')
  const status = (await (await request(`${proxy.adminUrl}/readyz`)).body.json()) as { flags: Record<string, unknown> }
  t.match(status.flags, { source: 'unleash', origin: 'live', up: true, degraded: false })

  // The timeline names who changed the flag, as Unleash's event API does.
  const editor = ((await u.admin('GET', `/events/${FLAG}`)) as { events: Array<{ createdBy: string }> }).events[0]?.createdBy
  t.ok(typeof editor === 'string' && editor !== '', `Unleash names an editor (${String(editor)})`)
  const timeline = (await (await request(`${proxy.adminUrl}/timeline?kind=flag_changed`)).body.json()) as { events: Array<{ actor?: string, summary: string }> }
  t.ok(timeline.events.length >= 2, 'the rollout change and the disable are on the timeline')
  t.ok(timeline.events.every((e) => e.actor === editor), `each names ${String(editor)}: ${timeline.events.map((e) => e.summary).join(' | ')}`)
})
