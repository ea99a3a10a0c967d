import t from 'tap'
import { parseConfig, DEFAULTS } from '../../src/config/config.js'
import { ConfigError, formatProblem } from '../../src/errors.js'

function problems (yaml: string): string[] {
  try {
    parseConfig(yaml, 'routes.yaml')
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map(formatProblem)
    throw err
  }
  return []
}

t.test('a valid file gets defaults and is frozen', async (t) => {
  const config = parseConfig(`
backends:
  legacy: { url: "http://127.0.0.1:8000" }
  django: { url: "http://127.0.0.1:8001/app/", timeout: 10s, timeouts: { connect: 250ms } }
routes:
  - name: default
    match: { path: /* }
    backend: legacy
`, 'routes.yaml')
  t.same(config.listen, DEFAULTS.listen)
  t.same(config.admin, { host: '127.0.0.1', port: 8081, allowedHosts: [], operators: [] })
  const django = config.backends.get('django')
  t.equal(django?.origin, 'http://127.0.0.1:8001')
  t.equal(django?.basePath, '/app')
  t.same(django?.timeouts, { connect: 250, headers: 10_000, bodyIdle: 30_000 })
  t.same(config.backends.get('legacy')?.timeouts, { connect: 5_000, headers: 30_000, bodyIdle: 30_000 })
  t.equal(config.routes[0]?.maxBodySize, DEFAULTS.client.maxBodySize)
  t.ok(Object.isFrozen(config) && Object.isFrozen(config.routes[0]))
  t.match(config.version, /^[0-9a-f]{12}$/)
})

t.test('every problem is reported at once, each with file:line:column and field', async (t) => {
  const found = problems(`listen: { port: 8080, hots: x }
backends:
  legacy: { url: "ftp://old:21" }
  django: { url: "not a url", timeout: 30 }
  newsvc: { url: "http://user:pw@10.0.0.1" }
routes:
  - name: orders
    match: { path: /api/orders/*, methods: [GET, FETCH] }
    backend: djagno
  - name: orders
    match: { path: /a/*/b }
    backend: legacy
    maxBodySize: lots
  - match: { path: /* }
    backend: legacy
`)
  t.same(found, [
    'routes.yaml:1:23: listen.hots: unknown key "hots"',
    'routes.yaml:4:40: backends.django.timeout: must be a duration with a unit, e.g. 250ms, 5s, 2m',
    'routes.yaml:13:18: routes[1].maxBodySize: must be a size, e.g. 1048576, 512kb, 10mb',
    'routes.yaml:14:5: routes[2]: missing required key "name"'
  ])
})

t.test('cross-reference problems are all reported with positions', async (t) => {
  const found = problems(`backends:
  legacy: { url: "ftp://old:21" }
  django: { url: "not a url" }
  newsvc: { url: "http://user:pw@10.0.0.1" }
routes:
  - name: orders
    match: { path: /api/orders/*, methods: [GET, FETCH] }
    backend: djagno
  - name: orders
    match: { path: /a/*/b, host: "http://x" }
    backend: legacy
  - name: other
    match: { path: api }
    backend: legacy
    rewrite: { stripPrefix: /v1 }
client:
  trustedProxies: [10.0.0.0/8, banana]
`)
  t.same(found, [
    'routes.yaml:2:18: backends.legacy.url: scheme must be http or https, got "ftp"',
    'routes.yaml:3:18: backends.django.url: "not a url" is not a valid URL',
    'routes.yaml:4:18: backends.newsvc.url: must not carry credentials; routes.yaml holds no secrets',
    'routes.yaml:17:32: client.trustedProxies[1]: "banana" is not an IP address, a CIDR range, or one of loopback, linklocal, uniquelocal',
    'routes.yaml:8:14: routes[0].backend: unknown backend "djagno"; defined: legacy, django, newsvc',
    'routes.yaml:7:50: routes[0].match.methods[1]: unknown HTTP method "FETCH"',
    'routes.yaml:9:11: routes[1].name: duplicate route name "orders" (first used by routes[0])',
    'routes.yaml:10:20: routes[1].match.path: "*" is only allowed as the whole last segment, as in /api/*',
    'routes.yaml:10:34: routes[1].match.host: "http://x" is not a host name or "*.domain" pattern (no port, no scheme)',
    'routes.yaml:13:20: routes[2].match.path: must start with "/"',
    'routes.yaml:15:29: routes[2].rewrite.stripPrefix: "/v1" is not a prefix of every path matched by "api"'
  ])
})

t.test('YAML syntax errors and duplicate keys name the line', async (t) => {
  t.match(problems('backends:\n  a: { url: "http://x" }\n  a: { url: "http://y" }\nroutes: []\n'), [/^routes\.yaml:3:3: \(yaml\): Map keys must be unique/])
  t.match(problems('backends: [\n'), [/^routes\.yaml:\d+:\d+: \(yaml\): /])
})

t.test('empty or missing sections are named', async (t) => {
  t.same(problems('listen: { port: 1 }\n'), [
    'routes.yaml:1:1: (root): missing required key "backends"',
    'routes.yaml:1:1: (root): missing required key "routes"'
  ])
})

t.test('the routes.yaml examples in docs/routes-yaml.md and README are valid', async (t) => {
  const { readFileSync } = await import('node:fs')
  const { join } = await import('node:path')
  const { ROOT } = await import('../helpers/proxy.js')
  const doc = readFileSync(join(ROOT, 'docs/routes-yaml.md'), 'utf8')
  const example = /## routes\.yaml by example\n+```yaml\n([^]*?)```/.exec(doc)?.[1]
  t.ok(example, 'docs/routes-yaml.md has the example')
  const short = /## routes\.yaml in short\n+```yaml\n([^]*?)```/.exec(readFileSync(join(ROOT, 'README.md'), 'utf8'))?.[1]
  t.equal(parseConfig(short as string, 'README.md').routes.length, 3, 'the README\'s short example')
  const config = parseConfig(example as string, 'docs/routes-yaml.md')
  t.ok(config.routes.length >= 5)
  t.equal(config.flags?.unleash?.environment, 'production')
  t.same(config.cohort.userId, [{ jwt: 'sub' }, { header: 'x-user-id' }, { cookie: 'uid' }])
})

t.test('a value of the wrong type hides nothing: every other problem is reported with it', async (t) => {
  t.same(problems(`client: { headersTimeout: 90s, requestTimeout: 60s }
backends:
  legacy: { url: "http://127.0.0.1:8000", timeout: 30 }
  django: { url: "ftp://127.0.0.1:8001" }
routes:
  - { name: orders, match: { path: /api/orders/* }, backend: djagno }
  - { name: orders, match: { path: /api/other/* }, backend: legazy }
  - { name: rest, match: { path: /* }, backend: legacy, maxBodySize: lots }
`), [
    'routes.yaml:3:52: backends.legacy.timeout: must be a duration with a unit, e.g. 250ms, 5s, 2m',
    'routes.yaml:8:70: routes[2].maxBodySize: must be a size, e.g. 1048576, 512kb, 10mb',
    'routes.yaml:4:18: backends.django.url: scheme must be http or https, got "ftp"',
    'routes.yaml:1:27: client.headersTimeout: must not be longer than client.requestTimeout',
    'routes.yaml:6:62: routes[0].backend: unknown backend "djagno"; defined: legacy, django',
    'routes.yaml:7:13: routes[1].name: duplicate route name "orders" (first used by routes[0])',
    'routes.yaml:7:61: routes[1].backend: unknown backend "legazy"; defined: legacy, django'
  ])
})

t.test('a missing required key still stops at the shape: nothing is guessed', async (t) => {
  t.same(problems(`backends:
  legacy: { url: "http://127.0.0.1:8000", timeout: 30 }
routes:
  - { name: orders, match: { path: /api/* } }
`), [
    'routes.yaml:2:52: backends.legacy.timeout: must be a duration with a unit, e.g. 250ms, 5s, 2m',
    'routes.yaml:4:5: routes[0]: missing required key "backend"'
  ])
})
