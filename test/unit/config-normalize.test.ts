/**
 * What routes.yaml becomes: every key reaches the config with its unit parsed, every
 * key left out takes the default docs/routes-yaml.md states, and every rule the schema
 * cannot express names its field, line and column. Expected values are literals
 * written from the docs, not read from DEFAULTS.
 */
import t from 'tap'
import { METHODS } from 'node:http'
import { parseConfig } from '../../src/config/config.js'
import { ConfigError, formatProblem } from '../../src/errors.js'

const FILE = '/srv/spx/routes.yaml'

/** Maps as objects and Sets as arrays, so a literal can state the whole config. */
function plain (v: unknown): unknown {
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [k, plain(x)]))
  if (v instanceof Set) return [...v].map(plain)
  if (Array.isArray(v)) return v.map(plain)
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]))
  return v
}

function problems (yaml: string): string[] {
  try {
    parseConfig(yaml, FILE)
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map(formatProblem).map((p) => p.slice(FILE.length + 1))
    throw err
  }
  return []
}

/** Every nested object and array frozen: a reload swaps configs, nobody edits one. */
function deeplyFrozen (v: unknown, path = 'config'): string[] {
  if (v === null || typeof v !== 'object' || v instanceof Map || v instanceof Set) return []
  const here = Object.isFrozen(v) ? [] : [path]
  return [...here, ...Object.entries(v).flatMap(([k, x]) => deeplyFrozen(x, `${path}.${k}`))]
}

const BACKENDS = `backends:
  legacy: { url: "http://127.0.0.1:8000" }
  django: { url: "http://127.0.0.1:8001" }
`
const DEFAULT_ROUTE = '  - { name: default, match: { path: /* }, backend: legacy }\n'

t.test('every key set in the file reaches the config, units parsed, names lower-cased', async (t) => {
  const config = parseConfig(`listen: { host: 127.0.0.1, port: 9000 }
admin: { host: 127.0.0.2, port: 9001, allowedHosts: [Proxy.Internal], operators: [{ name: alice, role: operator, tokenHashEnv: SPX_TOKEN_ALICE }] }
client:
  headersTimeout: 2s
  requestTimeout: 3s
  keepAliveTimeout: 4s
  maxHeaderSize: 8kb
  maxUrlLength: 2kib
  maxBodySize: 1mb
  maxHeaderCount: 50
  sendTimeout: 6s
  trustedProxies: [10.0.0.0/8, loopback]
  realIpHeader: X-Client-IP
shutdown: { timeout: 7s }
guard: { window: 20s, minRequests: 7, cooldown: 9s }
backends:
  legacy: { url: "http://127.0.0.1:8000", legacy: true, preserveHost: false, timeouts: { connect: 1s, headers: 2s, bodyIdle: 3s }, pool: { connections: 9, keepAliveTimeout: 2s } }
  django: { url: "https://django.internal:8443/app/", timeout: 12s }
flags:
  file: flags.yaml
  unleash: { url: "http://unleash:4242/api", appName: shop, environment: production, projectName: migration, refreshInterval: 2s, timeout: 3s, backupDir: state, metrics: { enabled: false, interval: 30s } }
cohort:
  userId: [{ jwt: sub }, { header: x-user-id }]
  sessionId: { cookie: sid }
  properties: { tenant: { header: x-tenant } }
  jwt: { header: x-token, cookie: tok, secretEnv: JWT_SECRET, issuer: shop, audience: web, requireExp: false }
  sessionCookie: { name: s, maxAge: 1h, secure: true, sameSite: strict }
override: { header: x-ovr, cookie: ovr }
ramps: { driver: fleet, prometheus: "http://prom:9090", interval: 2s, timeout: 1500ms, stallAfter: 5m, alerts: { RampBreaker: stepBack }, replicas: { dns: "spx-admin.shop.svc:8081" } }
evidence: { period: 30s, perAddress: 100, perUser: 40 }
retirement: { after: 1d, legacyQuietFor: 2h, minParity: 0.99, maxErrorRatioIncrease: 0.01, maxLatencyRatio: 1.1 }
inventory: { maxTemplates: 10 }
timeline: { impactDelay: 1m, maxFileSize: 1mb, parityThreshold: 0.9 }
notify: [{ url: "https://hooks.example/x", kinds: [guard_tripped, ramp_transition], secretEnv: HOOK_SECRET, timeout: 2s, damping: 30s }]
tracing: { serviceName: spx, ratio: 0.5, sampler: traceidratio, endpoint: "http://jaeger:4318", redactQuery: [session] }
routes:
  - name: orders
    match: { path: /api/orders/*, methods: [get, Post], host: Shop.Example, headers: { X-Beta: "1" } }
    backend: legacy
    rewrite: { stripPrefix: /api }
    maxBodySize: 2mb
    websocket: false
    failover: false
    flag: { name: orders-on-django, backend: django }
    guard: { minRequests: 30, disableFlag: true, maxClientShare: 0.5, maxErrorRatioIncrease: 0.1, maxLatencyRatio: 3, minLatencyIncrease: 80ms, probeFraction: 0.3, probeRequests: 6, minClients: 2 }
    ramp: { steps: [5, 50, 100], hold: 10s, minRequests: 10, minComparisons: 5, minUsers: 4, minAddresses: 2, minFailingClients: 2, gates: { maxErrorRatioIncrease: 0.02, maxClientErrorRatioIncrease: 0.1, maxLatencyRatio: 2, minLatencyIncrease: 20ms, minParity: 0.9, queries: [{ name: orders, query: 'sum(x{route="{{route}}"})', compare: absolute, max: 5, window: 1m }] }, approve: [50, { step: 100, approvers: 2 }], windows: [{ days: [mon, fri, mon], from: "09:00", to: "24:00", timeZone: Europe/Berlin }], onFail: abort, maxFailures: 2, dryRun: true }
    shadow: { backend: django, sampleRate: 0.5, methods: [get, post], maxBodySize: 64kb, maxConcurrent: 4, timeout: 2s, learnNoise: true, recordValues: true, compare: { headers: [Content-Type, ETag], ignore: [$.id], unorderedArrays: [$.items], text: whitespace } }
  - name: checkout
    match: { path: /checkout/* }
    backend: legacy
    flag: { name: checkout-variants, variants: { blue: django, red: legacy } }
    guard: false
  - name: search
    match: { path: /search }
    backend: legacy
    flag: { name: search-on-django, backend: django }
${DEFAULT_ROUTE}coverage: { declared: { legacy: { openapi: "http://legacy:8000/openapi.yaml" }, django: { list: declared.txt } }, unusedAfter: 10d }
`, FILE)
  t.strictSame(deeplyFrozen(config), [], 'nothing in it can be changed')
  t.match(config.version, /^[0-9a-f]{12}$/)
  t.strictSame(plain({ ...config, version: 'v' }), {
    file: FILE,
    version: 'v',
    listen: { host: '127.0.0.1', port: 9000 },
    admin: { host: '127.0.0.2', port: 9001, allowedHosts: ['proxy.internal'], operators: [{ name: 'alice', role: 'operator', tokenHashEnv: 'SPX_TOKEN_ALICE' }] },
    client: { headersTimeout: 2000, requestTimeout: 3000, keepAliveTimeout: 4000, maxHeaderSize: 8000, maxUrlLength: 2048, maxBodySize: 1_000_000, maxHeaderCount: 50, sendTimeout: 6000, trustedProxies: ['10.0.0.0/8', 'loopback'], realIpHeader: 'x-client-ip' },
    shutdown: { timeout: 7000 },
    // The older flags.unleash.backupDir names the state directory when state.dir is not set.
    state: { dir: '/srv/spx/state' },
    backends: {
      legacy: { name: 'legacy', origin: 'http://127.0.0.1:8000', basePath: '', host: '127.0.0.1:8000', timeouts: { connect: 1000, headers: 2000, bodyIdle: 3000 }, pool: { connections: 9, keepAliveTimeout: 2000 }, preserveHost: false, legacy: true },
      django: { name: 'django', origin: 'https://django.internal:8443', basePath: '/app', host: 'django.internal:8443', timeouts: { connect: 5000, headers: 12_000, bodyIdle: 30_000 }, pool: { connections: 128, keepAliveTimeout: 4000 }, preserveHost: true, legacy: false }
    },
    routes: [
      {
        name: 'orders',
        index: 0,
        line: 37,
        match: { path: '/api/orders/*', methods: ['GET', 'POST'], host: 'shop.example', headers: { 'x-beta': '1' } },
        backend: 'legacy',
        rewrite: { stripPrefix: '/api' },
        maxBodySize: 2_000_000,
        websocket: false,
        failover: false,
        shadow: { backend: 'django', sampleRate: 0.5, methods: ['GET', 'POST'], maxBodySize: 64_000, maxConcurrent: 4, timeout: 2000, learnNoise: true, recordValues: true, compare: { headers: ['content-type', 'etag'], ignore: ['$.id'], unordered: ['$.items'], text: 'whitespace', errorBodies: false } },
        // The route's guard keys over the top-level guard's over the defaults.
        guard: { window: 20_000, minRequests: 30, maxErrorRatioIncrease: 0.1, maxLatencyRatio: 3, minLatencyIncrease: 80, cooldown: 9000, probeFraction: 0.3, probeRequests: 6, minClients: 2, maxClientShare: 0.5, disableFlag: true },
        flag: { name: 'orders-on-django', backend: 'django', variants: undefined },
        ramp: { steps: [5, 50, 100], hold: 10_000, minRequests: 10, minComparisons: 5, minUsers: 4, minAddresses: 2, minFailingClients: 2, gates: { maxErrorRatioIncrease: 0.02, maxClientErrorRatioIncrease: 0.1, maxLatencyRatio: 2, minLatencyIncrease: 20, minParity: 0.9, queries: [{ name: 'orders', query: 'sum(x{route="{{route}}"})', compare: 'absolute', max: 5, min: undefined, window: 60_000 }], checks: [] }, approve: [50, 100], approvers: { 100: 2 }, windows: [{ days: ['mon', 'fri'], from: 540, to: 1440, timeZone: 'Europe/Berlin' }], onFail: 'abort', maxFailures: 2, dryRun: true }
      },
      { name: 'checkout', index: 1, line: 48, match: { path: '/checkout/*' }, backend: 'legacy', maxBodySize: 1_000_000, websocket: true, failover: true, shadow: undefined, guard: undefined, flag: { name: 'checkout-variants', backend: undefined, variants: { blue: 'django', red: 'legacy' } }, ramp: undefined },
      // Only the top-level guard: its keys, the rest defaults.
      { name: 'search', index: 2, line: 53, match: { path: '/search' }, backend: 'legacy', maxBodySize: 1_000_000, websocket: true, failover: true, shadow: undefined, guard: { window: 20_000, minRequests: 7, maxErrorRatioIncrease: 0.01, maxLatencyRatio: 2, minLatencyIncrease: 25, cooldown: 9000, probeFraction: 0.1, probeRequests: 20, minClients: 5, maxClientShare: 0.2, disableFlag: false }, flag: { name: 'search-on-django', backend: 'django', variants: undefined }, ramp: undefined },
      { name: 'default', index: 3, line: 57, match: { path: '/*' }, backend: 'legacy', maxBodySize: 1_000_000, websocket: true, failover: true, shadow: undefined, guard: undefined, flag: undefined, ramp: undefined }
    ],
    flags: { file: '/srv/spx/flags.yaml', unleash: { url: 'http://unleash:4242/api', appName: 'shop', environment: 'production', projectName: 'migration', refreshInterval: 2000, timeout: 3000, metrics: { enabled: false, interval: 30_000 } } },
    cohort: {
      userId: [{ jwt: 'sub' }, { header: 'x-user-id' }],
      sessionId: [{ cookie: 'sid' }],
      properties: { tenant: [{ header: 'x-tenant' }] },
      jwt: { header: 'x-token', cookie: 'tok', secretEnv: 'JWT_SECRET', publicKeyFile: undefined, algorithms: ['HS256'], issuer: 'shop', audience: 'web', requireExp: false },
      sessionCookie: { name: 's', maxAge: 3_600_000, secure: true, sameSite: 'strict' }
    },
    override: { header: 'x-ovr', cookie: 'ovr' },
    ramps: { driver: 'fleet', prometheus: 'http://prom:9090', interval: 2000, timeout: 1500, stallAfter: 300_000, alerts: { RampBreaker: 'stepBack' }, replicas: { dns: { host: 'spx-admin.shop.svc', port: 8081 } } },
    evidence: { period: 30_000, perAddress: 100, perUser: 40 },
    tracing: { serviceName: 'spx', ratio: 0.5, sampler: 'traceidratio', endpoint: 'http://jaeger:4318', redactQuery: ['session'] },
    retirement: { after: 86_400_000, legacyQuietFor: 7_200_000, minParity: 0.99, maxErrorRatioIncrease: 0.01, maxLatencyRatio: 1.1 },
    inventory: { maxTemplates: 10 },
    coverage: { declared: { legacy: { kind: 'openapi', location: 'http://legacy:8000/openapi.yaml' }, django: { kind: 'list', location: '/srv/spx/declared.txt' } }, unusedAfter: 864_000_000 },
    timeline: { impactDelay: 60_000, maxFileSize: 1_000_000, parityThreshold: 0.9 },
    notify: [{ url: 'https://hooks.example/x', kinds: ['guard_tripped', 'ramp_transition'], secretEnv: 'HOOK_SECRET', timeout: 2000, damping: 30_000 }],
    identity: undefined
  })
})

t.test('every key left out takes the default docs/routes-yaml.md states', async (t) => {
  const config = parseConfig(`${BACKENDS}flags: { unleash: { url: "http://unleash:4242/api" } }
cohort:
  jwt: { publicKeyFile: keys/jwt.pem }
  sessionCookie: {}
routes:
  - { name: orders, match: { path: /api/orders/* }, backend: legacy, flag: { name: f, backend: django }, ramp: { steps: [10, 100] }, shadow: { backend: django } }
${DEFAULT_ROUTE}`, FILE)
  t.strictSame(deeplyFrozen(config), [])
  const { routes, backends, ...rest } = plain(config) as Record<string, unknown>
  t.strictSame({ ...rest, version: 'v' }, {
    file: FILE,
    version: 'v',
    listen: { host: '0.0.0.0', port: 8080 },
    admin: { host: '127.0.0.1', port: 8081, allowedHosts: [], operators: [] },
    client: { headersTimeout: 10_000, requestTimeout: 60_000, keepAliveTimeout: 5000, maxHeaderSize: 16_384, maxUrlLength: 8192, maxBodySize: 10_485_760, maxHeaderCount: 200, sendTimeout: 30_000, trustedProxies: [], realIpHeader: 'x-real-ip' },
    shutdown: { timeout: 30_000 },
    state: { dir: undefined },
    flags: { file: undefined, unleash: { url: 'http://unleash:4242/api', appName: 'strangler-proxy', environment: 'default', projectName: undefined, refreshInterval: 10_000, timeout: 5000, metrics: { enabled: true, interval: 60_000 } } },
    cohort: {
      userId: [],
      sessionId: [],
      properties: {},
      // A public key file means asymmetric algorithms unless the file says otherwise.
      jwt: { header: 'authorization', cookie: undefined, secretEnv: undefined, publicKeyFile: '/srv/spx/keys/jwt.pem', algorithms: ['RS256', 'ES256'], issuer: undefined, audience: undefined, requireExp: true },
      sessionCookie: { name: 'spx_sid', maxAge: 365 * 86_400_000, secure: false, sameSite: 'lax' }
    },
    override: { header: 'x-strangler-override', cookie: 'spx_override' },
    ramps: { driver: 'proxy', prometheus: undefined, interval: 1000, timeout: 800, stallAfter: 900_000, alerts: {}, replicas: undefined },
    evidence: { period: 60_000, perAddress: 60, perUser: 30 },
    tracing: undefined,
    retirement: { after: 7 * 86_400_000, legacyQuietFor: 86_400_000, minParity: 0.999, maxErrorRatioIncrease: 0.005, maxLatencyRatio: 1.2 },
    inventory: { maxTemplates: 500 },
    coverage: undefined,
    timeline: { impactDelay: 300_000, maxFileSize: 10_485_760, parityThreshold: 0.99 },
    notify: [],
    identity: undefined
  })
  const backend = { basePath: '', timeouts: { connect: 5000, headers: 30_000, bodyIdle: 30_000 }, pool: { connections: 128, keepAliveTimeout: 4000 }, preserveHost: true, legacy: false }
  t.strictSame(backends, {
    legacy: { name: 'legacy', origin: 'http://127.0.0.1:8000', host: '127.0.0.1:8000', ...backend },
    django: { name: 'django', origin: 'http://127.0.0.1:8001', host: '127.0.0.1:8001', ...backend }
  })
  t.strictSame(routes, [
    {
      name: 'orders',
      index: 0,
      line: 9,
      match: { path: '/api/orders/*' },
      backend: 'legacy',
      maxBodySize: 10_485_760,
      websocket: true,
      failover: true,
      shadow: { backend: 'django', sampleRate: 1, methods: ['GET', 'HEAD'], maxBodySize: 262_144, maxConcurrent: 32, timeout: 5000, learnNoise: false, recordValues: false, compare: { headers: ['content-type'], ignore: [], unordered: [], text: 'exact', errorBodies: false } },
      guard: { window: 60_000, minRequests: 20, maxErrorRatioIncrease: 0.01, maxLatencyRatio: 2, minLatencyIncrease: 25, cooldown: 60_000, probeFraction: 0.1, probeRequests: 20, minClients: 5, maxClientShare: 0.2, disableFlag: false },
      flag: { name: 'f', backend: 'django', variants: undefined },
      ramp: { steps: [10, 100], hold: 1_800_000, minRequests: 500, minComparisons: 50, minUsers: 10, minAddresses: 3, minFailingClients: 3, gates: { maxErrorRatioIncrease: 0.01, maxClientErrorRatioIncrease: 0.05, maxLatencyRatio: 1.5, minLatencyIncrease: 50, minParity: 0.995, queries: [], checks: [] }, approve: [], approvers: {}, windows: [], onFail: 'stepBack', maxFailures: 3, dryRun: false }
    },
    { name: 'default', index: 1, line: 10, match: { path: '/*' }, backend: 'legacy', maxBodySize: 10_485_760, websocket: true, failover: true, shadow: undefined, guard: undefined, flag: undefined, ramp: undefined }
  ])
})

t.test('no session cookie, no real-IP header, no guard anywhere: each said with false', async (t) => {
  const config = parseConfig(`${BACKENDS}client: { realIpHeader: false }
flags: { file: flags.yaml }
guard: false
cohort: { sessionCookie: false }
routes:
  - { name: orders, match: { path: /api/* }, backend: legacy, flag: { name: f, backend: django }, guard: { minRequests: 5 } }
${DEFAULT_ROUTE}`, FILE)
  t.equal(config.client.realIpHeader, undefined)
  t.equal(config.cohort.sessionCookie, undefined)
  t.equal(config.cohort.jwt, undefined)
  t.equal(config.routes[0]?.guard, undefined, 'guard: false at the top wins over a route\'s guard')
  t.equal(config.flags?.file, '/srv/spx/flags.yaml')
  t.equal(config.flags?.unleash, undefined)
})

t.test('match methods: every method Node\'s HTTP parser knows, and nothing else', async (t) => {
  t.strictSame(problems(`${BACKENDS}routes:
  - { name: all, match: { path: /a/*, methods: [${METHODS.join(', ')}] }, backend: legacy }
${DEFAULT_ROUTE}`), [])
  t.strictSame(problems(`${BACKENDS}routes:
  - { name: odd, match: { path: /a/*, methods: [GET, FETCH, get] }, backend: legacy, shadow: { backend: django, methods: [get, m-search, peek] } }
${DEFAULT_ROUTE}`), [
    '5:54: routes[0].match.methods[1]: unknown HTTP method "FETCH"',
    '5:138: routes[0].shadow.methods[2]: unknown HTTP method "peek"'
  ])
})

const R = (route: string): string => `${BACKENDS}flags: { file: flags.yaml }\nroutes:\n  - ${route}\n${DEFAULT_ROUTE}`

/** Where a problem points: the line, and the text on it that starts there. */
type At = [line: number, text: string, message: string]

const cases: Array<[string, string, At[]]> = [
  ['ramp queries and checks: templates, limits, URLs, JSON paths, and a Prometheus to ask', `${BACKENDS}flags: { file: flags.yaml }
routes:
  - name: a
    match: { path: /a/* }
    backend: legacy
    flag: { name: f, backend: django }
    ramp:
      steps: [10, 100]
      gates:
        queries:
          - { name: q1, query: 'x{r={{route}}}', max: 1 }
          - { name: q2, query: 'x' }
          - { name: q3, query: 'x', min: 2, max: 1 }
        checks:
          - { name: c1, url: "ftp://h/x", expect: { json: { "$.a.b[0]": 1, "a.b": 2, "$..x": 3, "$.a[x]": 4 } } }
          - { name: c2, url: "not a url" }
${DEFAULT_ROUTE}`, [
    [14, "'x{r={{route}}}'", 'routes[0].ramp.gates.queries[0].query: {{route}} holds a name from routes.yaml: use it inside double quotes, as backend="{{route}}"'],
    [15, '{ name: q2', 'routes[0].ramp.gates.queries[1]: name max, min or both: the limits the value must stay within'],
    [16, '2, max', 'routes[0].ramp.gates.queries[2].min: is above max (1)'],
    [18, '"ftp://h/x"', 'routes[0].ramp.gates.checks[0].url: "ftp://h/x" is not an http(s) URL'],
    [18, '2, "$..x"', 'routes[0].ramp.gates.checks[0].expect.json.a.b: a path is $ followed by .field and [index] steps, as $.order.lines[0].sku'],
    [18, '3, "$.a[x]"', 'routes[0].ramp.gates.checks[0].expect.json.$..x: a path is $ followed by .field and [index] steps, as $.order.lines[0].sku'],
    [18, '4 } }', 'routes[0].ramp.gates.checks[0].expect.json.$.a[x]: a path is $ followed by .field and [index] steps, as $.order.lines[0].sku'],
    [19, '"not a url"', 'routes[0].ramp.gates.checks[1].url: "not a url" is not an http(s) URL'],
    [14, '- { name: q1', 'routes[0].ramp.gates.queries: PromQL gates need ramps.prometheus: the Prometheus that scrapes the proxy and the backends']
  ]],
  ['decline needs a flag; retire dates and links; Unleash metrics at most once a second', `${BACKENDS}flags: { unleash: { url: "http://unleash:4242/api", metrics: { interval: 500ms } } }
routes:
  - { name: a, match: { path: /a/* }, backend: django, decline: { status: [404] } }
  - { name: b, match: { path: /b/* }, backend: legacy, retire: { deprecation: "2027-13-40", sunset: "next year" } }
  - { name: c, match: { path: /c/* }, backend: legacy, retire: { deprecation: "2027-06-01", sunset: "2027-05-01", link: "ftp://x" } }
  - { name: d, match: { path: /d/* }, backend: legacy, retire: { deprecation: "2027-06-01", sunset: "2027-06-01T00:00:00Z", link: "https://docs.example/retired" } }
${DEFAULT_ROUTE}`, [
    [6, '{ status', 'routes[0].decline: needs a flag: only a new backend declines, to the route\'s baseline'],
    [7, '"2027-13-40"', 'routes[1].retire.deprecation: "2027-13-40" is not a date such as 2027-03-31 or 2027-03-31T00:00:00Z'],
    [7, '"next year"', 'routes[1].retire.sunset: "next year" is not a date such as 2027-03-31 or 2027-03-31T00:00:00Z'],
    [8, '"2027-05-01"', 'routes[2].retire.sunset: is before the deprecation'],
    [8, '"ftp://x"', 'routes[2].retire.link: "ftp://x" is not an http(s) URL'],
    [4, '500ms', 'flags.unleash.metrics.interval: must be at least 1s']
  ]],
  ['a size the schema lets through but no unit matches', `${BACKENDS}client: { maxBodySize: 5k, maxHeaderSize: 99999999999999999999, maxUrlLength: 2m }
timeline: { maxFileSize: 9g }
routes:
  - { name: r, match: { path: /r/* }, backend: legacy, maxBodySize: 3k, shadow: { backend: django, maxBodySize: 4k } }
${DEFAULT_ROUTE}`, [
    [4, '99999999999999999999', 'client.maxHeaderSize: must be a size, e.g. 1048576, 512kb, 10mb'],
    [4, '2m', 'client.maxUrlLength: must be a size, e.g. 1048576, 512kb, 10mb'],
    [4, '5k', 'client.maxBodySize: must be a size, e.g. 1048576, 512kb, 10mb'],
    [7, '3k', 'routes[0].maxBodySize: must be a size, e.g. 1048576, 512kb, 10mb'],
    [7, '4k', 'routes[0].shadow.maxBodySize: must be a size, e.g. 1048576, 512kb, 10mb'],
    [5, '9g', 'timeline.maxFileSize: must be a size, e.g. 1048576, 512kb, 10mb']
  ]],
  ['limits at their boundaries are accepted', `${BACKENDS}client: { headersTimeout: 60s, requestTimeout: 60s }
flags: { unleash: { url: "https://token@unleash.example/api", timeout: 1s } }
ramps: { driver: fleet, prometheus: "https://prom.example", interval: 100ms }
notify: [{ url: "http://hooks.example/x" }]
routes:
  - { name: a, match: { path: /a/* }, backend: legacy, flag: { name: f, backend: django }, ramp: { steps: [1, 100], hold: 1s } }
${DEFAULT_ROUTE}`, [
    [5, '"https://token@', 'flags.unleash.url: must not carry credentials; the token comes from UNLEASH_API_TOKEN']
  ]],
  ['no request timeout (0s): any headersTimeout; a fleet driver without ramps needs nothing', `${BACKENDS}client: { headersTimeout: 61s, requestTimeout: 0s }\nramps: { driver: fleet }\nroutes:\n${DEFAULT_ROUTE}`, []],
  ['backend URLs: not a URL, a scheme, credentials, a query, a fragment', `backends:
  a: { url: "not a url" }
  b: { url: "ftp://h" }
  c: { url: "http://u:p@h" }
  d: { url: "http://h/?q=1" }
  e: { url: "http://h/#top" }
  f: { url: "http://h", timeout: 5s, timeouts: { headers: 5s } }
routes:
  - { name: default, match: { path: /* }, backend: a }
`, [
    [2, '"not a url"', 'backends.a.url: "not a url" is not a valid URL'],
    [3, '"ftp://h"', 'backends.b.url: scheme must be http or https, got "ftp"'],
    [4, '"http://u:p@h"', 'backends.c.url: must not carry credentials; routes.yaml holds no secrets'],
    [5, '"http://h/?q=1"', 'backends.d.url: must not have a query or fragment'],
    [6, '"http://h/#top"', 'backends.e.url: must not have a query or fragment'],
    [7, '5s', 'backends.f.timeout: set either timeout or timeouts.headers, not both']
  ]],
  ['trusted proxies: names, not addresses, are refused', `${BACKENDS}client: { trustedProxies: [10.0.0.0/8, proxy.internal, loopback, "::1", 300.1.1.1] }\nroutes:\n${DEFAULT_ROUTE}`, [
    [4, 'proxy.internal', 'client.trustedProxies[1]: "proxy.internal" is not an IP address, a CIDR range, or one of loopback, linklocal, uniquelocal'],
    [4, '300.1.1.1', 'client.trustedProxies[4]: "300.1.1.1" is not an IP address, a CIDR range, or one of loopback, linklocal, uniquelocal']
  ]],
  ['headersTimeout above requestTimeout; 0 means no request timeout', `${BACKENDS}client: { headersTimeout: 61s }\nroutes:\n${DEFAULT_ROUTE}`, [
    [4, '61s', 'client.headersTimeout: must not be longer than client.requestTimeout']
  ]],
  ['a route\'s references: two unknown backends and a duplicate name, each reported', `${BACKENDS}routes:
  - { name: a, match: { path: /a/* }, backend: nope }
  - { name: a, match: { path: /b/* }, backend: legacy, shadow: { backend: nada } }
${DEFAULT_ROUTE}`, [
    [5, 'nope', 'routes[0].backend: unknown backend "nope"; defined: legacy, django'],
    [6, 'a, match', 'routes[1].name: duplicate route name "a" (first used by routes[0])'],
    [6, 'nada', 'routes[1].shadow.backend: unknown backend "nada"; defined: legacy, django']
  ]],
  ['shadow never compares credentials, whatever their case', R('{ name: s, match: { path: /s/* }, backend: legacy, shadow: { backend: django, compare: { headers: [Set-Cookie, cookie, Authorization, proxy-authorization, etag] } } }'), [
    [6, 'Set-Cookie', 'routes[0].shadow.compare.headers[0]: "Set-Cookie" carries credentials and cannot be compared'],
    [6, 'cookie, Auth', 'routes[0].shadow.compare.headers[1]: "cookie" carries credentials and cannot be compared'],
    [6, 'Authorization', 'routes[0].shadow.compare.headers[2]: "Authorization" carries credentials and cannot be compared'],
    [6, 'proxy-authorization', 'routes[0].shadow.compare.headers[3]: "proxy-authorization" carries credentials and cannot be compared']
  ]],
  ['a flag without a flag source, without a backend, with unknown backends', `${BACKENDS}routes:
  - { name: a, match: { path: /a/* }, backend: legacy, flag: { name: f } }
  - { name: b, match: { path: /b/* }, backend: legacy, flag: { name: f, backend: nope } }
  - { name: c, match: { path: /c/* }, backend: legacy, flag: { name: f, variants: { blue: django, red: nada } } }
${DEFAULT_ROUTE}`, [
    [5, '{ name: f }', 'routes[0].flag: names a flag but no flags: source is configured'],
    [5, '{ name: f }', 'routes[0].flag: needs backend (used when the flag is on) or variants (variant name → backend)'],
    [6, '{ name: f, backend', 'routes[1].flag: names a flag but no flags: source is configured'],
    [6, 'nope', 'routes[1].flag.backend: unknown backend "nope"; defined: legacy, django'],
    [7, '{ name: f, variants', 'routes[2].flag: names a flag but no flags: source is configured'],
    [7, 'nada', 'routes[2].flag.variants.red: unknown backend "nada"; defined: legacy, django']
  ]],
  ['stripPrefix must cover every matched path, on a segment boundary', `${BACKENDS}routes:
  - { name: a, match: { path: /api/orders/* }, backend: legacy, rewrite: { stripPrefix: /api/ord } }
  - { name: b, match: { path: /api/:id }, backend: legacy, rewrite: { stripPrefix: /api/ } }
  - { name: c, match: { path: /api }, backend: legacy, rewrite: { stripPrefix: /api } }
  - { name: d, match: { path: /v1/* }, backend: legacy, rewrite: { stripPrefix: /v2 } }
${DEFAULT_ROUTE}`, [
    [5, '/api/ord }', 'routes[0].rewrite.stripPrefix: "/api/ord" is not a prefix of every path matched by "/api/orders/*"'],
    [8, '/v2', 'routes[3].rewrite.stripPrefix: "/v2" is not a prefix of every path matched by "/v1/*"']
  ]],
  ['guard.disableFlag needs Unleash to switch the flag off in', R('{ name: a, match: { path: /a/* }, backend: legacy, flag: { name: f, backend: django }, guard: { disableFlag: true } }'), [
    [6, 'true', 'routes[0].guard.disableFlag: needs flags.unleash: the guard switches the flag off in Unleash']
  ]],
  ['the Unleash connection: scheme, credentials, URL, a timeout under a second', `${BACKENDS}flags: { unleash: { url: "ftp://u:p@unleash/api", timeout: 999ms } }\nroutes:\n${DEFAULT_ROUTE}`, [
    [4, '999ms', 'flags.unleash.timeout: must be at least 1s'],
    [4, '"ftp://u:p@unleash/api"', 'flags.unleash.url: scheme must be http or https'],
    [4, '"ftp://u:p@unleash/api"', 'flags.unleash.url: must not carry credentials; the token comes from UNLEASH_API_TOKEN']
  ]],
  ['an Unleash URL that is no URL; a timeout of exactly 1s is fine', `${BACKENDS}flags: { unleash: { url: "//unleash:4242/api", timeout: 1s } }\nroutes:\n${DEFAULT_ROUTE}`, [
    [4, '"//unleash', 'flags.unleash.url: "//unleash:4242/api" is not a valid URL']
  ]],
  ['cohort.jwt needs a key, used by a source or not', `${BACKENDS}cohort: { userId: { header: x-user-id }, jwt: { header: x-token } }\nroutes:\n${DEFAULT_ROUTE}`, [
    [4, '{ header: x-token', 'cohort.jwt: needs secretEnv or publicKeyFile to verify tokens']
  ]],
  ['a jwt: property source without cohort.jwt at all', `${BACKENDS}cohort: { properties: { plan: { jwt: plan } } }\nroutes:\n${DEFAULT_ROUTE}`, [
    [4, '{ properties', 'cohort: a jwt: value source needs cohort.jwt with secretEnv or publicKeyFile to verify tokens']
  ]],
  ['secretEnv and publicKeyFile together', `${BACKENDS}cohort: { sessionId: { jwt: sid }, jwt: { secretEnv: S, publicKeyFile: k.pem } }\nroutes:\n${DEFAULT_ROUTE}`, [
    [4, '{ secretEnv', 'cohort.jwt: set either secretEnv or publicKeyFile, not both']
  ]],
  ['ramps: a Prometheus that is no http URL, a fleet driver without Unleash, an interval too short', `${BACKENDS}flags: { file: flags.yaml }
ramps: { driver: fleet, prometheus: "prom:9090", interval: 99ms, timeout: 2s }
routes:
  - { name: a, match: { path: /a/* }, backend: legacy, flag: { name: f, backend: django }, ramp: { steps: [50, 10, 10], approve: [25, { step: 30, approvers: 2 }], hold: 999ms, windows: [{ days: [mon], from: "10:00", to: "09:00", timeZone: Mars/Olympus }] } }
${DEFAULT_ROUTE}`, [
    [7, '10, 10]', 'routes[0].ramp.steps[1]: 10 is not above the step before it (50); steps climb'],
    [7, '10]', 'routes[0].ramp.steps[2]: 10 is not above the step before it (10); steps climb'],
    [7, '25', 'routes[0].ramp.approve[0]: 25 is not one of the steps (50, 10, 10)'],
    [7, '{ step: 30', 'routes[0].ramp.approve[1]: 30 is not one of the steps (50, 10, 10)'],
    [7, '999ms', 'routes[0].ramp.hold: must be at least 1s'],
    [7, 'Mars/Olympus', 'routes[0].ramp.windows[0].timeZone: "Mars/Olympus" is not a time zone this runtime knows (an IANA name such as Europe/Berlin)'],
    [7, '"09:00"', 'routes[0].ramp.windows[0].to: 09:00 is not after 10:00; a window ends the day it starts'],
    [5, '"prom:9090"', 'ramps.prometheus: "prom:9090" is not an http(s) URL'],
    [5, 'fleet', 'ramps.driver: fleet needs flags.unleash: the fleet driver writes each step into Unleash, where every replica reads it'],
    [5, '99ms', 'ramps.interval: must be at least 100ms'],
    [5, '2s', 'ramps.timeout: must be below ramps.interval (99 ms): a pass must end before the next is due']
  ]],
  ['a fleet driver without Prometheus; a ramp on a variants flag', `${BACKENDS}flags: { unleash: { url: "http://u/api" } }
ramps: { driver: fleet }
routes:
  - { name: a, match: { path: /a/* }, backend: legacy, flag: { name: f, variants: { x: django } }, ramp: { steps: [50, 100] } }
${DEFAULT_ROUTE}`, [
    [7, '{ steps', 'routes[0].ramp: needs a route flag with backend: (a ramp moves the rollout of the flag that sends users to that backend)'],
    [5, 'fleet', 'ramps.driver: fleet needs ramps.prometheus: the fleet driver reads the gates from the sums over all replicas']
  ]],
  ['the identity bridge: an http(s) resolver, known backends, a session from a header or cookie, a token that lives seconds to an hour', `${BACKENDS}identity: { resolve: { url: "ftp://legacy/whoami" }, session: { jwt: sub }, token: { keyFile: k.pem, backends: [django, nope], ttl: 5s } }\nroutes:\n${DEFAULT_ROUTE}`, [
    [4, '"ftp://legacy', 'identity.resolve.url: "ftp://legacy/whoami" is not an http(s) URL'],
    [4, 'nope', 'identity.token.backends[1]: unknown backend "nope"; defined: legacy, django'],
    [4, '{ jwt: sub }', 'identity.session[0]: a session is read from a header or a cookie'],
    [4, '5s', 'identity.token.ttl: must be between 10s and 1h: a token lives seconds to minutes']
  ]],
  ['an identity: cohort source needs the identity bridge', `${BACKENDS}cohort: { userId: { identity: sub } }\nroutes:\n${DEFAULT_ROUTE}`, [
    [4, '{ userId', 'cohort: an identity: value source needs identity: (the identity bridge, docs/identity.md)']
  ]],
  ['webhooks must be http(s)', `${BACKENDS}notify: [{ url: "mailto:ops@example.com" }, { url: "nope" }, { url: "https://ok.example" }]\nroutes:\n${DEFAULT_ROUTE}`, [
    [4, '"mailto', 'notify[0].url: "mailto:ops@example.com" is not an http(s) URL'],
    [4, '"nope"', 'notify[1].url: "nope" is not an http(s) URL']
  ]],
  ['an enum says what it allows', R('{ name: s, match: { path: /s/* }, backend: legacy, shadow: { backend: django, compare: { text: trimmed } } }'), [
    [6, 'trimmed', 'routes[0].shadow.compare.text: must be one of "exact", "whitespace"']
  ]]
]

for (const [name, yaml, want] of cases) {
  t.test(name, async (t) => {
    const lines = yaml.split('\n')
    t.strictSame(problems(yaml), want.map(([line, text, message]) => `${line}:${(lines[line - 1] ?? '').indexOf(text) + 1}: ${message}`))
  })
}

t.test('a plan starts from its gate set: its own keys win, queries and checks add up', async (t) => {
  const config = parseConfig(`backends: { legacy: { url: "http://127.0.0.1:8000" }, django: { url: "http://127.0.0.1:8001" } }
flags: { file: flags.yaml }
ramps: { prometheus: "http://prom:9090" }
gateSets:
  checkout:
    maxLatencyRatio: 1.2
    minParity: 0.999
    queries: [{ name: orders, query: 'sum(x{backend="{{backend}}"})', min: 0.9 }]
routes:
  - name: orders
    match: { path: /api/orders/* }
    backend: legacy
    flag: { name: f, backend: django }
    ramp: { steps: [10, 100], gateSet: checkout, gates: { minParity: 0.99, queries: [{ name: refunds, query: 'sum(y{backend="{{backend}}"})', max: 1.1 }] } }
${DEFAULT_ROUTE}`, FILE)
  const gates = config.routes[0]?.ramp?.gates
  t.match(gates, { maxLatencyRatio: 1.2, minParity: 0.99, maxErrorRatioIncrease: 0.01 }, 'the set\'s keys, the plan\'s over them, the defaults under both')
  t.same(gates?.queries.map((q) => q.name), ['orders', 'refunds'])
  t.throws(() => parseConfig(`backends: { legacy: { url: "http://127.0.0.1:8000" }, django: { url: "http://127.0.0.1:8001" } }
flags: { file: flags.yaml }
routes:
  - { name: orders, match: { path: /a/* }, backend: legacy, flag: { name: f, backend: django }, ramp: { steps: [10, 100], gateSet: nope } }
${DEFAULT_ROUTE}`, FILE), /routes\[0\]\.ramp\.gateSet: unknown gate set "nope"; gateSets defines: none/)
})

t.test('a check reaches the plan as written, with its defaults', async (t) => {
  const config = parseConfig(`${BACKENDS}flags: { file: flags.yaml }
routes:
  - name: a
    match: { path: /a/* }
    backend: legacy
    flag: { name: f, backend: django }
    ramp:
      steps: [10, 100]
      gates:
        checks:
          - { name: smoke, url: "http://proxy:8080/a/smoke" }
          - { name: buy, url: "https://proxy/a/buy", method: post, headers: { x-user-id: smoke }, timeout: 2s, when: before, as: next-cohort, expect: { status: 201, bodyContains: ok, json: { "$.order.lines[0].sku": "A-1" } } }
          - { name: list, url: "http://proxy/a", expect: { status: [200, 204] } }
${DEFAULT_ROUTE}`, FILE)
  t.strictSame(plain(config.routes[0]?.ramp?.gates.checks), [
    { name: 'smoke', url: 'http://proxy:8080/a/smoke', method: 'GET', headers: {}, timeout: 5000, expect: { status: [], bodyContains: undefined, json: {} }, as: undefined, when: 'after' },
    { name: 'buy', url: 'https://proxy/a/buy', method: 'POST', headers: { 'x-user-id': 'smoke' }, timeout: 2000, expect: { status: [201], bodyContains: 'ok', json: { '$.order.lines[0].sku': 'A-1' } }, as: 'next-cohort', when: 'before' },
    { name: 'list', url: 'http://proxy/a', method: 'GET', headers: {}, timeout: 5000, expect: { status: [200, 204], bodyContains: undefined, json: {} }, as: undefined, when: 'after' }
  ])
  t.strictSame(deeplyFrozen(config.routes[0]?.ramp?.gates.checks), [])
})

t.test('state.dir names the state directory, relative to routes.yaml; it wins over the older flags.unleash.backupDir', async (t) => {
  const base = 'backends: { legacy: { url: "http://legacy:8000" } }\nroutes: [{ name: all, match: { path: /* }, backend: legacy }]\n'
  const unleash = 'flags: { unleash: { url: "http://unleash:4242/api", backupDir: old } }\n'
  t.equal(parseConfig(base + 'state: { dir: state }\n', '/srv/spx/routes.yaml').state.dir, '/srv/spx/state')
  t.equal(parseConfig(base + unleash, '/srv/spx/routes.yaml').state.dir, '/srv/spx/old')
  t.equal(parseConfig(base + unleash + 'state: { dir: /var/lib/spx }\n', '/srv/spx/routes.yaml').state.dir, '/var/lib/spx')
  t.equal(parseConfig(base, '/srv/spx/routes.yaml').state.dir, undefined)
})

t.test('ramps.replicas: a static list as written; a name and its port', async (t) => {
  const base = 'backends: { legacy: { url: "http://legacy:8000" } }\nroutes: [{ name: all, match: { path: /* }, backend: legacy }]\n'
  t.same(plain(parseConfig(base + 'ramps: { replicas: { static: ["10.0.0.11:8081", "[fd00::2]:8081"] } }\n', '/srv/spx/routes.yaml').ramps.replicas), { static: ['10.0.0.11:8081', '[fd00::2]:8081'] })
  t.same(plain(parseConfig(base + 'ramps: { replicas: { dns: "spx-admin:9000" } }\n', '/srv/spx/routes.yaml').ramps.replicas), { dns: { host: 'spx-admin', port: 9000 } })
  t.match(problems(base + 'ramps: { replicas: { dns: "spx-admin" } }\n').join('\n'), /ramps\.replicas\.dns/, 'a name without its port is refused')
  t.match(problems(base + 'ramps: { replicas: { static: ["a:1"], dns: "b:2" } }\n').join('\n'), /ramps\.replicas/, 'one source, not both')
})
