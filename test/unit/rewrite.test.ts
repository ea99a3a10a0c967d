/** rewritePath: stripPrefix and addPrefix on raw paths, byte for byte. */
import t from 'tap'
import { rewritePath } from '../../src/routing/resolve.js'

const cases: Array<[string, { stripPrefix?: string, addPrefix?: string } | undefined, string]> = [
  ['/checkout/cart', undefined, '/checkout/cart'],
  ['/checkout/cart', { stripPrefix: '/checkout' }, '/cart'],
  ['/checkout', { stripPrefix: '/checkout' }, '/'],
  ['/checkout/', { stripPrefix: '/checkout/' }, '/'],
  ['/checkoutx/cart', { stripPrefix: '/checkout' }, '/checkoutx/cart'],
  ['/%63heckout/cart', { stripPrefix: '/checkout' }, '/%63heckout/cart'],
  ['/checkout/cart', { stripPrefix: '/checkout', addPrefix: '/v2/checkout' }, '/v2/checkout/cart'],
  ['/cart', { addPrefix: '/v2/' }, '/v2/cart'],
  ['/a%2Fb', { addPrefix: '/x' }, '/x/a%2Fb']
]

for (const [path, rw, want] of cases) {
  t.test(`${path} with ${JSON.stringify(rw)}`, async (t) => { t.equal(rewritePath(path, rw), want) })
}
