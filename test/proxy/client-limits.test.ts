import t from 'tap'
import net from 'node:net'
import { request } from 'undici'
import { startUpstream } from '../helpers/backends.js'
import { startProxy, yamlFor, accessLines, sleep } from '../helpers/proxy.js'
import { rawRequest } from '../helpers/raw-http.js'

const LIMITS = 'client: { headersTimeout: 500ms, requestTimeout: 1s, maxHeaderSize: 4kb, maxUrlLength: 256, maxBodySize: 1kb }'
const ROUTES = `  - { name: upload, match: { path: /upload/* }, backend: legacy, maxBodySize: 64kb }
  - { name: all, match: { path: /* }, backend: legacy }`

t.test('headers sent too slowly → 408 problem, connection closed', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const proxy = await startProxy(t, yamlFor({ legacy: legacy.url }, ROUTES, LIMITS))
  const { port } = new URL(proxy.url)
  const socket = net.connect(Number(port), '127.0.0.1')
  socket.write('GET / HTTP/1.1\r\nHost: x\r\n')
  const drip = setInterval(() => socket.write('X-Slow: 1\r\n'), 100)
  const start = performance.now()
  let text = ''
  socket.on('data', (c: Buffer) => { text += c.toString() })
  await new Promise((resolve) => socket.on('close', resolve))
  clearInterval(drip)
  const ms = performance.now() - start
  t.match(text, /^HTTP\/1\.1 408 /)
  t.match(text, /"code":"SPX_REQUEST_TIMEOUT"/)
  t.ok(ms >= 450 && ms < 2500, `cut after ${ms.toFixed(0)} ms`)
  t.equal(legacy.seen.length, 0)
})

t.test('a body sent too slowly is cut at requestTimeout; other clients are served meanwhile', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const proxy = await startProxy(t, yamlFor({ legacy: legacy.url }, ROUTES, LIMITS))
  const { port } = new URL(proxy.url)
  const socket = net.connect(Number(port), '127.0.0.1')
  socket.on('error', () => {})
  let answer = ''
  socket.on('data', (c: Buffer) => { answer += c.toString() })
  socket.write('POST /upload/x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n')
  const drip = setInterval(() => socket.write('a'), 100)
  const start = performance.now()
  const other = await request(`${proxy.url}/fast`)
  t.equal(other.statusCode, 200, 'another client is served while the slow body trickles')
  await other.body.dump()
  await new Promise((resolve) => socket.on('close', resolve))
  clearInterval(drip)
  const ms = performance.now() - start
  t.ok(ms >= 900 && ms < 3500, `slow body cut after ${ms.toFixed(0)} ms`)
  await sleep(100)
  const slowLine = accessLines(proxy.logs).find((l) => l.path === '/upload/x')
  t.match(answer, /^HTTP\/1\.1 408 [^]*"code":"SPX_REQUEST_TIMEOUT"/)
  t.equal(legacy.seen.filter((s) => s.url === '/upload/x').length, 0, 'the trickling body never took a backend connection')
  t.match(slowLine, { route: 'upload', status: 408, code: 'SPX_REQUEST_TIMEOUT' })
})

t.test('oversized headers → 431, oversized URL → 414', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const proxy = await startProxy(t, yamlFor({ legacy: legacy.url }, ROUTES, LIMITS))
  const big = await rawRequest(proxy.url, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(5000)}\r\n\r\n`)
  t.equal(big.status, 431)
  t.match(JSON.parse(big.body), { code: 'SPX_HEADERS_TOO_LARGE', status: 431 })
  const long = await request(`${proxy.url}/${'a'.repeat(300)}`)
  t.equal(long.statusCode, 414)
  t.match(await long.body.json(), { code: 'SPX_URI_TOO_LONG' })
  t.equal(legacy.seen.length, 0)
})

t.test('body over the limit → 413, by Content-Length before anything is forwarded', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const proxy = await startProxy(t, yamlFor({ legacy: legacy.url }, ROUTES, LIMITS))
  const tooBig = await request(`${proxy.url}/api`, { method: 'POST', body: Buffer.alloc(2000) })
  t.equal(tooBig.statusCode, 413)
  t.match(await tooBig.body.json(), { code: 'SPX_BODY_TOO_LARGE', detail: 'request body of 2000 bytes exceeds the limit of 1000 bytes for this route' })
  t.equal(legacy.seen.length, 0, 'nothing reached the backend')
  const perRoute = await request(`${proxy.url}/upload/file`, { method: 'POST', body: Buffer.alloc(2000) })
  t.equal(perRoute.statusCode, 200, 'the route allows more')
  t.match(await perRoute.body.json(), { bodyBytes: 2000 })
})

t.test('chunked body over the limit → 413 once the limit is passed', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const proxy = await startProxy(t, yamlFor({ legacy: legacy.url }, ROUTES, LIMITS))
  const chunk = (s: string): string => `${s.length.toString(16)}\r\n${s}\r\n`
  const res = await rawRequest(proxy.url, `POST /api HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n${chunk('a'.repeat(800))}${chunk('b'.repeat(800))}0\r\n\r\n`)
  t.equal(res.status, 413)
  t.match(JSON.parse(res.body), { code: 'SPX_BODY_TOO_LARGE' })
  const ok = await rawRequest(proxy.url, `POST /api HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunk('a'.repeat(500))}0\r\n\r\n`)
  t.equal(ok.status, 200)
  t.match(JSON.parse(ok.body), { bodyBytes: 500 })
})
