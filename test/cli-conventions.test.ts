/** Command-line conventions: --help and --version, tokens minted by the CLI, refusals at start. */
import t from 'tap'
import { join } from 'node:path'
import { startUpstream } from './helpers/backends.js'
import { writeConfig, yamlFor, ROOT } from './helpers/proxy.js'
import { runCli, spawnCli } from './helpers/cli.js'

const OVERRIDE_SECRET = 'an-override-secret-of-32-bytes!!'

t.test('override-token: signs with the secret in the documented format; refuses without one', async (t) => {
  const { createHmac } = await import('node:crypto')
  const res = await runCli(['override-token', 'django', '--route', 'orders', '--ttl', '2h'], { STRANGLER_OVERRIDE_SECRET: OVERRIDE_SECRET })
  t.equal(res.code, 0)
  const m = /^django@orders\.(\d+)\.([0-9a-f]{64})\n$/.exec(res.stdout)
  t.ok(m, `format <backend>@<route>.<expires>.<hmac>: ${res.stdout}`)
  const expires = Number(m?.[1])
  t.ok(Math.abs(expires - (Date.now() / 1000 + 7200)) < 60, 'expires in two hours')
  t.equal(m?.[2], createHmac('sha256', OVERRIDE_SECRET).update(`django@orders.${expires}`).digest('hex'), 'HMAC-SHA256 of the subject')
  const [none, long, short] = await Promise.all([
    runCli(['override-token', 'django'], { STRANGLER_OVERRIDE_SECRET: '' }),
    runCli(['override-token', 'django', '--ttl', '90d'], { STRANGLER_OVERRIDE_SECRET: OVERRIDE_SECRET }),
    runCli(['override-token', 'django'], { STRANGLER_OVERRIDE_SECRET: 's3cret' })
  ])
  t.equal(none.code, 2)
  t.match(none.stderr, 'STRANGLER_OVERRIDE_SECRET is not set')
  t.equal(long.code, 2, 'no token lives longer than 30 days')
  t.equal(short.code, 2, 'a 6-byte secret signs nothing')
  t.match(short.stderr, 'STRANGLER_OVERRIDE_SECRET holds 6 bytes; a signing secret needs at least 32')
})

t.test('start: a short STRANGLER_OVERRIDE_SECRET or an unset webhook secret refuses the config', async (t) => {
  const file = writeConfig(t, yamlFor({ legacy: 'http://127.0.0.1:1' }, '  - { name: all, match: { path: /* }, backend: legacy }'))
  const short = await runCli(['start', '--config', file], { STRANGLER_OVERRIDE_SECRET: 'x', PORT: '0', ADMIN_PORT: '0' })
  t.not(short.code, 0)
  t.match(short.stderr, /STRANGLER_OVERRIDE_SECRET: STRANGLER_OVERRIDE_SECRET holds 1 bytes; a signing secret needs at least 32/)
  const hooked = writeConfig(t, yamlFor({ legacy: 'http://127.0.0.1:1' }, '  - { name: all, match: { path: /* }, backend: legacy }') + 'notify: [{ url: "http://127.0.0.1:9/hook", secretEnv: HOOK_SECRET }]\n')
  const unset = await runCli(['start', '--config', hooked], { PORT: '0', ADMIN_PORT: '0' })
  t.not(unset.code, 0, 'deliveries would go out unsigned')
  t.match(unset.stderr, /notify\[0\]\.secretEnv: environment variable HOOK_SECRET is not set/)
})

t.test('start: an empty STRANGLER_ADMIN_TOKEN is refused rather than turning authentication off', async (t) => {
  const file = writeConfig(t, yamlFor({ legacy: 'http://127.0.0.1:1' }, '  - { name: all, match: { path: /* }, backend: legacy }'))
  const res = await runCli(['start', '--config', file], { STRANGLER_ADMIN_TOKEN: '', PORT: '0', ADMIN_PORT: '0' })
  t.equal(res.code, 2)
  t.match(res.stderr, 'STRANGLER_ADMIN_TOKEN is set but empty')
})

t.test('every command answers --help with its usage and exit 0; unknown options exit 2 with the usage; --version', async (t) => {
  const asked = [['start', '--help'], ['validate', '-h'], ['explain', '--help'], ['override-token', '-h']] as const
  // Each is a process of its own: asked side by side.
  const answers = await Promise.all(asked.map(async ([command, flag]) => await runCli([command, flag])))
  for (const [i, [command, flag]] of asked.entries()) {
    const res = answers[i] as Awaited<ReturnType<typeof runCli>>
    t.equal(res.code, 0, `${command} ${flag}: exit 0`)
    t.match(res.stdout, `Usage: strangler-proxy ${command}`, `${command} ${flag}: its usage`)
    t.equal(res.stderr, '')
  }
  const unknown = await runCli(['start', '--frobnicate'])
  t.equal(unknown.code, 2)
  t.match(unknown.stderr, /SPX_USAGE: .*frobnicate[^]*Usage:/)
  const { readFileSync } = await import('node:fs')
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
  const version = await runCli(['--version'])
  t.same([version.code, version.stdout], [0, `${pkg.version}\n`])
})

t.test('start warns once on a Node major without security support', async (t) => {
  const legacy = await startUpstream(t, 'legacy')
  const file = writeConfig(t, yamlFor({ legacy: legacy.url }, '  - { name: all, match: { path: /* }, backend: legacy }'))
  const cli = spawnCli(t, ['start', '--config', file], { PORT: '0', ADMIN_PORT: '0' })
  await cli.waitFor((l) => l.msg === 'listening')
  const warned = cli.lines.filter((l) => /run production on Node 22 or 24/.test(String(l.msg)))
  const major = Number(process.versions.node.split('.')[0])
  t.equal(warned.length, [22, 24].includes(major) ? 0 : 1, `Node ${process.versions.node}`)
  cli.child.kill('SIGTERM')
  await cli.exited
})
