/**
 * The legacy inventory under a hostile client, on real sockets: junk paths from one
 * address (answered 404 by legacy, or 200 by a legacy app that answers everything)
 * cannot push the endpoints real clients use out of the bounded list.
 */
import t from 'tap'
import { Agent, request } from 'undici'
import { startUpstream } from '../helpers/backends.js'
import { startProxy } from '../helpers/proxy.js'

t.test('junk from one client fills neither the list nor a segment; real endpoints stay listed', async (t) => {
  // Legacy answers 404 under /missing and 200 everywhere else, as an app with a catch-all page does.
  const legacy = await startUpstream(t, 'legacy', (req, res) => { res.writeHead((req.url ?? '').startsWith('/missing') ? 404 : 200).end() })
  const p = await startProxy(t, `listen: { host: 127.0.0.1 }
backends:
  legacy: { url: "${legacy.url}", legacy: true }
inventory: { maxTemplates: 60 }
routes:
  - { name: default, match: { path: /* }, backend: legacy }
`)
  const attacker = new Agent({ localAddress: '127.0.0.9' })
  t.teardown(() => attacker.close())
  for (let i = 0; i < 150; i++) {
    await (await request(`${p.url}/missing/x${i}y`, { dispatcher: attacker })).body.dump()
    await (await request(`${p.url}/z${i}q/page`, { dispatcher: attacker })).body.dump()
  }
  for (const path of ['/account', '/cart/17', '/help/faq', '/orders/9/invoice']) await (await request(`${p.url}${path}`)).body.dump()
  const inv = await (await request(`${p.adminUrl}/inventory`)).body.json() as { entries: Array<{ template: string }>, other: number, notFound: number }
  const templates = inv.entries.map((e) => e.template)
  t.ok(['/account', '/cart/:id', '/help/faq', '/orders/:id/invoice'].every((x) => templates.includes(x)), `the real endpoints are listed: ${templates.filter((x) => !x.startsWith('/z')).join(', ')}`)
  t.equal(inv.notFound, 150, 'the 404s are counted apart')
  t.equal(templates.filter((x) => x.startsWith('/z')).length, 20, 'the attacking address added 20 templates, no more')
  t.equal(inv.other, 130, 'its other 130 requests are counted as other')
})
