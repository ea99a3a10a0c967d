/** What a user or an auditor finds in the repository and the npm package. */
import t from 'tap'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT } from './helpers/proxy.js'

t.test('the files every open-source project has', async (t) => {
  for (const file of ['README.md', 'LICENSE', 'SECURITY.md', 'CHANGELOG.md', 'CONTRIBUTING.md']) t.ok(existsSync(join(ROOT, file)), file)
  t.match(readFileSync(join(ROOT, 'LICENSE'), 'utf8'), /Apache License\s+Version 2\.0, January 2004/, 'the Apache-2.0 text')
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { license: string, version: string }
  t.equal(pkg.license, 'Apache-2.0')
  t.match(readFileSync(join(ROOT, 'CHANGELOG.md'), 'utf8'), new RegExp(`## ${pkg.version.replace(/\./g, '\\.')} - \\d{4}-\\d{2}-\\d{2}`), 'the released version is in the changelog')
})

t.test('every source map in the built package carries its sources', async (t) => {
  const dist = join(ROOT, 'dist')
  const maps = (readdirSync(dist, { recursive: true }) as string[]).filter((f) => f.endsWith('.js.map'))
  t.ok(maps.length > 10, `${maps.length} maps (npm ci builds dist/ through prepare)`)
  const missing = maps.filter((f) => {
    const map = JSON.parse(readFileSync(join(dist, f), 'utf8')) as { sources: string[], sourcesContent?: Array<string | null> }
    return map.sourcesContent?.length !== map.sources.length || map.sourcesContent.some((c) => typeof c !== 'string' || c === '')
  })
  t.same(missing, [], 'src/ is not shipped, so each map inlines what it points at')
})
