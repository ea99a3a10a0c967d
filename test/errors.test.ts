import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Errors } from '../src/errors.js'
import { ROOT } from './helpers/proxy.js'

t.test('every error code is documented in docs/errors.md with its status', async (t) => {
  const readme = readFileSync(join(ROOT, 'docs/errors.md'), 'utf8')
  for (const e of Object.values(Errors)) {
    const row = readme.split('\n').find((l) => l.startsWith(`| \`${e.code}\` |`))
    t.ok(row, `${e.code} has a row in the error table`)
    t.match(row, `| ${e.status === 0 ? '-' : e.status} |`, `${e.code} documents status ${e.status}`)
  }
})

t.test('codes are unique and stable in form', async (t) => {
  const codes = Object.values(Errors).map((e) => e.code)
  t.equal(new Set(codes).size, codes.length)
  for (const c of codes) t.match(c, /^SPX_[A-Z_]+$/)
})
