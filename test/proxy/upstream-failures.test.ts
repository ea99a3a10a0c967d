import t from 'tap'
import type { Test } from 'tap'
import { request } from 'undici'
import { startUpstream, startRawUpstream, closedPort } from '../helpers/backends.js'
import { startProxy, accessLines, type LogLine } from '../helpers/proxy.js'
import { rawRequest } from '../helpers/raw-http.js'

function proxyTo (backendYaml: string, extra = ''): string {
  return `listen: { host: 127.0.0.1 }\n${extra}\nbackends:\n  legacy: ${backendYaml}\nroutes:\n  - { name: all, match: { path: /* }, backend: legacy }\n`
}

async function problem (url: string, init: Parameters<typeof request>[1] = {}): Promise<{ status: number, body: Record<string, unknown>, ms: number, headers: Record<string, unknown> }> {
  const start = performance.now()
  const res = await request(url, init)
  const text = await res.body.text()
  return { status: res.statusCode, body: JSON.parse(text) as Record<string, unknown>, ms: performance.now() - start, headers: res.headers }
}

function noInternalAddress (t: Test, body: Record<string, unknown>, port: number): void {
  const text = JSON.stringify(body)
  t.notMatch(text, /127\.0\.0\.1|localhost/, 'no internal host in the body')
  t.notMatch(text, new RegExp(String(port)), 'no internal port in the body')
  t.notMatch(text, /at .*\.(ts|js):\d+/, 'no stack trace')
}

t.test('refused connection → 503 fast, one retry for GET, none for a POST with a body', async (t) => {
  const port = await closedPort()
  const proxy = await startProxy(t, proxyTo(`{ url: "http://127.0.0.1:${port}" }`))
  const res = await problem(`${proxy.url}/orders`, { headers: { 'x-request-id': 'req-503' } })
  t.equal(res.status, 503)
  t.ok(res.ms < 1000, `answered in ${res.ms.toFixed(0)} ms`)
  t.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8')
  t.same(res.body, {
    type: 'urn:strangler-proxy:error:SPX_BACKEND_UNAVAILABLE',
    title: 'Backend unavailable',
    status: 503,
    detail: 'backend "legacy" is not accepting connections',
    code: 'SPX_BACKEND_UNAVAILABLE',
    requestId: 'req-503'
  })
  noInternalAddress(t, res.body, port)
  const post = await problem(`${proxy.url}/orders`, { method: 'POST', body: 'x=1' })
  t.equal(post.status, 503)
  const lines = accessLines(proxy.logs)
  t.match(lines[0], { reqId: 'req-503', status: 503, upstreamError: 'connect_refused', code: 'SPX_BACKEND_UNAVAILABLE', retried: true })
  t.equal(lines[1]?.retried, undefined, 'POST with a body is never retried')
})

t.test('unresolvable backend host → 503', async (t) => {
  const proxy = await startProxy(t, proxyTo('{ url: "http://backend.invalid:8000", timeouts: { connect: 2s } }'))
  const res = await problem(`${proxy.url}/`)
  t.equal(res.status, 503)
  t.equal(res.body.code, 'SPX_BACKEND_UNAVAILABLE')
  t.notMatch(JSON.stringify(res.body), /invalid:8000|ENOTFOUND/)
})

t.test('silent backend → 504 at the configured header timeout, not 300 s', async (t) => {
  const silent = await startRawUpstream(t, () => {})
  const proxy = await startProxy(t, proxyTo(`{ url: "${silent.url}", timeout: 400ms }`))
  const res = await problem(`${proxy.url}/slow`)
  t.equal(res.status, 504)
  t.equal(res.body.code, 'SPX_BACKEND_TIMEOUT')
  t.ok(res.ms >= 380 && res.ms < 2000, `answered after ${res.ms.toFixed(0)} ms`)
  t.equal(silent.connections, 1, 'a timed-out request is not retried')
  noInternalAddress(t, res.body, silent.port)
})

t.test('connect timeout (TLS handshake never completes) → 504 at the connect timeout', async (t) => {
  const blackhole = await startRawUpstream(t, () => {})
  const proxy = await startProxy(t, proxyTo(`{ url: "https://127.0.0.1:${blackhole.port}", timeouts: { connect: 300ms } }`))
  const res = await problem(`${proxy.url}/`)
  t.equal(res.status, 504)
  t.equal(res.body.code, 'SPX_BACKEND_CONNECT_TIMEOUT')
  t.ok(res.ms >= 280 && res.ms < 2000, `answered after ${res.ms.toFixed(0)} ms`)
  t.match(accessLines(proxy.logs)[0], { upstreamError: 'connect_timeout', status: 504 })
})

t.test('backend resets the connection → 502', async (t) => {
  const resetter = await startRawUpstream(t, (socket) => socket.once('data', () => socket.resetAndDestroy()))
  const proxy = await startProxy(t, proxyTo(`{ url: "${resetter.url}" }`))
  const res = await problem(`${proxy.url}/`, { method: 'POST', body: 'payload' })
  t.equal(res.status, 502)
  t.equal(res.body.code, 'SPX_BACKEND_RESET')
  t.match(accessLines(proxy.logs)[0], { upstreamError: 'reset' })
})

t.test('backend sends garbage → 502 invalid response', async (t) => {
  const garbage = await startRawUpstream(t, (socket) => socket.once('data', () => socket.end('HTTP/1.1 OK maybe\r\nwhat: ever\r\n\r\n')))
  const proxy = await startProxy(t, proxyTo(`{ url: "${garbage.url}" }`))
  const res = await problem(`${proxy.url}/`)
  t.equal(res.status, 502)
  t.equal(res.body.code, 'SPX_BACKEND_INVALID_RESPONSE')
  t.match(accessLines(proxy.logs)[0], { upstreamError: 'invalid_response' })
})

t.test('a backend 503 is passed through once, Retry-After untouched', async (t) => {
  const busy = await startUpstream(t, 'legacy', (_req, res) => {
    res.writeHead(503, { 'retry-after': '120', 'content-type': 'text/plain' })
    res.end('maintenance')
  })
  const proxy = await startProxy(t, proxyTo(`{ url: "${busy.url}" }`))
  const start = performance.now()
  const res = await request(`${proxy.url}/`)
  t.equal(res.statusCode, 503)
  t.equal(res.headers['retry-after'], '120')
  t.equal(await res.body.text(), 'maintenance')
  t.ok(performance.now() - start < 1000)
  t.equal(busy.seen.length, 1, 'the backend saw exactly one request')
})

t.test('a reset after the headers ends the client response early and is logged', async (t) => {
  const half = await startRawUpstream(t, (socket) => socket.once('data', () => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part')
    setTimeout(() => socket.resetAndDestroy(), 50)
  }))
  const proxy = await startProxy(t, proxyTo(`{ url: "${half.url}" }`))
  const res = await rawRequest(proxy.url, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  t.equal(res.status, 200)
  t.equal(res.body, 'only part', 'the client sees a short body and a closed connection')
  await new Promise((resolve) => setTimeout(resolve, 50))
  const line = accessLines(proxy.logs)[0] as LogLine
  t.match(line, { status: 200, upstreamError: 'reset', aborted: true })
})

t.test('a body that stalls past bodyIdle is cut', async (t) => {
  const stall = await startRawUpstream(t, (socket) => socket.once('data', () => {
    socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nstart')
  }))
  const proxy = await startProxy(t, proxyTo(`{ url: "${stall.url}", timeouts: { bodyIdle: 300ms } }`))
  const res = await rawRequest(proxy.url, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  t.equal(res.body, 'start')
  t.ok(res.elapsedMs >= 280 && res.elapsedMs < 3000, `cut after ${res.elapsedMs.toFixed(0)} ms`)
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.match(accessLines(proxy.logs)[0], { upstreamError: 'response_timeout', aborted: true })
})
