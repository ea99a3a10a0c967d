// The legacy web app of the demo: orders API (JSON), reports page (HTML) and the
// login that sets the session cookie every other route reads. Plain Node, no
// dependencies, so it runs anywhere Node does. The Django service implements the
// same contract (examples/django-service).
//
//   PORT=8000 SESSION_SECRET=... node examples/legacy-app/server.js
import http from 'node:http'
import { createHmac, timingSafeEqual } from 'node:crypto'
import { Buffer } from 'node:buffer'
import process from 'node:process'
import { URL, URLSearchParams } from 'node:url'

const PORT = Number(process.env.PORT ?? 8000)
const HOST = process.env.HOST ?? '127.0.0.1'
const SECRET = process.env.SESSION_SECRET ?? 'strangler-demo-secret'
const SERVED_BY = 'legacy'

// Session cookie shared with the Django service: base64url(JSON) + "." + hex HMAC-SHA256.
export function signSession (data) {
  const payload = Buffer.from(JSON.stringify(data)).toString('base64url')
  return `${payload}.${createHmac('sha256', SECRET).update(payload).digest('hex')}`
}

export function readSession (cookieHeader) {
  const match = /(?:^|;\s*)session=([^;]+)/.exec(cookieHeader ?? '')
  if (!match) return null
  const [payload, mac] = match[1].split('.')
  if (!payload || !mac) return null
  const want = createHmac('sha256', SECRET).update(payload).digest()
  const got = Buffer.from(mac, 'hex')
  if (got.length !== want.length || !timingSafeEqual(got, want)) return null
  try {
    return JSON.parse(Buffer.from(payload, 'base64url').toString())
  } catch {
    return null
  }
}

// Orders are derived from their id, so both apps answer the same for the same id.
const SKUS = ['A-100', 'B-200', 'C-300', 'D-400']
const STATUSES = ['new', 'paid', 'shipped', 'delivered']
export function order (id, customer) {
  const n = Number(id)
  return {
    id: n,
    sku: SKUS[n % SKUS.length],
    qty: (n % 5) + 1,
    status: STATUSES[n % STATUSES.length],
    total: (((n % 5) + 1) * 12.5).toFixed(2),
    customer
  }
}

let nextId = 1000

function send (res, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/html; charset=utf-8' : 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-served-by': SERVED_BY,
    ...headers
  })
  res.end(text)
}

function readBody (req) {
  return new Promise((resolve, reject) => {
    const chunks = []
    req.on('data', (c) => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks).toString()))
    req.on('error', reject)
  })
}

/** The trace id of a W3C traceparent (set by strangler-proxy when tracing is on). */
const TRACEPARENT = /^00-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://legacy')
  // One line per traced request, so a trace id found in the proxy's log leads here.
  const traceId = TRACEPARENT.exec(req.headers.traceparent ?? '')?.[1]
  if (traceId !== undefined) process.stdout.write(JSON.stringify({ app: 'legacy', method: req.method, path: url.pathname, traceId }) + '\n')
  const session = readSession(req.headers.cookie)
  const user = session?.user ?? null
  try {
    if (url.pathname === '/healthz') return send(res, 200, { status: 'ok' })
    if (url.pathname === '/login') {
      const form = req.method === 'POST' ? new URLSearchParams(await readBody(req)) : url.searchParams
      const name = form.get('user')
      if (!name) return send(res, 400, { error: 'user is required' })
      const cookie = `session=${signSession({ user: name, tenant: form.get('tenant') ?? null })}; Path=/; HttpOnly; SameSite=Lax`
      return send(res, 200, { user: name }, { 'set-cookie': cookie })
    }
    if (url.pathname === '/api/me') return send(res, user ? 200 : 401, user ? { user, tenant: session.tenant } : { error: 'login required' })
    // Who is signed in, for strangler-proxy's identity bridge (identity.resolve.url).
    if (url.pathname === '/whoami') return send(res, user ? 200 : 401, user ? { sub: user, tenant: session.tenant ?? null } : { error: 'login required' })
    if (url.pathname === '/api/orders' && req.method === 'POST') {
      if (!user) return send(res, 401, { error: 'login required' })
      const input = JSON.parse((await readBody(req)) || '{}')
      return send(res, 201, { ...order(nextId++, user), sku: input.sku ?? 'A-100', qty: Number(input.qty ?? 1), status: 'new' })
    }
    if (url.pathname === '/api/orders') return send(res, 200, { orders: [1, 2, 3].map((id) => order(id, user)) })
    const one = /^\/api\/orders\/(\d+)$/.exec(url.pathname)
    if (one) return send(res, 200, order(one[1], user))
    if (url.pathname === '/reports' || url.pathname.startsWith('/reports/')) {
      return send(res, 200, `<!doctype html><title>Reports (legacy)</title><h1>Reports</h1><p>${user ? `Signed in as ${user}` : 'Not signed in'}</p>`)
    }
    if (url.pathname === '/') return send(res, 200, `<!doctype html><title>Shop</title><h1>Shop (legacy)</h1><p>${user ? `Signed in as ${user}` : '<a href="/login?user=alice">Sign in</a>'}</p>`)
    return send(res, 404, { error: 'not found' })
  } catch (err) {
    return send(res, 400, { error: String(err.message) })
  }
})

if (import.meta.url === `file://${process.argv[1]}`) {
  server.listen(PORT, HOST, () => process.stdout.write(`legacy app on http://${HOST}:${PORT}\n`))
  process.on('SIGTERM', () => server.close(() => process.exit(0)))
}

export { server }
