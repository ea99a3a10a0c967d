import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from './helpers/proxy.js'

/** Lowest versions without published advisories that affect a proxy. */
const FLOORS: Record<string, string> = {
  fastify: '5.8.3',
  '@fastify/reply-from': '12.6.4',
  '@fastify/http-proxy': '11.4.4',
  undici: '7.24.0'
}
/** Where each must be installed: the proxy's own lock, and the benchmark's (its bare @fastify/http-proxy baseline). */
const LOCKS: Record<string, ReadonlySet<string>> = {
  'package-lock.json': new Set(['fastify', 'undici']),
  'bench/package-lock.json': new Set(['fastify', 'undici', '@fastify/http-proxy', '@fastify/reply-from'])
}
const REQUIRED = LOCKS['package-lock.json'] as ReadonlySet<string>

function atLeast (version: string, floor: string): boolean {
  const a = version.split(/[.+-]/).slice(0, 3).map(Number)
  const b = floor.split('.').map(Number)
  for (let i = 0; i < 3; i++) {
    if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0)
  }
  return true
}

t.test('no installed copy of the HTTP stack is below its advisory floor', async (t) => {
  for (const [file, required] of Object.entries(LOCKS)) {
    const lock = JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as { packages: Record<string, { version?: string, dev?: boolean }> }
    for (const [name, floor] of Object.entries(FLOORS)) {
      // Copies that only build tools pull in (dev: true) never serve traffic.
      const copies = Object.entries(lock.packages).filter(([path, meta]) => meta.dev !== true && (path === `node_modules/${name}` || path.endsWith(`/node_modules/${name}`)))
      if (required.has(name)) t.ok(copies.length > 0, `${file}: ${name} is installed`)
      for (const [path, meta] of copies) {
        t.ok(atLeast(meta.version ?? '0.0.0', floor), `${file}: ${path}@${meta.version} >= ${floor}`)
      }
    }
  }
  // The copy actually loaded, too: a stale node_modules would not show in the lock.
  for (const name of REQUIRED) {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }
    t.ok(atLeast(pkg.version, FLOORS[name] as string), `loaded ${name}@${pkg.version} >= ${FLOORS[name]}`)
  }
})

t.test('the version comparison can fail', async (t) => {
  t.notOk(atLeast('5.8.2', '5.8.3'))
  t.notOk(atLeast('7.23.9', '7.24.0'))
  t.ok(atLeast('12.6.4', '12.6.4'))
  t.ok(atLeast('6.0.0', '5.8.3'))
})
