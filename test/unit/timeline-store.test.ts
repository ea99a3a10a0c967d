/** The timeline file: appended, rotated past its size with one older file kept, read back with impacts merged. */
import t from 'tap'
import { existsSync, statSync, appendFileSync } from 'node:fs'
import { tempDir } from '../helpers/proxy.js'
import { TimelineStore } from '../../src/timeline/store.js'
import type { TimelineEvent } from '../../src/timeline/event.js'

const event = (i: number): TimelineEvent => ({ id: `e${i}`, time: new Date(1_700_000_000_000 + i).toISOString(), kind: 'config_applied', routes: ['r'], cause: 'SIGHUP', summary: `event ${i} ${'x'.repeat(200)}`, configVersion: 'abc', instance: { host: 'h', pid: 1 } })

t.test('rotation keeps the file bounded and one older file; history reads back across both', async (t) => {
  const dir = tempDir(t)
  const store = new TimelineStore(() => dir, '/etc/routes.yaml', 2000)
  for (let i = 0; i < 20; i++) store.appendEvent(event(i))
  store.appendImpact('e19', { windowMs: 1000, routes: {} })
  t.ok(existsSync(`${store.file}.1`), 'rotated')
  t.ok(statSync(store.file).size < 2000 + 400, 'the current file stays near its bound')
  t.equal(statSync(store.file).mode & 0o777, 0o600, 'private')
  const back = new TimelineStore(() => dir, '/etc/routes.yaml', 2000).load()
  t.ok(back.length >= 4 && back.length < 20, `${back.length} events kept (older ones rotated away)`)
  t.equal(back.at(-1)?.id, 'e19')
  t.same(back.at(-1)?.impact, { windowMs: 1000, routes: {} }, 'the impact line is merged into its event')
  const ids = back.map((e) => Number(e.id.slice(1)))
  t.same(ids, [...ids].sort((a, b) => a - b), 'in order')
})

t.test('a damaged line is skipped, not fatal', async (t) => {
  const dir = tempDir(t)
  const store = new TimelineStore(() => dir, '/etc/routes.yaml', 1_000_000)
  store.appendEvent(event(1))
  appendFileSync(store.file, '{"type":"event","event":{"id":\n')
  store.appendEvent(event(2))
  t.same(store.load().map((e) => e.id), ['e1', 'e2'])
})
