/**
 * The defaults of routes.yaml as the published schema shows them (`default` on each
 * key), read from DEFAULTS, so the table normalisation uses is the only statement of
 * them. Values are written as routes.yaml takes them: durations as "30s", sizes in bytes.
 */
import { DEFAULTS } from './defaults.js'
import { formatDuration } from './units.js'

type Section = keyof typeof DEFAULTS

/** Where each section of DEFAULTS applies, as a key path of schema-docs (canonicalKeyPath). */
const SECTIONS: ReadonlyArray<readonly [string, Section]> = [
  ['listen', 'listen'], ['admin', 'admin'], ['client', 'client'], ['shutdown', 'shutdown'],
  ['backends.*', 'backend'], ['backends.*.timeouts', 'timeouts'], ['backends.*.pool', 'pool'],
  ['flags.unleash', 'unleash'], ['cohort.sessionCookie', 'sessionCookie'], ['cohort.jwt', 'jwt'],
  ['guard', 'guard'], ['override', 'override'], ['retirement', 'retirement'], ['inventory', 'inventory'],
  ['coverage', 'coverage'], ['timeline', 'timeline'], ['notify[]', 'notify'], ['ramps', 'ramps'],
  ['evidence', 'evidence'], ['routes[]', 'route'], ['routes[].ramp', 'ramp'], ['routes[].ramp.gates', 'ramp'],
  ['routes[].shadow', 'shadow']
]

/** Keys of DEFAULTS named differently in routes.yaml. */
const RENAMED: Readonly<Record<string, string>> = {
  'routes[].shadow.compareHeaders': 'routes[].shadow.compare.headers',
  'routes[].shadow.text': 'routes[].shadow.compare.text'
}

/** Each value of DEFAULTS (`leaf`: its place there) at each key path it may apply to. */
export const DEFAULT_PLACES: ReadonlyArray<{ readonly leaf: string, readonly path: string, readonly value: unknown }> = (() => {
  const out: Array<{ leaf: string, path: string, value: unknown }> = []
  const add = (leaf: string, path: string, value: unknown): void => {
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) add(`${leaf}.${k}`, `${path}.${k}`, v)
    } else {
      out.push({ leaf, path: RENAMED[path] ?? path, value })
    }
  }
  for (const [path, section] of SECTIONS) add(section, path, DEFAULTS[section])
  return out
})()

const DEFAULT_BY_PATH: ReadonlyMap<string, unknown> = new Map(DEFAULT_PLACES.map((p) => [p.path, p.value]))

/** The default of the key at `path` as the schema node `node` takes it, or undefined. */
export function schemaDefault (path: string, node: Record<string, unknown>): unknown {
  const value = DEFAULT_BY_PATH.get(path)
  if (value === undefined) return undefined
  return node.$ref === '#/$defs/duration' && typeof value === 'number' ? formatDuration(value) : value
}
