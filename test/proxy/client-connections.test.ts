/**
 * What one client connection may hold of a backend: pipelined requests are forwarded
 * one after another and in order, every backend request stops when its client goes
 * (queued pipelined ones included), and a client that stops reading is cut after
 * client.sendTimeout. The backend pool is read from strangler_upstream_pool_*.
 */
import t from 'tap'
import net from 'node:net'
import { request } from 'undici'
import { startUpstream } from '../helpers/backends.js'
import { startProxy, accessLines, sleep } from '../helpers/proxy.js'
import { rawRequest } from '../helpers/raw-http.js'
import { backendPool, until } from '../helpers/pool-metrics.js'

const BIG = Buffer.alloc(4 * 1024 * 1024, 'x')

t.test('64 clients that pipeline three 4 MiB GETs and vanish leave no backend request running', async (t) => {
  let open = 0
  const legacy = await startUpstream(t, 'legacy', (_req, res) => {
    open++
    res.on('close', () => { open-- })
    res.writeHead(200, { 'content-type': 'application/octet-stream' })
    res.end(BIG)
  })
  const proxy = await startProxy(t, `listen: { host: 127.0.0.1 }
backends: { legacy: { url: "${legacy.url}", pool: { connections: 128 } } }
routes: [ { name: files, match: { path: /* }, backend: legacy } ]
`)
  const { port } = new URL(proxy.url)
  const sockets: net.Socket[] = []
  for (let i = 0; i < 64; i++) {
    const s = net.connect(Number(port), '127.0.0.1')
    s.on('error', () => {})
    s.write('GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n')
    // Never read: the socket fills, then the client goes away.
    s.pause()
    sockets.push(s)
  }
  await sleep(500)
  for (const s of sockets) s.destroy()
  const drained = await until(async () => {
    const p = await backendPool(proxy.adminUrl, 'legacy')
    return p.running === 0 && p.queued === 0 && open === 0
  }, 3000)
  const p = await backendPool(proxy.adminUrl, 'legacy')
  t.ok(drained, `pool released within 3 s: ${JSON.stringify(p)}, backend responses still open: ${open}`)
  t.ok(legacy.seen.length <= 64 * 3, `the backend saw ${legacy.seen.length} of 192 requests`)
  const res = await request(`${proxy.url}/after`, { headersTimeout: 2000 })
  await res.body.dump()
  t.equal(res.statusCode, 200, 'the backend is reachable afterwards')
  await sleep(100)
  const lines = accessLines(proxy.logs).filter((l) => l.path !== '/after')
  t.ok(lines.length >= legacy.seen.length, `an access line for every request forwarded (${lines.length})`)
  t.ok(lines.every((l) => l.status === 499 || l.aborted === true), 'every vanished request is logged as aborted or 499')
})

t.test('pipelined requests reach the backend one after another, in the order sent', async (t) => {
  const events: string[] = []
  const legacy = await startUpstream(t, 'legacy', (req, res) => {
    events.push(`start ${req.url}`)
    // The first is the slowest: forwarded all at once, the others would overtake it.
    const delay = req.url === '/1' ? 300 : req.url === '/2' ? 100 : 0
    setTimeout(() => {
      events.push(`end ${req.url}`)
      res.end(`answer ${req.url}`)
    }, delay)
  })
  const proxy = await startProxy(t, `listen: { host: 127.0.0.1 }
backends: { legacy: { url: "${legacy.url}" } }
routes: [ { name: all, match: { path: /* }, backend: legacy } ]
`)
  const res = await rawRequest(proxy.url, 'GET /1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  t.same(events, ['start /1', 'end /1', 'start /2', 'end /2', 'start /3', 'end /3'], 'each forwarded after the one before finished')
  const bodies = [...res.head.concat('\r\n\r\n', res.body).matchAll(/answer \/(\d)/g)].map((m) => m[1])
  t.same(bodies, ['1', '2', '3'], 'answers in order')
})

t.test('a client that stops reading is cut after client.sendTimeout and its backend request aborted', async (t) => {
  let closedEarly = 0
  const legacy = await startUpstream(t, 'legacy', (_req, res) => {
    res.on('close', () => { if (!res.writableFinished) closedEarly++ })
    res.writeHead(200)
    // 32 MiB, far more than the socket buffers hold.
    let left = 8
    const more = (): void => {
      while (left > 0) {
        left--
        if (!res.write(BIG)) { res.once('drain', more); return }
      }
      res.end()
    }
    more()
  })
  const proxy = await startProxy(t, `listen: { host: 127.0.0.1 }
client: { sendTimeout: 1s }
backends: { legacy: { url: "${legacy.url}" } }
routes: [ { name: all, match: { path: /* }, backend: legacy } ]
`)
  const { port } = new URL(proxy.url)
  const s = net.connect(Number(port), '127.0.0.1')
  s.on('error', () => {})
  let received = 0
  s.on('data', (c: Buffer) => { received += c.length })
  // Takes the first bytes, then reads nothing more.
  s.once('data', () => s.pause())
  const closed = new Promise<void>((resolve) => s.on('close', () => resolve()))
  s.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n')
  t.ok(await until(async () => accessLines(proxy.logs).some((l) => l.path === '/big'), 5000), 'the request ended while the client was not reading')
  const line = accessLines(proxy.logs).find((l) => l.path === '/big')
  t.match(line, { status: 200, aborted: true, code: 'SPX_SEND_TIMEOUT' }, 'logged with SPX_SEND_TIMEOUT')
  const ms = Number(line?.durationMs)
  t.ok(ms >= 900 && ms < 4000, `cut after ${ms.toFixed(0)} ms`)
  s.resume()
  await closed
  t.ok(received < 8 * BIG.length, `the connection was closed: ${received} of ${8 * BIG.length} bytes arrived`)
  t.ok(await until(async () => closedEarly === 1, 2000), 'the backend response was aborted')
  t.ok(await until(async () => (await backendPool(proxy.adminUrl, 'legacy')).running === 0, 2000), 'no backend request left running')
})

t.test('a client that reads slowly but steadily is not cut', async (t) => {
  const legacy = await startUpstream(t, 'legacy', (_req, res) => { res.end(BIG) })
  const proxy = await startProxy(t, `listen: { host: 127.0.0.1 }
client: { sendTimeout: 1s }
backends: { legacy: { url: "${legacy.url}" } }
routes: [ { name: all, match: { path: /* }, backend: legacy } ]
`)
  const res = await request(`${proxy.url}/big`)
  let bytes = 0
  // About 2 MiB/s: slower than the backend, never idle for a second.
  for await (const chunk of res.body) {
    bytes += (chunk as Buffer).length
    await sleep(5)
  }
  t.equal(bytes, BIG.length, 'the whole body arrived')
})

t.test('a "Connection: close" POST followed by stray bytes gets the backend\'s answer', async (t) => {
  const legacy = await startUpstream(t, 'legacy', (_req, res) => { res.end('created') })
  const proxy = await startProxy(t, `listen: { host: 127.0.0.1 }
backends: { legacy: { url: "${legacy.url}" } }
routes: [ { name: all, match: { path: /* }, backend: legacy } ]
`)
  const res = await rawRequest(proxy.url, 'POST /orders HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello\x00\x01 not http at all\r\n\r\n')
  t.equal(res.status, 200, 'the backend\'s status')
  t.equal(res.body, 'created', 'the backend\'s body, and nothing after it')
  t.notMatch(res.head + res.body, /HTTP\/1\.1 400/, 'no 400 for the stray bytes')
  t.same(legacy.seen.map((s) => `${s.method} ${s.url} ${s.bodyBytes}`), ['POST /orders 5'], 'the backend executed the POST once')

  const keepAlive = await rawRequest(proxy.url, 'GET /a HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE\r\n\r\n')
  t.equal(keepAlive.status, 200, 'on a keep-alive connection too, the request in flight is answered')
  t.equal(keepAlive.body, 'created')
  t.notMatch(keepAlive.body, /SPX_BAD_REQUEST/, 'and the connection ends after it without a 400')
})
