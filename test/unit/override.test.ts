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
