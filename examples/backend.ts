/**
 * A small example backend for the demo and quick start: answers every request
 * with JSON naming itself, echoing method, path and the forwarding headers.
 * Usage: node --import tsx examples/backend.ts NAME PORT
 */
import http from 'node:http'

export function startExampleBackend (name: string, port: number, host = '127.0.0.1'): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = JSON.stringify({
        backend: name,
        method: req.method,
        url: req.url,
        requestId: req.headers['x-request-id'] ?? null,
        forwardedFor: req.headers['x-forwarded-for'] ?? null,
        bodyBytes: Buffer.concat(chunks).length
      })
      res.writeHead(200, { 'content-type': 'application/json', 'x-backend': name })
      res.end(body)
    })
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve(server))
  })
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [name = 'backend', port = '8000'] = process.argv.slice(2)
  await startExampleBackend(name, Number(port))
  process.stdout.write(`${name} listening on http://127.0.0.1:${port}\n`)
}
