/**
 * The import directions between src/ folders hold: anything imported the wrong way,
 * a type included, fails lint; no two modules import each other; and no function
 * or file of src/ outgrows what a reader takes in at once.
 */
import t from 'tap'
import { ESLint } from 'eslint'
import { ROOT } from './helpers/proxy.js'

const eslint = new ESLint({ cwd: ROOT })

async function problems (file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${ROOT}/${file}` })
  return (result?.messages ?? []).filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports').map((m) => m.message)
}

t.test('an import from a folder above fails, a type import included; downward imports are allowed', async (t) => {
  t.match(await problems('src/routing/x.ts', "import { decide } from '../decision/decide.js'\nexport const x = decide\n"), [/src\/routing\/ may not import from flags, identity, decision/], 'routing → decision value')
  t.match(await problems('src/proxy/x.ts', "import { Runtime } from '../lifecycle/runtime.js'\nexport const x = Runtime\n"), [/src\/proxy\/ may not import from/], 'proxy → lifecycle value')
  t.match(await problems('src/observe/x.ts', "import { Guard } from '../safety/guard.js'\nexport const x = Guard\n"), [/src\/observe\//], 'observe → safety value')
  t.match(await problems('src/proxy/x.ts', "import type { Runtime } from '../lifecycle/runtime.js'\nexport type X = Runtime\n"), [/src\/proxy\/ may not import from .*not even types: declare the interface it needs here/], 'a type import upward fails too')
  t.match(await problems('src/decision/x.ts', "import type { Guard } from '../safety/guard.js'\nexport type X = Guard\n"), [/src\/decision\//], 'decision → safety type')
  t.same(await problems('src/lifecycle/x.ts', "import { Guard } from '../safety/guard.js'\nexport const x = Guard\n"), [], 'lifecycle may import any folder')
  t.same(await problems('src/proxy/x.ts', "import { decide } from '../decision/decide.js'\nexport const x = decide\n"), [], 'proxy → decision is downward')
  t.same(await problems('src/routing/x.ts', "import type { Config } from '../config/config.js'\nexport type X = Config\n"), [], 'routing → config is downward')
  t.match(await problems('src/errors.ts', "import { Guard } from './safety/guard.js'\nexport const x = Guard\n"), [/shared by every folder/], 'the shared root imports no folder')
})

// One lint of src/ for both checks of the tree as it is below.
const tree = eslint.lintFiles(['src/**/*.ts'])
const found = async (rules: readonly string[]): Promise<string[]> => (await tree).flatMap((r) => r.messages.filter((m) => rules.includes(m.ruleId ?? '')).map((m) => `${r.filePath}:${m.line}: ${m.message}`))

t.test('the source tree as it is has no wrong-way import', async (t) => {
  t.same(await found(['@typescript-eslint/no-restricted-imports']), [])
})

t.test('no two modules of src/ import each other, types included', async (t) => {
  const { readdirSync, readFileSync } = await import('node:fs')
  const { join, dirname, resolve, relative } = await import('node:path')
  const files = (readdirSync(join(ROOT, 'src'), { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).map((f) => join(ROOT, 'src', f))
  const imports = new Map(files.map((f) => [f, [...readFileSync(f, 'utf8').matchAll(/^import .* from '(\.[^']+)\.js'/gm)].map((m) => resolve(dirname(f), `${m[1] as string}.ts`))]))
  const pairs = files.flatMap((a) => (imports.get(a) ?? []).filter((b) => imports.get(b)?.includes(a) === true && a < b).map((b) => `${relative(ROOT, a)} ↔ ${relative(ROOT, b)}`))
  t.same(pairs, [])
})

t.test('a function over 80 lines, a branchy one or a file over 400 lines fails lint', async (t) => {
  const rules = async (code: string): Promise<string[]> => {
    const [result] = await eslint.lintText(code, { filePath: `${ROOT}/src/proxy/x.ts` })
    return (result?.messages ?? []).map((m) => m.ruleId ?? '')
  }
  const body = (n: number): string => Array.from({ length: n }, (_, i) => `  const v${i} = ${i}\n  void v${i}`).join('\n')
  t.same(await rules(`export function long (): void {\n${body(41)}\n}\n`), ['max-lines-per-function'], '82 lines')
  t.same(await rules(`export function short (): void {\n${body(39)}\n}\n`), [], '78 lines')
  const branches = Array.from({ length: 26 }, (_, i) => `  if (x === ${i}) return ${i}`).join('\n')
  t.same(await rules(`export function branchy (x: number): number {\n${branches}\n  return -1\n}\n`), ['complexity'], 'complexity 27')
  const consts = Array.from({ length: 401 }, (_, i) => `export const c${i} = ${i}`).join('\n')
  t.same(await rules(consts + '\n'), ['max-lines'], '401 lines')
})

t.test('the source tree as it is keeps those limits', async (t) => {
  t.same(await found(['max-lines-per-function', 'complexity', 'max-lines']), [])
})
