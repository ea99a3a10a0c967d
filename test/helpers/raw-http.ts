/** A raw-socket HTTP client: bytes sent exactly as given, the answer parsed as it came. */
import net from 'node:net'

export interface RawResponse {
  status: number
  head: string
  headers: Record<string, string>
  body: string
  elapsedMs: number
}

/** Sends bytes exactly as given and reads until the server closes (or `timeoutMs`). */
export function rawRequest (url: string, data: string | Buffer, timeoutMs = 5000): Promise<RawResponse> {
  const { hostname, port } = new URL(url)
  const start = performance.now()
  return new Promise((resolve) => {
    const socket = net.connect(Number(port), hostname)
    const chunks: Buffer[] = []
    const timer = setTimeout(() => socket.destroy(), timeoutMs)
    socket.on('data', (c) => chunks.push(c))
    // A reset after (or instead of) a response is part of what is being observed.
    socket.on('error', () => {})
    socket.on('close', () => {
      clearTimeout(timer)
      resolve(parseRaw(Buffer.concat(chunks).toString('latin1'), performance.now() - start))
    })
    socket.write(data)
  })
}

export function parseRaw (text: string, elapsedMs = 0): RawResponse {
  const end = text.indexOf('\r\n\r\n')
  const head = end === -1 ? text : text.slice(0, end)
  const lines = head.split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines.slice(1)) {
    const i = line.indexOf(':')
    if (i > 0) headers[line.slice(0, i).toLowerCase()] = line.slice(i + 1).trim()
  }
  let body = end === -1 ? '' : text.slice(end + 4)
  if (headers['transfer-encoding'] === 'chunked') body = dechunk(body)
  return { status: Number(lines[0]?.split(' ')[1] ?? 0), head, headers, body, elapsedMs }
}

function dechunk (text: string): string {
  let out = ''
  let i = 0
  for (;;) {
    const eol = text.indexOf('\r\n', i)
    if (eol === -1) return out
    const size = parseInt(text.slice(i, eol), 16)
    if (!(size > 0)) return out
    out += text.slice(eol + 2, eol + 2 + size)
    i = eol + 2 + size + 2
  }
}
