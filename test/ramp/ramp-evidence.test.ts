/**
 * Only the backends' own evidence moves a ramp, on real sockets from several loopback
 * addresses: a flood the proxy answers itself (413) does not dilute a failing backend,
 * a slow upload is not the backend's latency, and one client's failures cannot step a
 * ramp back. Each of these moved a ramp before requests were judged as evidence.
 */
import t from 'tap'
import net from 'node:net'
import { Agent, request } from 'undici'
import { startUpstream, echo, type Handler } from '../helpers/backends.js'
import { startProxy, sleep, accessLines, type TestProxy } from '../helpers/proxy.js'
import { poll } from '../helpers/poll.js'
import { flagsJson, flaggedYaml, rollout, usersByBucket } from '../helpers/flags.js'

const FLAG = 'orders-on-django'
const USERS = usersByBucket(FLAG)

/** A client bound to one loopback address. */
function from (address: string): Agent {
  return new Agent({ localAddress: address })
}

/** One request on its own connection from `address`; the whole answer once the proxy closes it. */
async function raw (port: number, address: string, head: string): Promise<string> {
  const socket = net.connect({ port, host: '127.0.0.1', localAddress: address })
  socket.on('error', () => {})
  await new Promise((resolve) => socket.once('connect', resolve))
  socket.write(head)
  return await new Promise<string>((resolve) => {
    let text = ''
    socket.on('data', (c: Buffer) => { text += c.toString() })
    socket.on('close', () => resolve(text))
  })
}

async function rampOf (p: TestProxy): Promise<{ percent: number, state: string, reason: string }> {
  return ((await (await request(`${p.adminUrl}/ramp`)).body.json()) as { routes: Array<{ percent: number, state: string, reason: string }> }).routes[0] as { percent: number, state: string, reason: string }
}

async function metric (p: TestProxy, line: RegExp): Promise<number> {
  const text = await (await request(`${p.adminUrl}/metrics`)).body.text()
  return text.split('\n').filter((l) => line.test(l)).reduce((sum, l) => sum + Number(l.split(' ').pop()), 0)
}

async function start (t: Parameters<typeof startProxy>[0], ramp: string, percent: number, django: Handler, extra = ''): Promise<TestProxy> {
  const legacy = await startUpstream(t, 'legacy')
  const dj = await startUpstream(t, 'django', django)
  return await startProxy(t, flaggedYaml(legacy.url, dj.url, extra).replace('    flag: { name: orders-on-django, backend: django }', `    flag: { name: orders-on-django, backend: django }\n    ramp: ${ramp}`), {
    files: { 'flags.json': flagsJson([{ name: FLAG, enabled: true, strategies: [rollout(percent)] }]) }
  })
}

/** Users of buckets `buckets` from each address in turn, until stopped. */
function organic (p: TestProxy, addresses: string[], buckets: number[], path = '/api/orders/1'): { stop: () => Promise<void> } {
  let running = true
  const agents = addresses.map(from)
  const loop = (async () => {
    for (let round = 0; running; round++) {
      await Promise.all(buckets.map(async (b, i) => {
        const res = await request(`${p.url}${path}`, { dispatcher: agents[(round + i) % agents.length] as Agent, headers: { 'x-user-id': USERS[b - 1] as string } })
        await res.body.dump()
      }))
      await sleep(20)
    }
  })()
  return { stop: async () => { running = false; await loop; await Promise.all(agents.map((a) => a.close())) } }
}

t.test('a flood of requests the proxy answers itself (413) does not carry a failing backend to the next step', async (t) => {
  // django fails every user's every tenth request: counted, not drawn, so a window of 60
  // (12 from each of the 5 users) cannot show none by chance, as a drawn 10 % can.
  const served = new Map<string, number>()
  const p = await start(t, '{ steps: [5, 50, 100], hold: 2s, minRequests: 60, minUsers: 3, minAddresses: 3, minFailingClients: 2 }', 0, (req, res, seen, name) => {
    const user = String(req.headers['x-user-id'])
    const n = (served.get(user) ?? 0) + 1
    served.set(user, n)
    if (n % 10 === 0) return void res.writeHead(500).end('boom')
    echo(req, res, seen, name)
  }, 'evidence: { period: 10s }') // the caps' period, short so the test does not wait a minute for more evidence
  // Six addresses: each counts for at most 60 requests a minute per backend, and a 10 % failure must be significant.
  const traffic = organic(p, ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6', '127.0.0.7'], [1, 2, 3, 4, 5, 60, 61, 62, 63, 64])
  // A next-cohort user (bucket 30) declaring a body the route refuses, over and over.
  let flooded = 0
  const port = Number(new URL(p.url).port)
  const flood = (async () => {
    for (let i = 0; i < 400; i++) {
      const answer = await raw(port, '127.0.0.9', `GET /api/orders/1 HTTP/1.1\r\nhost: x\r\nx-user-id: ${USERS[29] as string}\r\ncontent-length: 99999999999\r\nconnection: close\r\n\r\n`)
      if (answer.startsWith('HTTP/1.1 413')) flooded++
    }
  })()
  const end = Date.now() + 60_000
  let r = await rampOf(p)
  while (r.state === 'running' && r.percent === 5 && Date.now() < end) {
    await sleep(200)
    r = await rampOf(p)
  }
  await flood
  await traffic.stop()
  t.equal(r.percent, 0, `the ramp did not climb on the flood: ${r.reason}`)
  t.equal(r.state, 'aborted')
  t.match(r.reason, /aborted at 5 % .*gate failed: errors \(5xx/)
  t.ok(flooded > 0, `the flood was answered 413 by the proxy (${flooded})`)
  t.ok(await metric(p, /^strangler_evidence_ignored_total\{reason="proxy_answered"\}/) >= flooded, 'each 413 is counted as not evidence')
  t.ok(await metric(p, /^strangler_evidence_requests_total\{route="orders",backend="django",class="5xx"\}/) >= 2, 'django\'s own 5xx are the evidence, exposed for a fleet')
})

t.test('a slow upload is the client\'s time, not the backend\'s latency', async (t) => {
  const p = await start(t, '{ steps: [50, 100], hold: 1h }', 100, echo)
  const port = Number(new URL(p.url).port)
  const socket = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.5' })
  await new Promise((resolve) => socket.once('connect', resolve))
  socket.write(`POST /api/orders/1 HTTP/1.1\r\nhost: x\r\nx-user-id: ${USERS[0] as string}\r\ncontent-type: text/plain\r\ncontent-length: 10\r\nconnection: close\r\n\r\n`)
  for (let i = 0; i < 10; i++) {
    await sleep(150)
    socket.write('x')
  }
  const answer = await new Promise<string>((resolve) => {
    let text = ''
    socket.on('data', (c: Buffer) => { text += c.toString() })
    socket.on('close', () => resolve(text))
  })
  t.match(answer, /^HTTP\/1\.1 200/)
  const line = accessLines(p.logs).find((l) => l.method === 'POST')
  t.ok(Number(line?.durationMs ?? 0) >= 1400, 'the request took the client 1.5 s')
  t.equal(await metric(p, /^strangler_evidence_seconds_count\{route="orders",backend="django"\}/), 1, 'one latency sample')
  t.equal(await metric(p, /^strangler_evidence_seconds_bucket\{route="orders",backend="django",le="0\.1016"\}/), 1, 'and it is the backend\'s few milliseconds, under 0.1 s')
})

t.test('one client failing on purpose cannot step a ramp back', async (t) => {
  const p = await start(t, '{ steps: [5, 10, 20, 50], hold: 1h, minRequests: 40 }', 20, (req, res, seen, name) => {
    if ((req.url ?? '').includes('fail')) return void res.writeHead(500).end('boom')
    echo(req, res, seen, name)
  })
  const agent = from('127.0.0.6')
  const user = USERS[14] as string
  // The step's window opens a pass after the ramp takes the flag up.
  await sleep(2500)
  for (let i = 0; i < 40; i++) await (await request(`${p.url}/api/orders/${i}`, { dispatcher: agent, headers: { 'x-user-id': user } })).body.dump()
  for (let i = 0; i < 4; i++) await (await request(`${p.url}/api/orders/fail`, { dispatcher: agent, headers: { 'x-user-id': user } })).body.dump()
  await agent.close()
  // Until the ramp has judged this traffic: its reason then names the evidence it lacks.
  const r = await poll(async () => await rampOf(p), (x) => /[1-9]\d* of 10 distinct users on the new backend/.test(x.reason), 10_000)
  t.equal(r.percent, 20, 'still at 20 %')
  t.equal(r.state, 'running')
  t.match(r.reason, /1 of 10 distinct users on the new backend; 1 of 3 distinct client addresses on the new backend/, `it waits for evidence from more users and addresses: ${r.reason}`)
})
