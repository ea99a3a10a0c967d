/** The usage reporter alone: Unleash's payload and headers, counts kept when refused, dropped when refused too long. */
import t from 'tap'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import pino from 'pino'
import { FlagUsage } from '../../src/flags/usage.js'
import { UnleashMetricsReporter } from '../../src/flags/unleash-metrics.js'

interface Received { url: string, headers: IncomingHttpHeaders, body: Record<string, unknown> }

async function fakeUnleash (t: { teardown: (fn: () => unknown) => void }, status: () => number): Promise<{ url: string, received: Received[] }> {
  const received: Received[] = []
  const server = createServer((req, res) => {
    let text = ''
    req.on('data', (c: Buffer) => { text += c.toString() })
    req.on('end', () => {
      received.push({ url: req.url ?? '', headers: req.headers, body: JSON.parse(text) as Record<string, unknown> })
      res.writeHead(status()).end()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`, received }
}

const silent = pino({ level: 'silent' })

t.test('a bucket in Unleash\'s format; refused counts go with the next send', async (t) => {
  let status = 202
  const u = await fakeUnleash(t, () => status)
  const usage = new FlagUsage()
  const r = new UnleashMetricsReporter({ url: u.url, appName: 'shop', environment: 'production', token: 'default:production.x', interval: 60_000, timeout: 2000, usage, logger: silent })
  usage.count('orders', true, undefined)
  usage.count('orders', false, undefined)
  usage.count('search', true, 'blue')
  usage.count('search', false, 'disabled')
  await r.send()
  t.equal(u.received[0]?.url, '/api/client/metrics')
  t.match(u.received[0]?.headers, { authorization: 'default:production.x', 'unleash-appname': 'shop', 'unleash-instanceid': r.instanceId, 'unleash-sdk': /^unleash-client-node:/ })
  t.match(u.received[0]?.body, { appName: 'shop', instanceId: r.instanceId, environment: 'production', sdkFlavor: 'strangler-proxy', bucket: { toggles: { orders: { yes: 1, no: 1, variants: {} }, search: { yes: 1, no: 1, variants: { blue: 1, disabled: 1 } } } } })
  await r.send()
  t.equal(u.received.length, 1, 'nothing counted, nothing sent')

  status = 500
  usage.count('orders', true, undefined)
  await r.send()
  t.same(r.counts, { sent: 1, failed: 1, dropped: 0 })
  status = 202
  usage.count('orders', true, undefined)
  await r.send()
  t.match(u.received.at(-1)?.body, { bucket: { toggles: { orders: { yes: 2, no: 0 } } } }, 'the refused count went with the next')
})

t.test('counts Unleash has not taken for too long are dropped and counted', async (t) => {
  const u = await fakeUnleash(t, () => 503)
  const usage = new FlagUsage()
  const r = new UnleashMetricsReporter({ url: u.url, appName: 'shop', environment: 'production', token: undefined, interval: 1000, timeout: 2000, usage, logger: silent })
  for (let i = 0; i < 7; i++) usage.count('orders', i % 2 === 0, undefined)
  await r.send()
  t.equal(usage.evaluations, 7, 'kept after one refusal')
  await r.send(Date.now() + r.maxUnsentMs + 1)
  t.same(r.counts, { sent: 0, failed: 2, dropped: 7 })
  t.equal(usage.evaluations, 0, 'memory is given back')
})
