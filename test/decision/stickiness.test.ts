import t from 'tap'
import { writeFileSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { Agent, request } from 'undici'
import { startUpstream } from '../helpers/backends.js'
import { startProxy, type TestProxy } from '../helpers/proxy.js'
import { flagsJson, flaggedYaml, rollout } from '../helpers/flags.js'

const USERS = 2_000

/** Sends one request per user id through the proxy; returns the users the new backend served. */
async function onDjango (proxy: TestProxy, agent: Agent): Promise<Set<string>> {
  const served = new Set<string>()
  const ids = Array.from({ length: USERS }, (_, i) => `customer-${i}`)
  const workers = Array.from({ length: 32 }, async () => {
    for (let id = ids.pop(); id !== undefined; id = ids.pop()) {
      const res = await request(`${proxy.url}/api/orders/${id}`, { headers: { 'x-user-id': id }, dispatcher: agent })
      const backend = res.headers['x-backend']
      await res.body.dump()
      if (backend === 'django') served.add(id)
    }
  })
  await Promise.all(workers)
  return served
}

t.test('2,000 users: 30 % ± 2 % at 30 %, and raising to 60 % only moves users to the new backend', async (t) => {
  const named = (name: string) => (_req: unknown, res: import('node:http').ServerResponse) => { res.writeHead(200, { 'x-backend': name }).end() }
  const legacy = await startUpstream(t, 'legacy', named('legacy'))
  const django = await startUpstream(t, 'django', named('django'))
  // The guard runs at its defaults: 32 clients in flight on a shared 2-core machine once
  // made it trip on latency noise and send flagged users back to legacy.
  const proxy = await startProxy(t, flaggedYaml(legacy.url, django.url), {
    watch: true,
    files: { 'flags.json': flagsJson([{ name: 'orders-on-django', enabled: true, strategies: [rollout(30)] }]) }
  })
  const agent = new Agent({ connections: 32 })
  t.teardown(() => agent.close())

  const at30 = await onDjango(proxy, agent)
  const share30 = at30.size / USERS
  t.ok(share30 >= 0.28 && share30 <= 0.32, `${(share30 * 100).toFixed(2)} % on django at a 30 % rollout`)

  const again = await onDjango(proxy, agent)
  t.same([...again].sort(), [...at30].sort(), 'the same users, again: sticky')

  writeFileSync(join(dirname(proxy.file), 'flags.json'), flagsJson([{ name: 'orders-on-django', enabled: true, strategies: [rollout(60)] }]))
  const probe = [...at30][0] as string
  // Wait for the file watcher to load the new rollout.
  for (let i = 0; i < 100 && proxy.runtime.snapshot.flags?.definition('orders-on-django')?.strategies?.[0]?.parameters?.rollout !== '60'; i++) {
    await new Promise((resolve) => setTimeout(resolve, 30))
  }
  const at60 = await onDjango(proxy, agent)
  const share60 = at60.size / USERS
  t.ok(share60 >= 0.58 && share60 <= 0.62, `${(share60 * 100).toFixed(2)} % on django at a 60 % rollout`)
  const movedBack = [...at30].filter((id) => !at60.has(id))
  t.same(movedBack, [], 'every user of the first 30 % is still on django')
  t.ok(at60.has(probe))
  const reasons = new Set(proxy.logs.filter((l) => l.msg === 'request').map((l) => l.reason))
  t.same([...reasons].sort(), ['flag_off', 'flag_on'], 'every request was decided by the flag alone')
})
