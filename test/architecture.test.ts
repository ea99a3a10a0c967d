/** The import directions between src/ folders hold: a value imported the wrong way fails lint. */
import t from 'tap'
import { ESLint } from 'eslint'
import { ROOT } from './helpers/proxy.js'

const eslint = new ESLint({ cwd: ROOT })

async function problems (file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: `${ROOT}/${file}` })
  return (result?.messages ?? []).filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports').map((m) => m.message)
}

t.test('a value import from a folder above fails; types are allowed; downward values are allowed', async (t) => {
  t.match(await problems('src/routing/x.ts', "import { decide } from '../decision/decide.js'\nexport const x = decide\n"), [/src\/routing\/ may import only types from config, flags, decision/], 'routing → decision value')
  t.match(await problems('src/proxy/x.ts', "import { Runtime } from '../lifecycle/runtime.js'\nexport const x = Runtime\n"), [/src\/proxy\/ may import only types/], 'proxy → lifecycle value')
  t.match(await problems('src/observe/x.ts', "import { Guard } from '../safety/guard.js'\nexport const x = Guard\n"), [/src\/observe\//], 'observe → safety value')
  t.same(await problems('src/proxy/x.ts', "import type { Runtime } from '../lifecycle/runtime.js'\nexport type X = Runtime\n"), [], 'a type import upward is fine')
  t.same(await problems('src/lifecycle/x.ts', "import { Guard } from '../safety/guard.js'\nexport const x = Guard\n"), [], 'lifecycle may import any folder')
  t.same(await problems('src/proxy/x.ts', "import { decide } from '../decision/decide.js'\nexport const x = decide\n"), [], 'proxy → decision is downward')
  t.match(await problems('src/errors.ts', "import { Guard } from './safety/guard.js'\nexport const x = Guard\n"), [/shared by every folder/], 'the shared root imports no folder')
})

t.test('the source tree as it is has no wrong-way import', async (t) => {
  const results = await eslint.lintFiles(['src/**/*.ts'])
  const wrong = results.flatMap((r) => r.messages.filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports').map((m) => `${r.filePath}:${m.line}: ${m.message}`))
  t.same(wrong, [])
})
