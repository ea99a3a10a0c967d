import t from 'tap'
import { writeFileSync } from 'node:fs'
import { request } from 'undici'
import { startUpstream, startProxy, yamlFor, sleep, type TestProxy } from './helper.js'

async function backendOf (proxy: TestProxy, path: string): Promise<string> {
  const res = await request(`${proxy.url}${path}`)
  return ((await res.body.json()) as { backend: string }).backend
}

async function until (cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await sleep(25)
  }
}

t.test('a file change swaps the table; a bad file is rejected whole and logged with file:line', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const backends = { legacy: legacy.url, django: django.url }
  const proxy = await startProxy(t, yamlFor(backends, '  - { name: all, match: { path: /* }, backend: legacy }'), { watch: true })
  t.equal(await backendOf(proxy, '/orders/1'), 'legacy')
  const v1 = proxy.runtime.snapshot.config.version

  writeFileSync(proxy.file, yamlFor(backends, `  - { name: orders, match: { path: /orders/* }, backend: django }
  - { name: all, match: { path: /* }, backend: legacy }`))
  await until(() => proxy.runtime.snapshot.config.version !== v1)
  t.equal(await backendOf(proxy, '/orders/1'), 'django')
  t.equal(await backendOf(proxy, '/other'), 'legacy')
  t.match(proxy.logs.find((l) => l.msg === 'config reloaded'), { trigger: 'file-change', previousVersion: v1 })
  const v2 = proxy.runtime.snapshot.config.version

  // Half-edited file: one good change and one bad reference. Nothing of it may apply.
  writeFileSync(proxy.file, yamlFor(backends, `  - { name: orders, match: { path: /orders/* }, backend: legacy }
  - { name: all, match: { path: /* }, backend: djnago }`))
  await until(() => proxy.logs.some((l) => String(l.msg).startsWith('config reload rejected')))
  t.equal(proxy.runtime.snapshot.config.version, v2, 'the last good table keeps serving')
  t.equal(await backendOf(proxy, '/orders/1'), 'django')
  const rejected = proxy.logs.find((l) => String(l.msg).startsWith('config reload rejected'))
  t.match(rejected, { level: 50, file: proxy.file, keptVersion: v2, problems: [`${proxy.file}:8:48: routes[1].backend: unknown backend "djnago"; defined: legacy, django`] })
})

t.test('a request in flight finishes on the table it started with', async (t) => {
  let release: () => void = () => {}
  const legacy = await startUpstream(t, 'legacy', (_req, res) => {
    release = () => res.end('old backend, slow')
  })
  const django = await startUpstream(t, 'django')
  const backends = { legacy: legacy.url, django: django.url }
  const proxy = await startProxy(t, yamlFor(backends, '  - { name: all, match: { path: /* }, backend: legacy }'))
  const inflight = request(`${proxy.url}/slow`)
  await until(() => legacy.seen.length === 1)
  writeFileSync(proxy.file, yamlFor({ django: django.url }, '  - { name: all, match: { path: /* }, backend: django }'))
  const result = proxy.reload('test')
  t.match(result, { ok: true, changed: true })
  t.equal(await backendOf(proxy, '/new'), 'django', 'new requests use the new table')
  release()
  const res = await inflight
  t.equal(res.statusCode, 200)
  t.equal(await res.body.text(), 'old backend, slow', 'the in-flight request completed on the retired backend')
})

t.test('settings bound to the sockets are reported as needing a restart', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const proxy = await startProxy(t, yamlFor({ legacy: legacy.url }, '  - { name: all, match: { path: /* }, backend: legacy }'))
  writeFileSync(proxy.file, yamlFor({ legacy: legacy.url }, '  - { name: all, match: { path: /* }, backend: legacy }', 'client: { maxHeaderSize: 8kb }'))
  t.match(proxy.reload('test'), { ok: true, changed: true, restartRequired: ['client.maxHeaderSize'] })
  t.match(proxy.logs.find((l) => l.msg === 'these settings change only on restart'), { level: 40, fields: ['client.maxHeaderSize'] })
  t.match(proxy.reload('again'), { ok: true, changed: false })
})
