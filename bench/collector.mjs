// A stand-in OTLP/HTTP collector for the tracing rows of the benchmark: reads each
// export and answers 200, as a collector that keeps up would.
import http from 'node:http'
import process from 'node:process'

const port = Number(process.argv[2])
http.createServer((req, res) => {
  req.resume()
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'))
}).listen(port, '127.0.0.1')
