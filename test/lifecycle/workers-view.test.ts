/**
 * --workers: the primary serves one migration view of its workers, as the control
 * plane does for replicas: one timeline (a change every worker saw is one event naming
 * them), one status page whose figures are the workers' sums, one inventory, and a
 * worker that does not answer named while the view stays up.
 */
import t, { type Test } from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { Agent, request } from 'undici'
import { startUpstream, closedPort } from '../helpers/backends.js'
import { writeConfig, yamlFor } from '../helpers/proxy.js'
import { spawnCli } from '../helpers/cli.js'
import { poll } from '../helpers/poll.js'

interface SeenBy { replica: string }
interface Event { kind: string, cause: string, flag?: string, seenBy: SeenBy[], summary: string }
interface Row { replica: string, answered: boolean, drift: string[], error?: string }

const flags = (enabled: boolean): string => `version: 2\nfeatures:\n  - { name: orders-on-django, enabled: ${String(enabled)}, strategies: [ { name: default } ] }\n`

async function hooks (t: Test): Promise<{ url: string, kinds: string[] }> {
  const kinds: string[] = []
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => { body += c.toString() })
    req.on('end', () => {
      kinds.push((JSON.parse(body) as { kind: string }).kind)
      res.writeHead(204).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, kinds }
}

t.test('one timeline, status page and inventory for the workers of a primary', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const hook = await hooks(t)
  const routes = '  - { name: orders, match: { path: /api/* }, backend: legacy, flag: { name: orders-on-django, backend: django } }\n  - { name: all, match: { path: /* }, backend: legacy }'
  const extra = `flags: { file: flags.yaml }\nnotify: [{ url: "${hook.url}", damping: 0s }]`
  const file = writeConfig(t, yamlFor({ legacy: legacy.url, django: django.url }, routes, extra))
  const flagsFile = join(dirname(file), 'flags.yaml')
  writeFileSync(flagsFile, flags(false))
  const cli = spawnCli(t, ['start', '--workers', '2', '--config', file], { PORT: '0', ADMIN_PORT: '0', XDG_STATE_HOME: join(dirname(file), 'state') })
  const admin = String((await cli.waitFor((l) => l.msg === 'primary listening')).admin)
  const url = String((await cli.waitFor((l) => l.msg === 'all workers listening')).proxy)
  const get = async (path: string): Promise<unknown> => await (await request(`${admin}${path}`)).body.json()

  // Many connections, so the kernel spreads them over both workers.
  const agent = new Agent({ connections: 32, pipelining: 0 })
  t.teardown(() => agent.close())
  let sent = 0
  const orders: string[] = []
  const send = async (n: number, path: (i: number) => string): Promise<string[]> => await Promise.all(Array.from({ length: n }, async (_, i) => {
    sent++
    const res = await request(`${url}${path(i)}`, { dispatcher: agent, headers: { connection: 'close', 'x-user-id': `u${i}` } })
    const backend = ((await res.body.json()) as { backend: string }).backend
    if (path(i).startsWith('/api/')) orders.push(backend)
    return backend
  }))
  await send(120, (i) => `/legacy/pages/${i % 3}`)
  await send(80, (i) => `/api/orders/${i}`)
  t.equal(new Set(cli.lines.filter((l) => l.msg === 'request').map((l) => l.pid)).size, 2, 'both workers served requests')

  // A flags-file edit reaches every worker (each watches the file) and is one event.
  writeFileSync(flagsFile, flags(true))
  const moved = await poll(async () => await send(40, (i) => `/api/orders/${i}`), (b) => b.every((x) => x === 'django'), 10_000)
  t.same([...new Set(moved)], ['django'], 'every worker follows the edited flags file')
  const flagEvents = await poll(async () => ((await get('/timeline?kind=flag_changed')) as { events: Event[] }).events, (e) => e[0]?.seenBy.length === 2, 10_000)
  t.equal(flagEvents.length, 1, 'one flag edit is one event')
  t.match(flagEvents[0], { flag: 'orders-on-django', cause: 'flag-source' })
  t.same(flagEvents[0]?.seenBy.map((s) => s.replica).sort(), ['worker 1', 'worker 2'], 'naming both workers that saw it')

  // A routes.yaml the primary refuses: one event, both workers still serving the old one.
  writeFileSync(file, 'routes: [ { name: broken } ]\n')
  cli.child.kill('SIGHUP')
  // (The file watcher may see the same edit: then it is one more event, of its own cause.)
  const rejected = await poll(async () => ((await get('/timeline?kind=config_rejected')) as { events: Event[] }).events.filter((e) => e.cause === 'SIGHUP'), (e) => e[0]?.seenBy.length === 2, 10_000)
  t.equal(rejected.length, 1, 'a refused config is one event')
  t.match(rejected[0], { summary: /config rejected, still serving/ })

  const hooked = await poll(async () => hook.kinds, (k) => k.includes('config_rejected'), 10_000)
  t.same(hooked.filter((k) => k === 'flag_changed'), ['flag_changed'], 'the webhook hears of the flag edit once, not once per worker')
  const metrics = await (await request(`${admin}/metrics`)).body.text()
  t.match(metrics, 'strangler_timeline_events_total{kind="flag_changed",route="orders"} 1', 'counted once in the summed metrics')

  // The status page: the workers' figures summed, each worker named.
  const status = await get('/status.json') as { overall: { requests: number }, routes: Array<{ name: string, liveSplit: number }>, replicas: Row[] }
  t.equal(status.overall.requests, sent, 'every request of both workers counted once')
  t.same(status.replicas.map((r) => [r.replica, r.answered, r.drift]), [['worker 1', true, []], ['worker 2', true, []]], 'both workers answered, in step')
  t.equal(status.routes.find((r) => r.name === 'orders')?.liveSplit, orders.filter((b) => b === 'django').length / orders.length, 'the live split over both workers')
  const page = await (await request(`${admin}/status`)).body.text()
  t.match(page, /<h1>Migration status<\/h1><p>strangler-proxy --workers · config \w+ · 2 of 2 workers answered/, 'the page a person sees names the workers')
  t.match(page, /data-replica="worker 2"><th scope="row">worker 2<\/th><td class="">in step/)

  const inventory = await get('/inventory') as { total: number, entries: Array<{ template: string, requests: number }>, unanswered: object }
  t.equal(inventory.entries.reduce((n, e) => n + e.requests, 0), 120, 'the inventory adds up both workers\' catch-all requests')
  t.same(inventory.unanswered, {})

  // A worker that does not answer is named; the view stays up.
  const guard = await get('/guard') as { routes: { workers: Array<{ worker: string, pid: number }> } }
  const stopped = guard.routes.workers.find((w) => w.worker === 'worker 1')?.pid as number
  process.kill(stopped, 'SIGSTOP')
  t.teardown(() => { try { process.kill(stopped, 'SIGCONT') } catch { /* already gone */ } })
  const partial = await (await request(`${admin}/status.json`)).body.json() as { replicas: Row[] }
  t.same(partial.replicas.filter((r) => !r.answered).map((r) => r.error), ['no answer within 2000 ms'], 'the silent worker is named, with why')
  t.equal(partial.replicas.filter((r) => r.answered).length, 1, 'the other one still answers')
  const timeline = await get('/timeline') as { events: Event[], workers: Array<{ answered: boolean }> }
  t.equal(timeline.workers.filter((w) => !w.answered).length, 1, 'the timeline says which worker it lacks')
  process.kill(stopped, 'SIGCONT')

  // Worker 1, the one that announces, dies: worker 2 announces a change made while it is
  // replaced. The replacement takes its slot's history, and serves what the primary
  // serves, not the broken file on disk.
  process.kill(stopped, 'SIGKILL')
  await cli.waitFor((l) => l.msg === 'worker exited; starting a new one')
  writeFileSync(flagsFile, flags(false))
  const told = await poll(async () => hook.kinds.filter((k) => k === 'flag_changed'), (k) => k.length === 2, 10_000)
  t.equal(told.length, 2, 'the edit made while worker 1 was being replaced reaches the webhook too')
  const again = await poll(async () => ((await get('/timeline?kind=flag_changed')) as { events: Event[], workers: Array<{ answered: boolean }> }), (a) => a.workers.every((w) => w.answered), 20_000)
  t.same(again.events[0]?.seenBy.map((s) => s.replica).sort(), ['worker 1', 'worker 2'], 'the replacement keeps its slot\'s timeline')
  t.same([...new Set(await send(20, (i) => `/api/orders/${i}`))], ['legacy'], 'and serves the routes.yaml the primary serves, with the flags as they are now')
  t.equal(hook.kinds.filter((k) => k === 'flag_changed').length, 2, 'announced once, not again by the replacement')

  cli.child.kill('SIGTERM')
  t.equal((await cli.exited).code, 0)
})

t.test('the primary\'s OpenMetrics exposition carries the workers\' trace-id exemplars', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const file = writeConfig(t, yamlFor({ legacy: legacy.url }, '  - { name: all, match: { path: /* }, backend: legacy }'))
  const cli = spawnCli(t, ['start', '--workers', '2', '--config', file], { PORT: '0', ADMIN_PORT: '0', OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await closedPort()}`, XDG_STATE_HOME: join(dirname(file), 'state') })
  const admin = String((await cli.waitFor((l) => l.msg === 'primary listening')).admin)
  const url = String((await cli.waitFor((l) => l.msg === 'all workers listening')).proxy)
  const trace = '4bf92f3577b34da6a3ce929d0e0e4736'
  const res = await request(`${url}/a`, { headers: { traceparent: `00-${trace}-00f067aa0ba902b7-01` } })
  await res.body.dump()
  const open = await request(`${admin}/metrics`, { headers: { accept: 'application/openmetrics-text; version=1.0.0,text/plain;version=0.0.4;q=0.5' } })
  t.match(open.headers['content-type'], /^application\/openmetrics-text; version=1\.0\.0/)
  const text = await open.body.text()
  t.match(text, new RegExp(`\\nstrangler_request_duration_seconds_bucket\\{le="[\\d.]+",route="all",backend="legacy"\\} 1 # \\{trace_id="${trace}"\\} [\\d.e-]+ \\d+\\.\\d{3}\\n`), 'the bucket links to the trace, whichever worker served it')
  t.match(text, /\n# EOF\n$/)
  const plain = await (await request(`${admin}/metrics`)).body.text()
  t.notMatch(plain, /trace_id/, 'the text format carries none')
})
