import js from '@eslint/js'
import tseslint from 'typescript-eslint'

/**
 * The folders of src/, lowest first. A folder may import only from folders below it
 * (and from errors.ts and problem.ts at the root), types included: a lower folder
 * that needs something of a higher one declares the small interface it needs, and
 * lifecycle/ passes the implementation in.
 * docs/architecture.md says what each folder is for.
 */
const LAYERS = ['config', 'observe', 'routing', 'flags', 'identity', 'decision', 'proxy', 'safety', 'ramp', 'timeline', 'coverage', 'status', 'admin', 'lifecycle']

const layerRules = LAYERS.map((folder, i) => ({
  files: [`src/${folder}/**/*.ts`],
  rules: {
    '@typescript-eslint/no-restricted-imports': ['error', {
      patterns: [{
        group: [...LAYERS.slice(i + 1).map((above) => `../${above}/*`), '../cli.js'],
        allowTypeImports: false,
        message: `src/${folder}/ may not import from ${LAYERS.slice(i + 1).join(', ')}, the folders above it, not even types: declare the interface it needs here (docs/architecture.md)`
      }]
    }]
  }
}))

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.tap/', 'bench/node_modules/', 'coverage/', 'reports/', '.stryker-tmp/', 'test/unleash-server/', '.ci/node24/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'no-control-regex': 'off'
    }
  },
  {
    // A function a reader takes in at once, a file of one responsibility
    // (docs/architecture.md): the request path is its steps, not one long function.
    files: ['src/**/*.ts'],
    rules: {
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: true, skipComments: true }],
      complexity: ['error', 25],
      'max-lines': ['error', { max: 400, skipBlankLines: true, skipComments: true }]
    }
  },
  ...layerRules,
  {
    // The shared root files are below every folder.
    files: ['src/errors.ts', 'src/problem.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', { patterns: [{ group: ['./*/*'], allowTypeImports: true, message: 'errors.ts and problem.ts are shared by every folder and import none of them' }] }] }
  }
)
