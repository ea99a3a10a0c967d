/**
 * Webhooks as an attacker or a flapping signal would meet them, with a real receiver on
 * loopback: a captured delivery cannot be replayed unnoticed (the signature covers a
 * timestamp), a name cannot smuggle a Slack link into `text`, a flap is one delivery
 * now and one at the interval's end, and a header a route matches on never leaves in
 * a body. Each of these failed before.
 */
import t from 'tap'
import http from 'node:http'
import { createHmac } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { startUpstream } from '../helpers/backends.js'
import { startProxy, sleep, type TestProxy } from '../helpers/proxy.js'

const SECRET = 'a-webhook-signing-secret-32-bytes'

interface Delivery { headers: http.IncomingHttpHeaders, body: string, at: number }

async function receiver (t: Parameters<typeof startProxy>[0]): Promise<{ url: string, got: Delivery[] }> {
  const got: Delivery[] = []
  const server = http.createServer((req, res) => {
    let body = ''
    req.on('data', (c: Buffer) => { body += c.toString() })
    req.on('end', () => { got.push({ headers: req.headers, body, at: Date.now() }); res.end() })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got }
}

async function until (what: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms
  while (!what() && Date.now() < end) await sleep(50)
}

const base = (legacy: string, hook: string, extra = ''): string => `listen: { host: 127.0.0.1 }
backends:
  legacy: { url: "${legacy}" }
notify:
  - { url: "${hook}", secretEnv: HOOK_SECRET, damping: 2s }
routes:
  - { name: internal, match: { path: /internal/*, headers: { x-internal-key: "${extra || 'hunter2-first-key'}" } }, backend: legacy }
  - { name: default, match: { path: /* }, backend: legacy }
`

async function reloadWith (p: TestProxy, yaml: string): Promise<void> {
  writeFileSync(p.file, yaml)
  await p.reload('SIGHUP')
}

t.test('the signature covers the timestamp; a name cannot put a link into text; a matched header value never leaves', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const hook = await receiver(t)
  const p = await startProxy(t, base(legacy.url, hook.url), { env: { HOOK_SECRET: SECRET } })
  await reloadWith(p, base(legacy.url, hook.url, 'hunter2-second-key'))
  await until(() => hook.got.length >= 1, 5000)
  const applied = hook.got[0] as Delivery
  const ts = String(applied.headers['x-strangler-timestamp'])
  t.ok(Math.abs(Number(ts) - Date.now() / 1000) < 60, `x-strangler-timestamp is the time of sending (${ts})`)
  t.equal(applied.headers['x-strangler-signature'], `v1=${createHmac('sha256', SECRET).update(`${ts}.${applied.body}`).digest('hex')}`, 'HMAC-SHA256 of "timestamp.body"')
  t.not(applied.headers['x-strangler-signature'], `v1=${createHmac('sha256', SECRET).update(applied.body).digest('hex')}`, 'the body alone does not verify: a replay with a new timestamp needs the key')
  t.match(JSON.parse(applied.body), { kind: 'config_applied', after: { routes: { changed: [{ name: 'internal', fields: [{ field: 'match', before: { headers: { 'x-internal-key': '(value not shown)' } } }] }] } } })
  t.notMatch(applied.body, /hunter2/, 'neither the old nor the new header value is in the body')

  // A backend URL is quoted in the problem; the problem is the event's summary.
  await reloadWith(p, base(legacy.url, hook.url).replace(`url: "${legacy.url}"`, 'url: "<https://evil.example|click here> & <!channel>"'))
  await until(() => hook.got.length >= 2, 5000)
  const rejected = JSON.parse((hook.got[1] as Delivery).body) as { kind: string, text: string }
  t.equal(rejected.kind, 'config_rejected')
  t.match(rejected.text, '&lt;https://evil.example|click here&gt; &amp; &lt;!channel&gt;', 'Slack shows the characters, not a link or a mention')
  t.notMatch(rejected.text, /<https:|<!channel>/)
})

t.test('a flapping signal: the first event at once, the latest at the interval\'s end standing for the rest', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const hook = await receiver(t)
  const p = await startProxy(t, base(legacy.url, hook.url), { env: { HOOK_SECRET: SECRET } })
  const bad = (n: number): string => base(legacy.url, hook.url).replace('name: default,', `name: default, nope${n}: 1,`)
  const started = Date.now()
  for (let n = 1; n <= 6; n++) await reloadWith(p, bad(n))
  await until(() => hook.got.length >= 2, 6000)
  await sleep(500)
  t.equal(hook.got.length, 2, `six rejections in a row: two deliveries, not six (${hook.got.length})`)
  const [first, last] = hook.got.map((d) => ({ ...d, json: JSON.parse(d.body) as { kind: string, coalesced?: number, text: string, summary: string } }))
  t.ok((first?.at ?? Infinity) - started < 1500, 'the first at once')
  t.ok((last?.at ?? 0) - (first?.at ?? 0) >= 1800, 'the latest at the end of the 2 s interval')
  t.equal(last?.json.coalesced, 5, 'it stands for the five after the first')
  t.match(last?.json.summary, /nope6/, 'and it is the latest')
  t.match(last?.json.text, /the latest of 5 config_rejected events/)
  const timeline = await (await fetch(`${p.adminUrl}/timeline?kind=config_rejected`)).json() as { events: unknown[] }
  t.equal(timeline.events.length, 6, 'the timeline keeps every event')
})
