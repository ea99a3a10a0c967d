import t from 'tap'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { request } from 'undici'
import type { FastifyReply } from 'fastify'
import { startUpstream, closedPort } from '../helpers/backends.js'
import { startProxy, accessLines, sleep, ROOT } from '../helpers/proxy.js'
import { createLogger, createAccessLog } from '../../src/observe/log.js'
import { newRequestState, responseStatus, type RequestState } from '../../src/proxy/request-state.js'

t.test('one access line per request with route, backend, status and timings', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const down = await closedPort()
  const proxy = await startProxy(t, `listen: { host: 127.0.0.1 }
backends:
  legacy: { url: "${legacy.url}" }
  django: { url: "http://127.0.0.1:${down}" }
routes:
  - { name: reports, match: { path: /reports/* }, backend: django }
  - { name: default, match: { path: /* }, backend: legacy }
`)
  await (await request(`${proxy.url}/orders/1?page=2`, { headers: { 'x-request-id': 'r-1' } })).body.dump()
  await (await request(`${proxy.url}/reports/x`, { headers: { 'x-request-id': 'r-2' } })).body.dump()
  await (await request(`${proxy.url}/orders/%zz`, { headers: { 'x-request-id': 'r-3' } })).body.dump()
  await sleep(20)
  const lines = accessLines(proxy.logs)
  t.equal(lines.length, 3, 'exactly one line per request, no Fastify request lines')
  t.notOk(proxy.logs.some((l) => l.msg === 'incoming request' || l.msg === 'request completed'))
  t.match(lines[0], { level: 30, reqId: 'r-1', route: 'default', backend: 'legacy', method: 'GET', path: '/orders/1', status: 200, durationMs: Number, upstreamMs: Number })
  t.ok((lines[0]?.durationMs as number) >= (lines[0]?.upstreamMs as number))
  t.match(lines[1], { reqId: 'r-2', route: 'reports', backend: 'django', status: 503, upstreamError: 'connect_refused', code: 'SPX_BACKEND_UNAVAILABLE', upstreamMs: null })
  t.match(lines[2], { reqId: 'r-3', route: null, backend: null, status: 400 })
})

t.test('credentials and query strings never reach the log', async (t) => {
  const legacy = await startUpstream(t, 'legacy', (_req, res) => {
    res.setHeader('set-cookie', 'session=SECRET-SET-COOKIE; HttpOnly')
    res.end('ok')
  })
  const down = await closedPort()
  const proxy = await startProxy(t, `listen: { host: 127.0.0.1 }
backends:
  legacy: { url: "${legacy.url}" }
  gone: { url: "http://127.0.0.1:${down}" }
routes:
  - { name: gone, match: { path: /gone/* }, backend: gone }
  - { name: default, match: { path: /* }, backend: legacy }
`)
  const headers = { authorization: 'Bearer SECRET-AUTH', cookie: 'sid=SECRET-COOKIE', 'proxy-authorization': 'Basic SECRET-PROXY' }
  await (await request(`${proxy.url}/a?token=SECRET-QUERY`, { headers })).body.dump()
  await (await request(`${proxy.url}/gone/b?token=SECRET-QUERY`, { headers })).body.dump()
  await (await request(`${proxy.url}/c/%zz?token=SECRET-QUERY`, { headers })).body.dump()
  await sleep(20)
  const text = JSON.stringify(proxy.logs)
  t.ok(accessLines(proxy.logs).length === 3)
  t.notMatch(text, /SECRET/, 'no secret value in any log line')
})

t.test('the access line is byte for byte what pino would write for the same fields', async (t) => {
  const written: string[] = []
  const logger = createLogger({ destination: { write: (line: string) => { written.push(line) } } })
  const cases: Array<{ state: Partial<RequestState>, id: string, url: string, finished: boolean, headersSent: boolean, status: number, websocket?: boolean, fields: Record<string, unknown> }> = [
    {
      state: { route: 'orders', backend: 'django', reason: 'flag_on', flag: 'orders-on-django', variant: 'b', upstreamMs: 1.2345 },
      id: 'r-"quoted"\\', url: '/api/ordérs/7"x?token=1', finished: true, headersSent: true, status: 200,
      fields: { reqId: 'r-"quoted"\\', route: 'orders', backend: 'django', reason: 'flag_on', method: 'GET', path: '/api/ordérs/7"x', status: 200, durationMs: 0, upstreamMs: 1.235, flag: 'orders-on-django', variant: 'b' }
    },
    {
      state: { upstreamError: 'connect_refused', errorCode: 'SPX_BACKEND_UNAVAILABLE', retried: true, failoverFrom: { backend: 'django', kind: 'connect_refused' }, route: 'orders', backend: 'legacy', reason: 'failover' },
      id: 'r-2', url: '/x\u0001\ud800', finished: false, headersSent: false, status: 200,
      fields: { reqId: 'r-2', route: 'orders', backend: 'legacy', reason: 'failover', method: 'GET', path: '/x\u0001\ud800', status: 499, durationMs: 0, upstreamMs: null, aborted: true, upstreamError: 'connect_refused', code: 'SPX_BACKEND_UNAVAILABLE', retried: true, failoverFrom: 'django' }
    },
    {
      // An upgrade's line, written when its tunnel closes: the same writer, marked.
      state: { route: 'chat', backend: 'django', reason: 'flag_on' },
      id: 'r-3', url: '/ws?ticket=secret', finished: true, headersSent: true, status: 101, websocket: true,
      fields: { reqId: 'r-3', route: 'chat', backend: 'django', reason: 'flag_on', method: 'GET', path: '/ws', status: 101, durationMs: 0, upstreamMs: null, websocket: true }
    }
  ]
  const normalize = (line: string): string => line.replace(/"time":\d+/, '"time":0').replace(/"durationMs":[\d.e-]+/, '"durationMs":0')
  for (const c of cases) {
    const spx = { ...newRequestState(), ...c.state }
    const reply = { raw: { writableFinished: c.finished, headersSent: c.headersSent, statusCode: c.status } } as unknown as FastifyReply
    createAccessLog(logger)(c.id, 'GET', c.url, spx, responseStatus(reply.raw), 0, !c.finished, c.websocket)
    logger.info(c.fields, 'request')
    const [ours, pinos] = written.splice(0, 2).map((l) => normalize(l))
    t.equal(ours, pinos)
    t.doesNotThrow(() => JSON.parse(ours as string))
  }
  const quiet = createLogger({ level: 'warn', destination: { write: (line: string) => { written.push(line) } } })
  createAccessLog(quiet)('x', 'GET', '/', newRequestState(), 200, 0, false)
  t.equal(written.length, 0, 'no access line below level info')
})

/** Runs a script that logs through the default (stdout) destination; resolves with its stdout lines once `until` holds or it exits. */
function logScript (body: string, until: (lines: string[]) => boolean): Promise<{ lines: string[], exited: boolean }> {
  const script = `import { createLogger } from ${JSON.stringify(join(ROOT, 'src/observe/log.ts'))}\nconst logger = createLogger()\n${body}`
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT })
  let out = ''
  return new Promise((resolve) => {
    const lines = (): string[] => out.split('\n').filter((l) => l !== '')
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString()
      if (until(lines())) {
        child.kill()
        resolve({ lines: lines(), exited: false })
      }
    })
    child.on('exit', () => resolve({ lines: lines(), exited: true }))
  })
}

t.test('stdout: every line is written, in order, before the process exits', async (t) => {
  const { lines, exited } = await logScript('for (let i = 0; i < 5000; i++) logger.info({ i }, "line")\nprocess.exit(0)', () => false)
  t.ok(exited)
  t.equal(lines.length, 5000, 'batches of lines plus the rest flushed at exit')
  t.same(lines.map((l) => (JSON.parse(l) as { i: number }).i), Array.from({ length: 5000 }, (_, i) => i))
})

t.test('stdout: a few lines at low traffic are written while the process runs', async (t) => {
  const { lines, exited } = await logScript('logger.warn("one")\nlogger.warn("two")\nsetTimeout(() => {}, 30000)', (l) => l.length === 2)
  t.notOk(exited, 'written by the periodic flush, not at exit')
  t.same(lines.map((l) => (JSON.parse(l) as { msg: string }).msg), ['one', 'two'])
})
