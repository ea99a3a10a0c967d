import t from 'tap'
import net from 'node:net'
import { createHash } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { startUpstream, type Upstream } from '../helpers/backends.js'
import { startProxy, sleep } from '../helpers/proxy.js'
import { rawRequest } from '../helpers/raw-http.js'
import type { T } from '../helpers/proxy.js'

const KEY = 'dGhlIHNhbXBsZSBub25jZQ=='
const ACCEPT = createHash('sha1').update(KEY + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64')

/** A websocket backend that completes the handshake and echoes raw bytes back, upper-cased. */
async function wsUpstream (t: T, name: string): Promise<Upstream & { upgrades: IncomingMessage[] }> {
  const up = await startUpstream(t, name)
  const upgrades: IncomingMessage[] = []
  up.server.on('upgrade', (req: IncomingMessage, socket: net.Socket) => {
    upgrades.push(req)
    if (req.headers['x-deny'] !== undefined) {
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\nContent-Length: 6\r\n\r\ndenied')
      return
    }
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${ACCEPT}\r\nX-Backend: ${name}\r\n\r\n`)
    socket.on('data', (c: Buffer) => socket.write(c.toString().toUpperCase()))
  })
  return Object.assign(up, { upgrades })
}

function handshake (path: string, extra = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: shop.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`
}

const yaml = (legacy: string, django: string): string => `listen: { host: 127.0.0.1 }
backends:
  legacy: { url: "${legacy}" }
  django: { url: "${django}" }
routes:
  - { name: live, match: { path: /live/* }, backend: django }
  - { name: nows, match: { path: /static/* }, backend: legacy, websocket: false }
  - { name: default, match: { path: /* }, backend: legacy }
`

t.test('a websocket upgrade is tunnelled to the route\'s backend', async (t) => {
  const legacy = await wsUpstream(t, 'legacy')
  const django = await wsUpstream(t, 'django')
  const proxy = await startProxy(t, yaml(legacy.url, django.url))
  const { port } = new URL(proxy.url)
  const socket = net.connect(Number(port), '127.0.0.1')
  socket.write(handshake('/live/feed?room=1'))
  let text = ''
  socket.on('data', (c: Buffer) => {
    text += c.toString()
    if (text.endsWith('\r\n\r\n')) socket.write('hello through the tunnel')
  })
  while (!text.includes('HELLO THROUGH THE TUNNEL')) await sleep(10)
  socket.destroy()
  t.match(text, /^HTTP\/1\.1 101 Switching Protocols\r\n/)
  t.match(text, new RegExp(`Sec-WebSocket-Accept: ${ACCEPT.replace(/[+/]/g, '\\$&')}`))
  t.match(text, /X-Backend: django/)
  t.equal(django.upgrades.length, 1)
  t.equal(legacy.upgrades.length, 0)
  t.equal(django.upgrades[0]?.url, '/live/feed?room=1')
  t.equal(django.upgrades[0]?.headers['sec-websocket-key'], KEY)
  t.equal(django.upgrades[0]?.headers['x-forwarded-for'], '127.0.0.1')
})

t.test('a backend that declines the upgrade is relayed as it answered', async (t) => {
  const legacy = await wsUpstream(t, 'legacy')
  const django = await wsUpstream(t, 'django')
  const proxy = await startProxy(t, yaml(legacy.url, django.url))
  const res = await rawRequest(proxy.url, handshake('/live/feed', 'X-Deny: 1\r\n'))
  t.equal(res.status, 403)
  t.equal(res.body, 'denied')
})

t.test('a route with websocket: false refuses upgrades; no backend → 503 problem', async (t) => {
  const legacy = await wsUpstream(t, 'legacy')
  const proxy = await startProxy(t, yaml(legacy.url, 'http://127.0.0.1:1'))
  const refused = await rawRequest(proxy.url, handshake('/static/x'))
  t.equal(refused.status, 400)
  t.match(JSON.parse(refused.body), { code: 'SPX_UPGRADE_NOT_ALLOWED' })
  const down = await rawRequest(proxy.url, handshake('/live/x'))
  t.equal(down.status, 503)
  t.match(JSON.parse(down.body), { code: 'SPX_BACKEND_UNAVAILABLE' })
  t.equal(legacy.upgrades.length, 0)
})

t.test('an h2c upgrade request is served as plain HTTP/1.1', async (t) => {
  const legacy = await wsUpstream(t, 'legacy')
  const proxy = await startProxy(t, yaml(legacy.url, legacy.url))
  const res = await rawRequest(proxy.url, 'GET /page HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n')
  t.equal(res.status, 200)
  t.match(JSON.parse(res.body), { backend: 'legacy', url: '/page' })
  t.notOk(legacy.seen[0]?.headers.upgrade, 'Upgrade not forwarded')
  t.notOk(legacy.seen[0]?.headers['http2-settings'], 'HTTP2-Settings not forwarded')
})
