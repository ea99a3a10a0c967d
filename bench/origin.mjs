// The benchmark's origin: a small keep-alive HTTP server answering every request
// with the same small JSON body. Usage: node origin.mjs PORT
import http from 'node:http'
import { Buffer } from 'node:buffer'
import process from 'node:process'
const body = JSON.stringify({ id: 1, sku: 'A-100', qty: 2, status: 'paid', total: '25.00' })
const server = http.createServer((req, res) => {
  req.resume()
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  })
})
server.keepAliveTimeout = 60_000
server.listen(Number(process.argv[2]), '127.0.0.1')
