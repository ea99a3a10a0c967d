/** Override tokens, checked against HMACs computed here with node:crypto, never with the code under test. */
import t from 'tap'
import { createHmac } from 'node:crypto'
import { readOverride } from '../../src/decision/override.js'

const SECRET = 'tester-secret'
const NOW = 1_800_000_000
const names = { header: 'x-strangler-override', cookie: 'spx_override' }
const allowed = new Set(['legacy', 'django', 'search.v2'])
const sign = (subject: string, secret = SECRET): string => `${subject}.${createHmac('sha256', secret).update(subject).digest('hex')}`
const read = (value: string | undefined, opts: { cookie?: string, secret?: string | undefined, route?: string } = {}) =>
  readOverride({ ...(value === undefined ? {} : { 'x-strangler-override': value }), ...(opts.cookie === undefined ? {} : { cookie: opts.cookie }) }, names, 'secret' in opts ? opts.secret : SECRET, opts.route ?? 'orders', allowed, NOW)

const cases: Array<[string, string | undefined, Record<string, unknown>, string]> = [
  ['no header, no cookie', undefined, {}, 'none'],
  ['an empty header', '', {}, 'none'],
  ['a signed token', sign(`django.${NOW + 60}`), {}, 'accepted django'],
  ['a signed token naming this route', sign(`django@orders.${NOW + 60}`), {}, 'accepted django'],
  ['a backend name with dots', sign(`search.v2.${NOW + 60}`), {}, 'accepted search.v2'],
  ['overrides disabled', sign(`django.${NOW + 60}`), { secret: undefined }, 'rejected disabled'],
  ['the raw secret', `django.${SECRET}`, {}, 'rejected malformed'],
  ['an HMAC of the backend alone', `django.${createHmac('sha256', SECRET).update('django').digest('hex')}`, {}, 'rejected malformed'],
  ['no signature', `django.${NOW + 60}`, {}, 'rejected malformed'],
  ['a non-numeric expiry', sign('django.soon'), {}, 'rejected malformed'],
  ['another secret', sign(`django.${NOW + 60}`, 'other'), {}, 'rejected bad_signature'],
  ['a signature in upper case', sign(`django.${NOW + 60}`).toUpperCase().replace('DJANGO', 'django'), {}, 'rejected bad_signature'],
  ['expired one second ago', sign(`django.${NOW - 1}`), {}, 'rejected expired'],
  ['expiring now', sign(`django.${NOW}`), {}, 'rejected expired'],
  ['valid for exactly 30 days', sign(`django.${NOW + 30 * 24 * 3600}`), {}, 'accepted django'],
  ['valid for 30 days and a second', sign(`django.${NOW + 30 * 24 * 3600 + 1}`), {}, 'rejected malformed'],
  ['another route', sign(`django@checkout.${NOW + 60}`), {}, 'rejected wrong_route'],
  ['a backend the route cannot use', sign(`search.${NOW + 60}`), {}, 'rejected backend_not_allowed'],
  ['a subject changed after signing', sign(`legacy.${NOW + 60}`).replace('legacy', 'django'), {}, 'rejected bad_signature']
]

for (const [name, value, opts, want] of cases) {
  t.test(name, async (t) => {
    const r = read(value, opts as never)
    t.equal(r.kind === 'accepted' ? `accepted ${r.backend}` : r.kind === 'rejected' ? `rejected ${r.why}` : r.kind, want)
  })
}

t.test('the cookie works when the header is absent; the header wins when both are sent', async (t) => {
  t.match(read(undefined, { cookie: `a=1; spx_override=${sign(`django.${NOW + 60}`)}` }), { kind: 'accepted', backend: 'django' })
  t.match(read(sign(`legacy.${NOW + 60}`), { cookie: `spx_override=${sign(`django.${NOW + 60}`)}` }), { kind: 'accepted', backend: 'legacy' })
})

t.test('what a rejection says', async (t) => {
  const reasons = (value: string, opts: Record<string, unknown> = {}): string => {
    const r = read(value, opts as never)
    return r.kind === 'rejected' ? r.reason : r.kind
  }
  t.equal(reasons(sign(`django.${NOW + 60}`), { secret: undefined }), 'overrides are disabled (STRANGLER_OVERRIDE_SECRET is not set)')
  t.equal(reasons(`django.${SECRET}`), 'expected <backend>[@<route>].<expires>.<signature>')
  t.equal(reasons(sign(`django.${NOW + 60}`, 'other')), 'wrong override signature')
  t.equal(reasons(sign(`django.${NOW - 1}`)), 'override token expired')
  t.equal(reasons(sign(`django.${NOW + 31 * 24 * 3600}`)), 'override token valid for more than 30 days')
  t.equal(reasons(sign(`django@checkout.${NOW + 60}`)), 'override token is for route "checkout"')
  t.equal(reasons(sign(`search.${NOW + 60}`)), 'backend "search" is not one this route can use')
})

t.test('malformed shapes: no backend, one dot, digits only, a signature alone', async (t) => {
  for (const value of [sign(`.${NOW + 60}`), `.${NOW + 60}.abc`, 'django', `django.${NOW + 60}`, `${NOW + 60}`, '.', '..', sign(`django.${NOW + 60}x`), sign(`django.x${NOW + 60}`)]) {
    const r = read(value)
    t.equal(r.kind === 'rejected' ? r.why : r.kind, 'malformed', JSON.stringify(value))
  }
  t.equal(read(sign(`django@orders.x.${NOW + 60}`)).kind, 'rejected', 'a route segment that is not the route')
})

t.test('the route scope is the whole name after @, and the clock defaults to now', async (t) => {
  const route = (value: string, name: string): string => {
    const r = readOverride({ 'x-strangler-override': value }, names, SECRET, name, allowed, NOW)
    return r.kind === 'rejected' ? r.why : r.kind
  }
  t.equal(route(sign(`django@orders.${NOW + 60}`), 'orders-v2'), 'wrong_route')
  t.equal(route(sign(`django@orders-v2.${NOW + 60}`), 'orders'), 'wrong_route')
  t.equal(route(sign(`django@orders.${NOW + 60}`), 'orders'), 'accepted')
  const soon = Math.floor(Date.now() / 1000) + 3600
  t.match(readOverride({ 'x-strangler-override': sign(`django.${soon}`) }, names, SECRET, 'orders', allowed), { kind: 'accepted', backend: 'django' }, 'a token valid for an hour, against the real clock')
})

t.test('overrideToken mints what the documented format says', async (t) => {
  const { overrideToken } = await import('../../src/decision/override.js')
  t.equal(overrideToken(SECRET, 'django', NOW + 60), sign(`django.${NOW + 60}`))
  t.equal(overrideToken(SECRET, 'django', NOW + 60, 'orders'), sign(`django@orders.${NOW + 60}`))
  t.equal(read(overrideToken(SECRET, 'django', NOW + 60, 'orders')).kind, 'accepted')
})
