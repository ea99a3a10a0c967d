/** decide(): every reason a route's decision can have, against a stand-in flag source. */
import t from 'tap'
import { decide, routeBackends } from '../../src/decision/decide.js'
import { buildRouteTable, type Route } from '../../src/routing/table.js'
import { parseConfig } from '../../src/config/config.js'
import type { FlagSource, FlagResult } from '../../src/flags/source.js'

const config = parseConfig(`flags: { file: flags.yaml }
backends:
  legacy: { url: "http://127.0.0.1:1" }
  django: { url: "http://127.0.0.1:2" }
  next: { url: "http://127.0.0.1:3" }
routes:
  - { name: static, match: { path: /s/* }, backend: django }
  - { name: flagged, match: { path: /f/* }, backend: legacy, flag: { name: f, backend: django } }
  - { name: variants, match: { path: /v/* }, backend: legacy, flag: { name: v, variants: { blue: django, green: next } } }
  - { name: both, match: { path: /b/* }, backend: legacy, flag: { name: b, backend: django, variants: { green: next } } }
`, 'routes.yaml')
const table = buildRouteTable(config)
const route = (name: string): Route => table.routes.find((r) => r.name === name) as Route

/** A flag source that answers every flag with `result`. */
function flags (result: Partial<FlagResult>): FlagSource {
  return { evaluate: () => ({ available: true, enabled: true, variant: undefined, ...result }) } as unknown as FlagSource
}

const ctx = { userId: 'u1', properties: {} }
const cases: Array<[string, string, FlagSource | undefined, string | undefined, string]> = [
  ['a static route', 'static', flags({}), undefined, 'django static'],
  ['an override wins over everything', 'flagged', flags({ enabled: false }), 'django', 'django override'],
  ['no flag source: the baseline', 'flagged', undefined, undefined, 'legacy flag_unavailable'],
  ['flag unknown or not loaded: the baseline', 'flagged', flags({ available: false }), undefined, 'legacy flag_unavailable'],
  ['flag off: the baseline', 'flagged', flags({ enabled: false }), undefined, 'legacy flag_off'],
  ['flag on: the flag backend', 'flagged', flags({}), undefined, 'django flag_on'],
  ['variant blue: its backend', 'variants', flags({ variant: 'blue' }), undefined, 'django flag_on'],
  ['variant green: its backend', 'variants', flags({ variant: 'green' }), undefined, 'next flag_on'],
  ['on with an unmapped variant and no flag backend: the baseline', 'variants', flags({ variant: 'purple' }), undefined, 'legacy flag_on'],
  ['on with no variant and no flag backend: the baseline', 'variants', flags({}), undefined, 'legacy flag_on'],
  ['a variant named like an Object member is unmapped', 'variants', flags({ variant: 'constructor' }), undefined, 'legacy flag_on'],
  ['__proto__ too', 'variants', flags({ variant: '__proto__' }), undefined, 'legacy flag_on'],
  ['backend and variants: a mapped variant wins', 'both', flags({ variant: 'green' }), undefined, 'next flag_on'],
  ['backend and variants: an unmapped one takes the flag backend', 'both', flags({ variant: 'red' }), undefined, 'django flag_on']
]

for (const [name, routeName, source, override, want] of cases) {
  t.test(name, async (t) => {
    const d = decide(route(routeName), source, source === undefined && routeName !== 'static' ? undefined : ctx, override)
    t.equal(`${d.backend} ${d.reason}`, want)
    if (routeName !== 'static') t.equal(d.flag, route(routeName).config.flag?.name, 'names the flag')
  })
}

t.test('the flag is asked about its variants only where the route maps them', async (t) => {
  const asked: unknown[] = []
  const source = { evaluate: (name: string, context: unknown, withVariant: boolean) => { asked.push([name, context, withVariant]); return { available: true, enabled: true, variant: undefined } } } as unknown as FlagSource
  decide(route('flagged'), source, ctx, undefined)
  decide(route('variants'), source, ctx, undefined)
  t.strictSame(asked, [['f', ctx, false], ['v', ctx, true]])
})

t.test('what a decision names besides the backend', async (t) => {
  t.strictSame(decide(route('static'), flags({}), ctx, 'legacy'), { backend: 'legacy', reason: 'override', flag: undefined, variant: undefined }, 'an override on an unflagged route names no flag')
  t.strictSame(decide(route('flagged'), flags({}), undefined, undefined), { backend: 'legacy', reason: 'flag_unavailable', flag: 'f', variant: undefined }, 'no cohort: the baseline')
  t.strictSame(decide(route('variants'), flags({ enabled: false, variant: 'blue' }), ctx, undefined), { backend: 'legacy', reason: 'flag_off', flag: 'v', variant: 'blue' })
  t.strictSame(decide(route('variants'), flags({ variant: 'green' }), ctx, undefined), { backend: 'next', reason: 'flag_on', flag: 'v', variant: 'green' })
  t.strictSame(decide(route('variants'), flags({ variant: 'purple' }), ctx, undefined), { backend: 'legacy', reason: 'flag_on', flag: 'v', variant: 'purple' })
})

t.test('every backend a route may send to', async (t) => {
  t.strictSame([...routeBackends(route('static'))], ['django'])
  t.strictSame([...routeBackends(route('flagged'))], ['legacy', 'django'])
  t.strictSame([...routeBackends(route('variants'))], ['legacy', 'django', 'next'])
  t.strictSame([...routeBackends(route('both'))], ['legacy', 'django', 'next'])
  t.equal(routeBackends(route('both')), routeBackends(route('both')), 'worked out once per route')
})
