import t from 'tap'
import { writeFileSync, appendFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, renameSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { request } from 'undici'
import { startUpstream } from '../helpers/backends.js'
import { startProxy, yamlFor, sleep, type TestProxy } from '../helpers/proxy.js'

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

t.test('only the named files reload: writes beside them do nothing, and a flags edit under constant writes applies within 1 s', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const flags = (on: boolean): string => `version: 2\nfeatures:\n  - { name: orders-on-django, enabled: ${on}, strategies: [ { name: default } ] }\n`
  const proxy = await startProxy(t, yamlFor({ legacy: legacy.url, django: django.url }, '  - { name: orders, match: { path: /* }, backend: legacy, flag: { name: orders-on-django, backend: django } }', 'flags: { file: flags.yaml }'), { watch: true, files: { 'flags.yaml': flags(false) } })
  const dir = dirname(proxy.file)
  const count = (msg: string): number => proxy.logs.filter((l) => l.msg === msg).length
  const loadedAtStart = count('flags loaded')
  // A log file beside the config, written continuously (as `start > proxy.log` does).
  let writing = true
  const writer = (async () => {
    let i = 0
    while (writing) {
      appendFileSync(join(dir, 'proxy.log'), `line ${i++}\n`)
      writeFileSync(join(dir, 'notes.txt'), String(i))
      await sleep(20)
    }
  })()
  await sleep(1000)
  t.equal(count('flags loaded'), loadedAtStart, 'no flags reload from other files')
  t.equal(count('config reloaded') + count('config reload rejected, still serving version'), 0, 'no config reload from other files')
  t.equal(await backendOf(proxy, '/orders/1'), 'legacy')

  const edited = performance.now()
  writeFileSync(join(dir, 'flags.yaml'), flags(true))
  await until(async () => (await backendOf(proxy, '/orders/1')) === 'django', 3000)
  const ms = performance.now() - edited
  writing = false
  await writer
  t.ok(ms < 1000, `the flags edit applied after ${ms.toFixed(0)} ms while the other files kept changing`)
  t.equal(count('flags loaded'), loadedAtStart + 1, 'exactly one flags reload')
})

t.test('a bad routes.yaml reverted to the running content clears strangler_config_last_reload_successful', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const good = yamlFor({ legacy: legacy.url }, '  - { name: all, match: { path: /* }, backend: legacy }')
  const proxy = await startProxy(t, good)
  const gauge = async (): Promise<string | undefined> => /^strangler_config_last_reload_successful (\S+)$/m.exec(await (await request(`${proxy.adminUrl}/metrics`)).body.text())?.[1]
  writeFileSync(proxy.file, good.replace('backend: legacy', 'backend: nowhere'))
  t.match(proxy.reload('SIGHUP'), { ok: false })
  t.equal(await gauge(), '0', 'rejected: 0')
  writeFileSync(proxy.file, good)
  t.match(proxy.reload('SIGHUP'), { ok: true, changed: false })
  t.equal(await gauge(), '1', 'the running content again: 1')
})

t.test('a Kubernetes ConfigMap update (the ..data symlink swap) reloads routes.yaml', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const django = await startUpstream(t, 'django')
  const backends = { legacy: legacy.url, django: django.url }
  const proxy = await startProxy(t, yamlFor(backends, '  - { name: all, match: { path: /* }, backend: legacy }'), { watch: true })
  const dir = dirname(proxy.file)
  // The layout the kubelet makes: routes.yaml → ..data/routes.yaml, ..data → ..<timestamp>.
  mkdirSync(join(dir, '..v1'))
  writeFileSync(join(dir, '..v1', 'routes.yaml'), readFileSync(proxy.file))
  symlinkSync('..v1', join(dir, '..data'))
  rmSync(proxy.file)
  symlinkSync('..data/routes.yaml', proxy.file)
  await sleep(400)
  const v1 = proxy.runtime.snapshot.config.version
  mkdirSync(join(dir, '..v2'))
  writeFileSync(join(dir, '..v2', 'routes.yaml'), yamlFor(backends, '  - { name: all, match: { path: /* }, backend: django }'))
  symlinkSync('..v2', join(dir, '..data_tmp'))
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'))
  await until(() => proxy.runtime.snapshot.config.version !== v1, 2000)
  t.equal(await backendOf(proxy, '/x'), 'django', 'the new ConfigMap content serves')
})
