import t from 'tap'
import { Readable } from 'node:stream'
import { request } from 'undici'
import { startUpstream } from '../helpers/backends.js'
import { startProxy, yamlFor } from '../helpers/proxy.js'

const MB = 1024 * 1024
const SIZE = 100 * MB
const CHUNK = Buffer.alloc(64 * 1024, 'x')

/** Bytes pushed so far by the running generator: shows whether the other end streams or buffers. */
let pushed = 0

function generate (bytes: number): Readable {
  let left = bytes
  pushed = 0
  return new Readable({
    read () {
      if (left <= 0) return void this.push(null)
      const n = Math.min(left, CHUNK.length)
      left -= n
      pushed += n
      this.push(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))
    }
  })
}

/** Peak RSS growth while `fn` runs; everything (client, proxy, backend) is in this process. */
async function peakGrowth (fn: () => Promise<void>): Promise<number> {
  const base = process.memoryUsage.rss()
  let peak = base
  const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()) }, 20)
  try {
    await fn()
  } finally {
    clearInterval(timer)
  }
  return Math.max(peak, process.memoryUsage.rss()) - base
}

const ROUTES = '  - { name: all, match: { path: /* }, backend: legacy }'
const LIMITS = 'client: { maxBodySize: 200mb, requestTimeout: 60s }'

t.test('a 100 MB upload streams through with bounded memory', async (t) => {
  let pushedAtFirstByte = -1
  const legacy = await startUpstream(t, 'legacy', (_req, res, seen) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify(seen))
  })
  legacy.server.on('request', (req) => req.once('data', () => { pushedAtFirstByte = pushed }))
  const proxy = await startProxy(t, yamlFor({ legacy: legacy.url }, ROUTES, LIMITS))
  let status = 0
  let body: unknown
  const growth = await peakGrowth(async () => {
    const res = await request(`${proxy.url}/upload`, { method: 'PUT', body: generate(SIZE), headers: { 'content-length': String(SIZE) } })
    status = res.statusCode
    body = await res.body.json()
  })
  t.equal(status, 200)
  t.match(body, { bodyBytes: SIZE })
  t.ok(pushedAtFirstByte >= 0 && pushedAtFirstByte < 20 * MB, `the backend got its first bytes after ${(pushedAtFirstByte / MB).toFixed(1)} MB were sent`)
  // Garbage buffers are not collected promptly, so RSS is only a coarse bound here.
  t.ok(growth < 150 * MB, `RSS grew by ${(growth / MB).toFixed(1)} MB for a 100 MB body`)
})

t.test('a 100 MB download streams through with bounded memory', async (t) => {
  const legacy = await startUpstream(t, 'legacy', (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(SIZE) })
    generate(SIZE).pipe(res)
  })
  const proxy = await startProxy(t, yamlFor({ legacy: legacy.url }, ROUTES, LIMITS))
  let received = 0
  let pushedAtFirstByte = -1
  let length: unknown
  const growth = await peakGrowth(async () => {
    const res = await request(`${proxy.url}/download`)
    length = res.headers['content-length']
    for await (const chunk of res.body) {
      if (received === 0) pushedAtFirstByte = pushed
      received += (chunk as Buffer).length
    }
  })
  t.equal(length, String(SIZE))
  t.equal(received, SIZE)
  t.ok(pushedAtFirstByte >= 0 && pushedAtFirstByte < 20 * MB, `the client got its first bytes after ${(pushedAtFirstByte / MB).toFixed(1)} MB were sent`)
  t.ok(growth < 150 * MB, `RSS grew by ${(growth / MB).toFixed(1)} MB for a 100 MB body`)
})
