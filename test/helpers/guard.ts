/** A flagged route behind a rollback guard, the traffic that trips it, and the wait until it has. */
import { request } from 'undici'
import { sleep, type TestProxy } from './proxy.js'

export function guardYaml (legacy: string, django: string, guard: string, flags = 'flags: { file: flags.json }'): string {
  return `listen: { host: 127.0.0.1 }
backends:
  legacy: { url: "${legacy}" }
  django: { url: "${django}" }
${flags}
cohort: { userId: { header: x-user-id } }
evidence: { perAddress: 100000, perUser: 100000 }   # most of these requests come from 127.0.0.1
guard: { window: 30s, minRequests: 10, ${guard.includes('cooldown') ? '' : 'cooldown: 1s, '}${guard.includes('minClients') ? '' : 'minClients: 1, '}probeFraction: 0.5, probeRequests: 6${guard} }
routes:
  - { name: orders, match: { path: /api/orders/* }, backend: legacy, flag: { name: orders-on-django, backend: django } }
  - { name: default, match: { path: /* }, backend: legacy }
`
}

export async function send (proxy: TestProxy, n: number): Promise<Record<string, number>> {
  const by: Record<string, number> = {}
  for (let i = 0; i < n; i++) {
    const res = await request(`${proxy.url}/api/orders/${i}`, { headers: { 'x-user-id': `u${i}` } })
    const key = `${res.statusCode} ${String(res.headers['x-backend'] ?? '')}`
    by[key] = (by[key] ?? 0) + 1
    await res.body.dump()
  }
  return by
}

/**
 * Sends failing traffic (users u0, u1, …; `headers` per request) until /guard says the
 * route is open: a trip needs the regression confirmed for a few seconds.
 */
export async function untilOpen (proxy: TestProxy, headers: (i: number) => Record<string, string> = (i) => ({ 'x-user-id': `u${i}` })): Promise<number> {
  const end = Date.now() + 20_000
  let i = 0
  while (Date.now() < end) {
    const guard = (await (await request(`${proxy.adminUrl}/guard`)).body.json()) as { routes: Record<string, { state: string }> }
    if (guard.routes.orders?.state === 'open') return i
    await (await request(`${proxy.url}/api/orders/${i}`, { headers: headers(i) })).body.dump()
    i++
    await sleep(50)
  }
  throw new Error('the guard did not trip within 20 s')
}
