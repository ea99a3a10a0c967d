/**
 * Test backends on loopback, port 0: HTTP upstreams that record what reached them and
 * answer (by default echoing it as JSON, naming themselves), and raw TCP servers for
 * backends that misbehave below HTTP.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import net from 'node:net'
import type { T } from './proxy.js'
import { freePort } from './free-port.js'

export interface Seen {
  method: string
  url: string
  headers: http.IncomingHttpHeaders
  rawHeaders: string[]
  bodyBytes: number
}

export interface Upstream {
  name: string
  url: string
  port: number
  server: http.Server
  seen: Seen[]
}

export type Handler = (req: IncomingMessage, res: ServerResponse, seen: Seen, name: string) => void

/** Echoes what it received as JSON, naming itself, after reading the whole body. */
export const echo: Handler = (_req, res, seen, name) => {
  res.writeHead(200, { 'content-type': 'application/json' })
  res.end(JSON.stringify({ backend: name, ...seen }))
}

export async function startUpstream (t: T, name: string, handler: Handler = echo): Promise<Upstream> {
  const seen: Seen[] = []
  const server = http.createServer((req, res) => {
    const entry: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, rawHeaders: req.rawHeaders, bodyBytes: 0 }
    seen.push(entry)
    req.on('data', (c: Buffer) => { entry.bodyBytes += c.length })
    req.on('end', () => handler(req, res, entry, name))
    req.on('error', () => {})
  })
  // Upgraded sockets are not closed by closeAllConnections; track every socket.
  const sockets = new Set<net.Socket>()
  server.on('connection', (s: net.Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  t.teardown(() => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy()
    server.close(() => resolve())
  }))
  return { name, url: `http://127.0.0.1:${port}`, port, server, seen }
}

/** A raw TCP server, for backends that misbehave below HTTP. */
export async function startRawUpstream (t: T, onConnection: (socket: net.Socket) => void): Promise<{ url: string, port: number, connections: number }> {
  const state = { url: '', port: 0, connections: 0 }
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    state.connections++
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
    onConnection(socket)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  state.port = (server.address() as net.AddressInfo).port
  state.url = `http://127.0.0.1:${state.port}`
  t.teardown(() => new Promise<void>((resolve) => {
    for (const s of sockets) s.destroy()
    server.close(() => resolve())
  }))
  return state
}

export { freePort }

/**
 * A loopback port that refuses connections and stays closed: below the ephemeral range,
 * so no server of a test running alongside can be given it (a port just freed can be).
 */
export async function closedPort (): Promise<number> {
  for (let port = 1; port < 1024; port++) if (await refused(port)) return port
  throw new Error('every port below 1024 on 127.0.0.1 accepts connections')
}

async function refused (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => { socket.destroy(); resolve(false) })
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'))
  })
}
