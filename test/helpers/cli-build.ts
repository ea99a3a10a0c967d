/**
 * The CLI the tests spawn, built from src/ with esbuild once per state of the
 * sources and shared by every test process of a run. Started through tsx, each
 * CLI process compiled and resolved the whole tree again: twice the CPU of a built
 * one, on a suite that spawns the CLI a hundred times.
 *
 * The build is laid out like the package (`<dir>/package.json`, `<dir>/dist/cli.js`)
 * under node_modules/.cache, so what the CLI reads beside itself (package.json) and
 * the packages it imports resolve as they do for an installed copy.
 */
import { createHash } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { join, relative } from 'node:path'
import { buildSync } from 'esbuild'
import { ROOT } from './proxy.js'

const CACHE = join(ROOT, 'node_modules', '.cache', 'strangler-proxy-cli')

let built: string | undefined

/** The entry point to run with `node`: built for the sources as they are now. */
export function builtCli (): string {
  built ??= build()
  return built
}

function build (): string {
  const dir = join(CACHE, sourceHash())
  const entry = join(dir, 'dist', 'cli.js')
  if (existsSync(entry)) return entry
  // Built beside, then moved in one rename: a test process never sees half a build.
  const tmp = `${dir}.${process.pid}`
  mkdirSync(CACHE, { recursive: true })
  rmSync(tmp, { recursive: true, force: true })
  buildSync({
    entryPoints: [join(ROOT, 'src', 'cli.ts')],
    outdir: join(tmp, 'dist'),
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    logLevel: 'error'
  })
  copyFileSync(join(ROOT, 'package.json'), join(tmp, 'package.json'))
  try {
    renameSync(tmp, dir)
    pruneOthers(dir)
  } catch {
    // Another test process built the same sources first.
    rmSync(tmp, { recursive: true, force: true })
  }
  return entry
}

/** Builds of earlier sources go when a new one lands (those of other processes still building stay). */
function pruneOthers (current: string): void {
  for (const name of readdirSync(CACHE)) {
    const dir = join(CACHE, name)
    if (dir !== current && !name.includes('.')) rmSync(dir, { recursive: true, force: true })
  }
}

/** Names the sources' content: any edit to src/ or package.json makes a new build. */
function sourceHash (): string {
  const hash = createHash('sha256')
  const files = [join(ROOT, 'package.json'), ...listTs(join(ROOT, 'src'))].sort()
  for (const file of files) hash.update(relative(ROOT, file)).update('\0').update(readFileSync(file)).update('\0')
  return hash.digest('hex').slice(0, 16)
}

function listTs (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => e.isDirectory() ? listTs(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [])
}
