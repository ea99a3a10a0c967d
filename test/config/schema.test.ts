/** The published schema editors use: the validator's own, described, and valid for every shipped file. */
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { Ajv } from 'ajv'
import { parse } from 'yaml'
import { ROOT } from '../helpers/proxy.js'
import { configSchema } from '../../src/config/schema.js'
import { DEFAULT_PLACES } from '../../src/config/schema-defaults.js'
import { canonicalKeyPath } from '../../src/config/schema-docs.js'
import { parseConfig } from '../../src/config/config.js'
import { parseDuration } from '../../src/config/units.js'

const published = JSON.parse(readFileSync(join(ROOT, 'schema/routes.schema.json'), 'utf8')) as Record<string, unknown>
const SHIPPED = ['routes.yaml', 'deploy/compose/routes.yaml']

/** The schema without what the publisher adds: descriptions, examples and the header. */
function strip (node: unknown, top = true): unknown {
  if (Array.isArray(node)) return node.map((n) => strip(n, false))
  if (node === null || typeof node !== 'object') return node
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(node)) {
    if (top && (k === '$schema' || k === 'title' || k === 'description')) continue
    // `examples`/`description` are annotations only where they sit beside a type, not as property names
    if ((k === 'examples' || k === 'description') && !top && typeof v !== 'object') continue
    if (k === 'examples' && Array.isArray(v)) continue
    if (k === 'default' && !top) continue
    out[k] = strip(v, false)
  }
  return out
}

t.test('schema/routes.schema.json is the validator\'s schema, annotated', async (t) => {
  t.same(strip(published), JSON.parse(JSON.stringify(configSchema)), 'same shape as src/config/schema.ts (run npm run schema after changing it)')
  const printed = execFileSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), 'schema'], { encoding: 'utf8' })
  t.equal(printed, readFileSync(join(ROOT, 'schema/routes.schema.json'), 'utf8'), 'strangler-proxy schema prints the file byte for byte')
})

t.test('every key has a description and an example that the key itself accepts', async (t) => {
  const ajv = new Ajv({ allErrors: true, strict: false })
  const missing: string[] = []
  const wrong: string[] = []
  const visit = (node: Record<string, unknown>, path: string, owner: Record<string, unknown>): void => {
    for (const branch of (node.anyOf as Array<Record<string, unknown>> | undefined) ?? []) visit(branch, path, owner)
    const props = node.properties as Record<string, Record<string, unknown>> | undefined
    const children: Array<[string, Record<string, unknown>]> = Object.entries(props ?? {}).map(([k, v]) => [path === '' ? k : `${path}.${k}`, v])
    if (typeof node.additionalProperties === 'object') children.push([`${path}.*`, node.additionalProperties as Record<string, unknown>])
    for (const [p, child] of children) {
      if (typeof child.description !== 'string' || child.description.length < 8 || !Array.isArray(child.examples)) missing.push(p)
      else if (!ajv.validate({ ...child, $defs: owner.$defs }, child.examples[0])) wrong.push(`${p}: ${ajv.errorsText()}`)
      visit(child, p, owner)
    }
    if (typeof node.items === 'object') visit(node.items as Record<string, unknown>, `${path}[]`, owner)
  }
  visit(published, '', published)
  t.same(missing, [], 'keys without description or example')
  t.same(wrong, [], 'examples the schema refuses')
  t.ok(JSON.stringify(published).split('"description"').length > 140, 'more than 140 keys described')
})

t.test('every default is in the schema, accepted by its key, and what the proxy uses when the key is left out', async (t) => {
  const ajv = new Ajv({ allErrors: true, strict: false })
  const shown = new Map<string, unknown>()
  const wrong: string[] = []
  const visit = (node: Record<string, unknown>, path: string): void => {
    for (const branch of (node.anyOf as Array<Record<string, unknown>> | undefined) ?? []) visit(branch, path)
    for (const [k, child] of Object.entries((node.properties ?? {}) as Record<string, Record<string, unknown>>)) {
      const p = path === '' ? k : `${path}.${k}`
      if ('default' in child) {
        shown.set(canonicalKeyPath(p), child.default)
        if (!ajv.validate({ ...child, $defs: published.$defs }, child.default)) wrong.push(`${p}: ${ajv.errorsText()}`)
      }
      visit(child, p)
    }
    if (typeof node.additionalProperties === 'object') visit(node.additionalProperties as Record<string, unknown>, `${path}.*`)
    if (typeof node.items === 'object') visit(node.items as Record<string, unknown>, `${path}[]`)
  }
  visit(published, '')
  t.same(wrong, [], 'defaults their own key refuses')
  // The JWT algorithms' default depends on the key (a secret or a public key): documented, not one value.
  const placed = new Set(DEFAULT_PLACES.filter((p) => shown.has(p.path)).map((p) => p.leaf))
  const unplaced = DEFAULT_PLACES.map((p) => p.leaf).filter((leaf) => !placed.has(leaf) && leaf !== 'jwt.hmacAlgorithms' && leaf !== 'jwt.keyAlgorithms')
  t.same(unplaced, [], 'every value of DEFAULTS lands on a key of routes.yaml')
  t.ok(shown.size > 80, `${shown.size} keys show their default`)
  t.equal(shown.get('client.headersTimeout'), '10s')
  t.equal(shown.get('cohort.sessionCookie.maxAge'), '365d')
  t.equal(shown.get('routes[].shadow.compare.headers')?.toString(), 'content-type')

  const config = parseConfig('flags: { file: flags.yaml }\nbackends: { a: { url: "http://a" }, b: { url: "http://b" } }\nroutes:\n  - { name: r, match: { path: / }, backend: a, flag: { name: f, backend: b }, shadow: { backend: b }, ramp: { steps: [10] } }\n', 'routes.yaml')
  const route = config.routes[0]
  t.equal(config.client.headersTimeout, parseDuration(shown.get('client.headersTimeout') as string), 'client.headersTimeout')
  t.equal(config.backends.get('a')?.timeouts.bodyIdle, parseDuration(shown.get('backends.*.timeouts.bodyIdle') as string), 'backends.*.timeouts.bodyIdle')
  t.equal(route?.shadow?.maxConcurrent, shown.get('routes[].shadow.maxConcurrent'), 'routes[].shadow.maxConcurrent')
  t.equal(route?.ramp?.hold, parseDuration(shown.get('routes[].ramp.hold') as string), 'routes[].ramp.hold')
})

t.test('every shipped routes.yaml names the schema and passes it', async (t) => {
  const ajv = new Ajv({ allErrors: true, strict: false })
  const validate = ajv.compile(published)
  for (const file of SHIPPED) {
    const text = readFileSync(join(ROOT, file), 'utf8')
    const modeline = /^# yaml-language-server: \$schema=(\S+)$/m.exec(text)
    t.ok(modeline, `${file} has the modeline`)
    t.equal(join(ROOT, file, '..', modeline?.[1] ?? ''), join(ROOT, 'schema/routes.schema.json'), `${file}: the modeline points at the schema`)
    t.ok(validate(parse(text)), `${file}: ${ajv.errorsText(validate.errors)}`)
  }
  t.notOk(validate({ backends: { a: { url: 'http://a' } }, routes: [{ name: 'r', match: { path: '/' }, backend: 'a', timeout: 5 }] }), 'and the schema still refuses an unknown key')
})
