/**
 * The mutation report in short: the score per module and every mutant the tests let
 * live (survived, or not covered), with its line, so each can be killed by a test or
 * explained in docs/testing.md. Reads what `npm run mutate` wrote.
 *
 *   npm run mutate:survivors [-- src/safety/guard.ts]
 */
import { readFileSync } from 'node:fs'

interface Mutant { status: string, mutatorName: string, replacement?: string, location: { start: { line: number } } }
interface Report { files: Record<string, { source: string, mutants: Mutant[] }> }

const report = JSON.parse(readFileSync('reports/mutation/mutation.json', 'utf8')) as Report
const only = process.argv.slice(2)
const detected = new Set(['Killed', 'Timeout'])
const undetected = new Set(['Survived', 'NoCoverage'])
let [allDetected, allValid] = [0, 0]
const rows: string[] = []
for (const [file, { source, mutants }] of Object.entries(report.files).sort()) {
  const d = mutants.filter((m) => detected.has(m.status)).length
  const u = mutants.filter((m) => undetected.has(m.status))
  allDetected += d
  allValid += d + u.length
  rows.push(`${file.padEnd(34)} ${(100 * d / Math.max(1, d + u.length)).toFixed(1).padStart(5)} %  ${String(d).padStart(4)} detected  ${String(u.length).padStart(3)} undetected  ${String(mutants.length - d - u.length).padStart(3)} invalid`)
  if (only.length > 0 && !only.includes(file)) continue
  const lines = source.split('\n')
  for (const m of u.sort((a, b) => a.location.start.line - b.location.start.line)) {
    const line = m.location.start.line
    process.stdout.write(`${file}:${line} ${m.status === 'NoCoverage' ? 'uncovered' : 'survived'} ${m.mutatorName} → ${JSON.stringify(m.replacement ?? '').slice(0, 60)}\n    ${(lines[line - 1] ?? '').trim().slice(0, 110)}\n`)
  }
}
process.stdout.write(`\n${rows.join('\n')}\n${'all'.padEnd(34)} ${(100 * allDetected / allValid).toFixed(1).padStart(5)} %  ${allDetected} of ${allValid}\n`)
