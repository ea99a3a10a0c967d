/**
 * routes.yaml → a validated, defaulted, frozen Config: read the file, parse the YAML
 * with positions, check the shape against the schema, then normalise. Every problem
 * in a file is reported at once. Reads files but never starts anything.
 */
import { readFileSync } from 'node:fs'
import { Ajv, type ErrorObject } from 'ajv'
import { LineCounter, parseDocument } from 'yaml'
import { ConfigError, Errors, ProxyError } from '../errors.js'
import { configSchema } from './schema.js'
import type { Config } from './types.js'
import type { RawConfig } from './raw.js'
import { Problems, ajvMessage, ajvPath, fieldName, type Path } from './problems.js'
import { normalize } from './normalize.js'

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true })
// A type guard: what passes is RawConfig, the type derived from the same schema (raw.ts).
const validateShape = ajv.compile<RawConfig>(configSchema)

export function loadConfigFile (file: string): Config {
  return parseConfig(readConfigText(file), file)
}

export function readConfigText (file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    throw new ProxyError(Errors.CONFIG_UNREADABLE, `${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err })
  }
}

export function parseConfig (text: string, file: string): Config {
  const lines = new LineCounter()
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true })
  const problems = new Problems(file, doc, lines)

  if (doc.errors.length > 0) {
    throw new ConfigError(doc.errors.map((e) => {
      const { line, col } = lines.linePos(e.pos[0])
      return { file, line, column: col, field: '(yaml)', message: e.message.split('\n')[0] as string }
    }))
  }
  const raw: unknown = doc.toJS()
  if (!validateShape(raw)) {
    const shapeErrors = [...(validateShape.errors ?? [])]
    const bad = reportShape(shapeErrors, problems)
    // Every problem at once: without the values the schema refused (each key that
    // held one removed, so its default stands in), the rest of the file may still be
    // a valid shape, and then its references are checked too.
    const rest = withoutPaths(raw, bad)
    if (rest !== undefined && validateShape(rest)) normalize(rest, file, text, problems, doc, lines)
    throw new ConfigError(problems.list)
  }
  const config = normalize(raw, file, text, problems, doc, lines)
  if (problems.list.length > 0) throw new ConfigError(problems.list)
  return config
}

/** Adds the schema's errors as problems; returns the paths of the values it refused. */
function reportShape (errors: readonly ErrorObject[], problems: Problems): Path[] {
  const seen = new Set<string>()
  const bad: Path[] = []
  for (const err of errors) {
    // anyOf produces one error per branch plus a summary; the summary is enough,
    // unless a branch already named a problem deeper inside the same value.
    if (err.schemaPath.includes('/anyOf/')) continue
    if (err.keyword === 'anyOf' && errors.some((e) => e.instancePath.startsWith(err.instancePath + '/') && !e.schemaPath.includes('/anyOf/'))) continue
    if (err.keyword === 'pattern' && err.propertyName !== undefined) continue
    const path = ajvPath(err)
    const { message, extraKey } = ajvMessage(err)
    const fullPath = extraKey === undefined ? path : [...path, extraKey]
    bad.push(err.keyword === 'required' ? [...path, String(err.params.missingProperty)] : fullPath)
    const key = `${fieldName(fullPath)}|${message}`
    if (seen.has(key)) continue
    seen.add(key)
    problems.add(fullPath, message, extraKey !== undefined)
  }
  return bad
}

/**
 * A copy of `raw` without the keys at `paths`, or undefined when a path ends in an
 * array element or the root (removing those would shift or lose what the problems'
 * positions refer to).
 */
function withoutPaths (raw: unknown, paths: readonly Path[]): unknown {
  const copy = structuredClone(raw)
  for (const path of paths) {
    const last = path[path.length - 1]
    if (typeof last !== 'string') return undefined
    let node: unknown = copy
    for (const seg of path.slice(0, -1)) node = (node as Record<string | number, unknown> | undefined)?.[seg]
    if (node !== null && typeof node === 'object' && !Array.isArray(node)) delete (node as Record<string, unknown>)[last]
  }
  return copy
}
