/** Declared endpoints: list lines, keys, and which template a request path matches. */
import t from 'tap'
import { endpointKey, parseListLine, samplePath } from '../../src/coverage/endpoint.js'
import { compileTemplates, matchTemplate } from '../../src/coverage/traffic.js'

t.test('list lines', async (t) => {
  t.same(parseListLine('get /api/orders/{id}  # one order'), { method: 'GET', template: '/api/orders/{id}' })
  t.equal(parseListLine('   # a comment'), undefined)
  t.equal(parseListLine(''), undefined)
  t.equal(parseListLine('HEAD /x'), '"HEAD" is not one of GET, POST, PUT, PATCH, DELETE')
  t.equal(parseListLine('GET api/x'), 'a path starts with /')
  t.equal(parseListLine('GET /x?y=1'), 'a path has no query, fragment or spaces')
  t.equal(parseListLine('GET /x/a{id}'), '"a{id}": a parameter is a whole segment, {name}')
  t.equal(parseListLine('GET /x extra'), 'expected "METHOD /path/{param}"')
})

t.test('an endpoint is the same whatever its parameter names and trailing slash', async (t) => {
  t.equal(endpointKey('GET', '/api/orders/{order_id}/'), endpointKey('GET', '/api/orders/{id}'))
  t.not(endpointKey('GET', '/api/orders/{id}'), endpointKey('POST', '/api/orders/{id}'))
  t.equal(endpointKey('GET', '/'), 'GET /')
  t.equal(samplePath('/api/orders/{id}/lines/{n}'), '/api/orders/1/lines/1')
})

t.test('a request path finds its template: a literal segment beats a parameter', async (t) => {
  const root = compileTemplates([
    { method: 'GET', template: '/orders/{id}' },
    { method: 'GET', template: '/orders/export' },
    { method: 'POST', template: '/orders' },
    { method: 'GET', template: '/' }
  ])
  t.equal(matchTemplate(root, 'GET', '/orders/7?x=1'), 'GET /orders/{}')
  t.equal(matchTemplate(root, 'GET', '/orders/export'), 'GET /orders/export')
  t.equal(matchTemplate(root, 'HEAD', '/orders/7'), 'GET /orders/{}', 'HEAD counts for GET')
  t.equal(matchTemplate(root, 'POST', '/orders/'), 'POST /orders', 'a trailing slash is not a segment')
  t.equal(matchTemplate(root, 'GET', '/'), 'GET /')
  t.equal(matchTemplate(root, 'DELETE', '/orders/7'), undefined, 'an undeclared method')
  t.equal(matchTemplate(root, 'GET', '/orders/7/lines'), undefined, 'a deeper path')
  t.equal(matchTemplate(root, 'GET', '/orders//'), undefined, 'an empty segment is no parameter value')
})
