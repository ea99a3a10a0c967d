// The Node floor: node:http and one undici Pool relaying status, headers and body,
// with nothing else (no routing, no logging, no metrics). What any Node proxy built on
// these two libraries pays at least; strangler-proxy and bare http-proxy are set
// against it. Usage: node node-floor.mjs PORT ORIGIN_URL
import http from 'node:http'
import process from 'node:process'
import { Pool } from 'undici'

const HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host'])
const pool = new Pool(process.argv[3], { connections: 64 })
const strip = (headers) => {
  const out = {}
  for (const [k, v] of Object.entries(headers)) if (!HOP.has(k)) out[k] = v
  return out
}

http.createServer((req, res) => {
  const bodyless = req.method === 'GET' || req.method === 'HEAD'
  pool.request({ path: req.url, method: req.method, headers: strip(req.headers), body: bodyless ? null : req }).then(({ statusCode, headers, body }) => {
    res.writeHead(statusCode, strip(headers))
    body.pipe(res)
  }, () => {
    res.writeHead(502).end()
  })
}).listen(Number(process.argv[2]), '127.0.0.1')
