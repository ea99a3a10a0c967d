/** A stand-in Unleash client API for fault tests: healthy, 500, 401, hanging or malformed on demand. */
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { T } from './proxy.js'

export type Mode = 'ok' | '500' | '401' | 'hang' | 'malformed'

export interface FakeUnleash {
  url: string
  mode: Mode
  features: unknown[]
  requests: number
  /** Authorization headers seen. */
  tokens: string[]
}

export async function startFakeUnleash (t: T, features: unknown[]): Promise<FakeUnleash> {
  const state: FakeUnleash = { url: '', mode: 'ok', features, requests: 0, tokens: [] }
  let revision = 0
  let lastBody = ''
  const sockets = new Set<Socket>()
  const server = http.createServer((req, res) => {
    state.requests++
    state.tokens.push(String(req.headers.authorization))
    if (!(req.url ?? '').startsWith('/api/client/features')) return void res.writeHead(404).end()
    switch (state.mode) {
      case '500': return void res.writeHead(500).end('oops')
      case '401': return void res.writeHead(401).end('{"message":"invalid token"}')
      case 'hang': return
      case 'malformed': return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"version": 2, "features": [')
      default: {
        const body = JSON.stringify({ version: 2, features: state.features, segments: [] })
        if (body !== lastBody) {
          revision++
          lastBody = body
        }
        const etag = `"rev-${revision}"`
        if (req.headers['if-none-match'] === etag) return void res.writeHead(304, { etag }).end()
        res.writeHead(200, { 'content-type': 'application/json', etag }).end(body)
      }
    }
  })
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`
  t.teardown(() => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy()
    server.close(() => resolve())
  }))
  return state
}
