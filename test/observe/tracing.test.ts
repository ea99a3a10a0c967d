/**
 * OpenTelemetry tracing with a real OTLP/HTTP receiver in the test: the span tree,
 * names, kinds, attributes and parents; the traceparent the backend receives; failover
 * as two client spans; a shadow copy's linked span; sampling off means no spans; a
 * dead collector costs traffic nothing and its losses are counted.
 */
import t, { type Test } from 'tap'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { request } from 'undici'
import { startUpstream, closedPort } from '../helpers/backends.js'
import { startProxy, accessLines, sleep, type TestProxy } from '../helpers/proxy.js'
import { flagsJson, flaggedYaml, rollout } from '../helpers/flags.js'
import { startPrometheus, prometheusMissing } from '../helpers/prometheus.js'

interface Attr { key: string, value: { stringValue?: string, intValue?: number | string, boolValue?: boolean } }
interface Span { traceId: string, spanId: string, parentSpanId?: string, name: string, kind: number, attributes: Attr[], status?: { code?: number, message?: string }, links?: Array<{ traceId: string, spanId: string }> }
const SERVER = 2
const CLIENT = 3

async function receiver (t: Test): Promise<{ url: string, spans: Span[], posts: () => number }> {
  const spans: Span[] = []
  let posts = 0
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => { body += c.toString() })
    req.on('end', () => {
      posts++
      const data = JSON.parse(body) as { resourceSpans?: Array<{ scopeSpans?: Array<{ spans?: Span[] }> }> }
      for (const rs of data.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) spans.push(...(ss.spans ?? []))
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans, posts: () => posts }
}

const attr = (s: Span | undefined, key: string): unknown => {
  const v = s?.attributes.find((a) => a.key === key)?.value
  return v?.stringValue ?? (v?.intValue === undefined ? v?.boolValue : Number(v.intValue))
}

async function until (what: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms
  while (!what() && Date.now() < end) await sleep(50)
}

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const PARENT = '00f067aa0ba902b7'

t.test('one request: a server span continuing the client\'s trace, a client span, traceparent to the backend, ids in the log', async (t) => {
  const otlp = await receiver(t)
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const p = await startProxy(t, flaggedYaml(legacy.url, django.url), {
    files: { 'flags.json': flagsJson([{ name: 'orders-on-django', enabled: true, strategies: [rollout(100)] }]) },
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_SERVICE_NAME: 'proxy-under-test' }
  })
  const res = await request(`${p.url}/api/orders/7?x=1`, { headers: { 'x-user-id': 'u1', traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'vendor=1' } })
  t.equal(res.statusCode, 200)
  await res.body.dump()
  await until(() => otlp.spans.length >= 2, 5000)
  const server = otlp.spans.find((s) => s.kind === SERVER)
  const client = otlp.spans.find((s) => s.kind === CLIENT)
  t.match(server, { traceId: TRACE, parentSpanId: PARENT, name: 'GET orders' }, 'the server span continues the client\'s trace')
  t.same([attr(server, 'strangler.route'), attr(server, 'strangler.backend'), attr(server, 'strangler.reason'), attr(server, 'strangler.flag'), attr(server, 'http.response.status_code'), attr(server, 'url.path')], ['orders', 'django', 'flag_on', 'orders-on-django', 200, '/api/orders/7'])
  t.match(client, { traceId: TRACE, parentSpanId: server?.spanId, name: 'GET' }, 'the backend attempt is its child')
  t.same([attr(client, 'strangler.backend'), attr(client, 'http.response.status_code'), attr(client, 'url.full')], ['django', 200, `${django.url}/api/orders/7?x=1`])
  const seen = django.seen[0]?.headers
  t.equal(seen?.traceparent, `00-${TRACE}-${client?.spanId ?? ''}-01`, 'the backend gets the client span as its parent')
  t.equal(seen?.tracestate, 'vendor=1', 'tracestate passes through')
  const line = accessLines(p.logs)[0]
  t.match(line, { traceId: TRACE, spanId: server?.spanId }, 'the access line carries the ids')

  // The latency histogram carries the trace id as an exemplar, in the OpenMetrics exposition only.
  const open = await request(`${p.adminUrl}/metrics`, { headers: { accept: 'application/openmetrics-text; version=1.0.0,text/plain;version=0.0.4;q=0.5' } })
  t.match(open.headers['content-type'], /^application\/openmetrics-text; version=1\.0\.0/)
  const text = await open.body.text()
  t.match(text, new RegExp(`\\nstrangler_request_duration_seconds_bucket\\{le="[\\d.]+",route="orders",backend="django"\\} 1 # \\{trace_id="${TRACE}"\\} [\\d.e-]+ \\d+\\.\\d{3}\\n`), 'an exemplar with the trace id')
  t.match(text, /\n# TYPE strangler_requests counter\nstrangler_requests_total\{/, 'counter families named the OpenMetrics way')
  t.match(text, /# EOF\n$/)
  t.notMatch(text, /\n\n/, 'no blank lines')
  const plain = await (await request(`${p.adminUrl}/metrics`)).body.text()
  t.notMatch(plain, /trace_id=/, 'the Prometheus text format has none')
  t.match(plain, /# TYPE strangler_requests_total counter/)
})

t.test('a real Prometheus scrapes the OpenMetrics exposition and keeps the exemplars', async (t) => {
  const missing = prometheusMissing()
  if (missing !== undefined) {
    if (process.env.STRANGLER_REQUIRE_PROMETHEUS === '1') throw new Error(missing)
    t.pass('exemplars in Prometheus', { skip: missing })
    return
  }
  const otlp = await receiver(t)
  const legacy = await startUpstream(t, 'legacy')
  const p = await startProxy(t, `listen: { host: 127.0.0.1 }\nbackends:\n  legacy: { url: "${legacy.url}" }\nroutes:\n  - { name: all, match: { path: /* }, backend: legacy }\n`, { env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url } })
  const prom = await startPrometheus(t, [new URL(p.adminUrl).host], { args: ['--enable-feature=exemplar-storage'] })
  for (let i = 0; i < 20; i++) await (await request(`${p.url}/x`, { headers: { traceparent: `00-${TRACE}-${PARENT}-01` } })).body.dump()
  let exemplars: Array<{ exemplars: Array<{ labels: { trace_id: string } }> }> = []
  const end = Date.now() + 10_000
  while (exemplars.length === 0 && Date.now() < end) {
    await sleep(500)
    const now = Date.now() / 1000
    const res = await request(`${prom.api}/api/v1/query_exemplars?query=strangler_request_duration_seconds_bucket&start=${now - 60}&end=${now}`)
    exemplars = ((await res.body.json()) as { data?: typeof exemplars }).data ?? []
  }
  t.equal(exemplars[0]?.exemplars[0]?.labels.trace_id, TRACE, 'Prometheus stored the trace id')
  const requests = await prom.query('sum(strangler_requests_total{route="all"})')
  t.equal(Number(requests.data?.result[0]?.value[1]), 20, 'and parsed the counters')
})

t.test('failover is two client spans; a shadow copy is its own span linked to the request', async (t) => {
  const otlp = await receiver(t)
  const legacy = await startUpstream(t, 'legacy')
  const down = `http://127.0.0.1:${await closedPort()}`
  // Without the guard: django is down on purpose, and every request must fail over.
  const p = await startProxy(t, flaggedYaml(legacy.url, down, 'guard: false').replace('  - { name: default, match: { path: /* }, backend: legacy }', `  - { name: default, match: { path: /* }, backend: legacy, shadow: { backend: django } }`), {
    files: { 'flags.json': flagsJson([{ name: 'orders-on-django', enabled: true, strategies: [rollout(100)] }]) },
    env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${otlp.url}/v1/traces` }
  })
  await (await request(`${p.url}/api/orders/1`, { headers: { 'x-user-id': 'u1' } })).body.dump()
  await until(() => otlp.spans.length >= 3, 5000)
  const server = otlp.spans.find((s) => s.kind === SERVER)
  const attempts = otlp.spans.filter((s) => s.kind === CLIENT && s.parentSpanId === server?.spanId)
  t.same(attempts.map((s) => [attr(s, 'strangler.backend'), attr(s, 'error.type') ?? null, attr(s, 'http.request.resend_count')]), [['django', 'connect_refused', 0], ['legacy', null, 1]], 'the failed attempt, then the baseline')
  t.equal(attempts[0]?.status?.code, 2, 'the failed attempt is an error')
  t.equal(attr(server, 'strangler.reason'), 'failover')

  otlp.spans.length = 0
  await (await request(`${p.url}/other`)).body.dump()
  await until(() => otlp.spans.some((s) => attr(s, 'strangler.shadow') === true), 5000)
  const request2 = otlp.spans.find((s) => s.kind === SERVER)
  const shadow = otlp.spans.find((s) => attr(s, 'strangler.shadow') === true)
  t.equal(shadow?.name, 'GET shadow')
  t.not(shadow?.traceId, request2?.traceId, 'a trace of its own')
  t.match(shadow?.links, [{ traceId: request2?.traceId, spanId: request2?.spanId }], 'linked to the request')
  t.equal(shadow?.status?.code, 2, 'the shadow backend is down: an error on its span only')
})

t.test('sampling off: no spans, the client\'s traceparent passes through unchanged', async (t) => {
  const otlp = await receiver(t)
  const legacy = await startUpstream(t, 'legacy')
  const p = await startProxy(t, `listen: { host: 127.0.0.1 }\nbackends:\n  legacy: { url: "${legacy.url}" }\nroutes:\n  - { name: all, match: { path: /* }, backend: legacy }\n`, {
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_TRACES_SAMPLER: 'always_off' }
  })
  for (let i = 0; i < 20; i++) await (await request(`${p.url}/x`, { headers: { traceparent: `00-${TRACE}-${PARENT}-01` } })).body.dump()
  await sleep(1500)
  t.equal(otlp.spans.length, 0, 'no spans')
  t.equal(legacy.seen[0]?.headers.traceparent, `00-${TRACE}-${PARENT}-01`)
  t.notOk('traceId' in (accessLines(p.logs)[0] ?? {}), 'no ids in the log')
})

t.test('tracing off by default; a dead collector costs traffic nothing and is counted', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const yaml = `listen: { host: 127.0.0.1 }\nbackends:\n  legacy: { url: "${legacy.url}" }\nroutes:\n  - { name: all, match: { path: /* }, backend: legacy }\n`
  const off = await startProxy(t, yaml)
  t.equal(off.runtime.tracing, undefined, 'no tracer without an endpoint')
  const dead = await startProxy(t, yaml.replace('routes:', `tracing: { endpoint: "http://127.0.0.1:${await closedPort()}/v1/traces" }\nroutes:`))
  const started = performance.now()
  for (let i = 0; i < 200; i++) {
    const res = await request(`${dead.url}/x`)
    await res.body.dump()
    t.equal(res.statusCode, 200)
  }
  t.ok(performance.now() - started < 10_000, 'served as usual')
  const metric = async (p: TestProxy): Promise<number> => Number(/strangler_tracing_dropped_spans_total (\d+)/.exec(await (await request(`${p.adminUrl}/metrics`)).body.text())?.[1] ?? -1)
  let lost = 0
  const end = Date.now() + 8000
  while (lost === 0 && Date.now() < end) { await sleep(250); lost = await metric(dead) }
  t.ok(lost > 0, `${lost} spans counted as lost`)
  t.equal(await metric(off), 0)
})

t.test('a 10 % ratio samples about a tenth of new traces, and a sampled parent is always followed', async (t) => {
  const otlp = await receiver(t)
  const legacy = await startUpstream(t, 'legacy')
  const p = await startProxy(t, `listen: { host: 127.0.0.1 }\nbackends:\n  legacy: { url: "${legacy.url}" }\nroutes:\n  - { name: all, match: { path: /* }, backend: legacy }\n`, {
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.1' }
  })
  for (let i = 0; i < 1000; i++) await (await request(`${p.url}/x`)).body.dump()
  for (let i = 0; i < 10; i++) await (await request(`${p.url}/x`, { headers: { traceparent: `00-${TRACE}-${PARENT}-01` } })).body.dump()
  await until(() => otlp.spans.filter((s) => s.traceId === TRACE && s.kind === SERVER).length >= 10, 5000)
  await sleep(1500)
  const roots = otlp.spans.filter((s) => s.kind === SERVER && s.traceId !== TRACE).length
  t.ok(roots > 50 && roots < 150, `${roots} of 1,000 new traces sampled at 10 %`)
  t.equal(otlp.spans.filter((s) => s.kind === SERVER && s.traceId === TRACE).length, 10, 'every request with a sampled parent')
})

t.test('a junk or all-zero traceparent cannot force sampling; credentials in the query never reach url.full', async (t) => {
  const otlp = await receiver(t)
  const legacy = await startUpstream(t, 'legacy')
  const p = await startProxy(t, `listen: { host: 127.0.0.1 }\nbackends:\n  legacy: { url: "${legacy.url}" }\ntracing: { redactQuery: [Session] }\nroutes:\n  - { name: all, match: { path: /* }, backend: legacy }\n`, {
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.01' }
  })
  const junk = ['junk', `00-${'0'.repeat(32)}-${PARENT}-01`, `00-${TRACE}-${'0'.repeat(16)}-01`, `ff-${TRACE}-${PARENT}-01`]
  for (let i = 0; i < 400; i++) await (await request(`${p.url}/x`, { headers: { traceparent: junk[i % junk.length] as string } })).body.dump()
  await sleep(1500)
  const roots = otlp.spans.filter((s) => s.kind === SERVER).length
  t.ok(roots < 20, `${roots} of 400 requests with a malformed traceparent sampled at 1 % (every one was, before)`)

  // A sampled parent is followed, so this one is traced: its query is what matters.
  await (await request(`${p.url}/callback?access_token=abc123&page=2&Token=t0k&session=s355&SIGNATURE=x`, { headers: { traceparent: `00-${TRACE}-${PARENT}-01` } })).body.dump()
  await until(() => otlp.spans.some((s) => s.traceId === TRACE && s.kind === CLIENT), 5000)
  const url = String(attr(otlp.spans.find((s) => s.traceId === TRACE && s.kind === CLIENT), 'url.full'))
  t.match(url, /\/callback\?access_token=REDACTED&page=2&Token=REDACTED&session=REDACTED&SIGNATURE=REDACTED$/, `url.full: ${url}`)
  t.notMatch(JSON.stringify(otlp.spans), /abc123|t0k|s355/, 'no span holds the values')
})

t.test('the identity bridge\'s question to legacy is a client span of the request', async (t) => {
  const otlp = await receiver(t)
  const { generateKeyPairSync } = await import('node:crypto')
  let failing = false
  const legacy = await startUpstream(t, 'legacy', (req, res) => {
    if (req.url !== '/whoami') return void res.writeHead(200).end('{}')
    if (failing) return void res.writeHead(500).end()
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"sub":"alice"}')
  })
  const django = await startUpstream(t, 'django')
  const p = await startProxy(t, `listen: { host: 127.0.0.1 }
backends:
  legacy: { url: "${legacy.url}", legacy: true }
  django: { url: "${django.url}" }
identity:
  resolve: { url: "${legacy.url}/whoami" }
  session: { cookie: sid }
  token: { keyFile: identity.pem, backends: [django] }
routes:
  - { name: me, match: { path: /me }, backend: django }
`, {
    files: { 'identity.pem': generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }) as string },
    env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${otlp.url}/v1/traces` }
  })
  await (await request(`${p.url}/me`, { headers: { cookie: 'sid=s1' } })).body.dump()
  await until(() => otlp.spans.filter((s) => s.kind === CLIENT).length >= 2, 5000)
  const server = otlp.spans.find((s) => s.kind === SERVER)
  const lookup = otlp.spans.find((s) => attr(s, 'strangler.identity') === true)
  t.equal(lookup?.name, 'GET identity')
  t.equal(lookup?.kind, CLIENT)
  t.equal(lookup?.parentSpanId, server?.spanId, 'a child of the request\'s span')
  t.equal(attr(lookup, 'url.full'), `${legacy.url}/whoami`)

  otlp.spans.length = 0
  await (await request(`${p.url}/me`, { headers: { cookie: 'sid=s1' } })).body.dump()
  await until(() => otlp.spans.some((s) => s.kind === SERVER), 5000)
  t.notOk(otlp.spans.some((s) => attr(s, 'strangler.identity') === true), 'a cached answer asks nobody: no span')

  failing = true
  otlp.spans.length = 0
  await (await request(`${p.url}/me`, { headers: { cookie: 'sid=s2' } })).body.dump()
  await until(() => otlp.spans.some((s) => attr(s, 'strangler.identity') === true), 5000)
  const failed = otlp.spans.find((s) => attr(s, 'strangler.identity') === true)
  t.equal(attr(failed, 'error.type'), 'identity_unavailable', 'a failed lookup is an error on its span')
})

t.test('at shutdown the last spans are handed over and the proxy stops without waiting out the export deadline', async (t) => {
  const otlp = await receiver(t)
  const legacy = await startUpstream(t, 'legacy')
  const p = await startProxy(t, `listen: { host: 127.0.0.1 }\nbackends:\n  legacy: { url: "${legacy.url}" }\nroutes:\n  - { name: all, match: { path: /* }, backend: legacy }\n`, { env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url } })
  for (let i = 0; i < 3; i++) await (await request(`${p.url}/x`)).body.dump()
  // Well inside the batch's 1 s delay: only the shutdown's flush can deliver them.
  await p.shutdown('test')
  t.equal(otlp.spans.filter((s) => s.kind === SERVER).length, 3, 'the three server spans reached the collector')
  t.notOk(p.logs.some((l) => String(l.msg).startsWith('tracing: the last spans were not handed')), 'the exporter shut down; nothing waited out the 5 s')
})
