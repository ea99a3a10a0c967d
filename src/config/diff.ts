/**
 * What a config change did to routes and backends, field by field: added, removed,
 * changed (with the values before and after). For the migration timeline.
 */
import type { Config } from './types.js'

export interface FieldChange { readonly field: string, readonly before: unknown, readonly after: unknown }

export interface ConfigDiff {
  readonly routes: { readonly added: string[], readonly removed: string[], readonly changed: Array<{ readonly name: string, readonly fields: FieldChange[] }> }
  readonly backends: { readonly added: string[], readonly removed: string[], readonly changed: Array<{ readonly name: string, readonly fields: FieldChange[] }> }
}

/** Sets and Maps as arrays and objects, so values compare and print as JSON. */
function plain (value: unknown): unknown {
  if (value instanceof Set) return [...value].map(plain)
  if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [k, plain(v)]))
  if (Array.isArray(value)) return value.map(plain)
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]))
  return value
}

/**
 * A header a route matches on may be a shared secret (an internal key, a beta token):
 * the diff says that its value changed, never what it is, since diffs reach the
 * timeline file and webhooks.
 */
export const REDACTED = '(value not shown)'

function withoutMatchValues (route: Record<string, unknown>): Record<string, unknown> {
  const match = route.match as { headers?: Record<string, unknown> } | undefined
  if (match?.headers === undefined) return route
  const headers = Object.fromEntries(Object.entries(match.headers).map(([k, v]) => [k, typeof v === 'string' ? REDACTED : v]))
  return { ...route, match: { ...match, headers } }
}

function diffNamed<T extends object> (before: ReadonlyMap<string, T>, after: ReadonlyMap<string, T>, ignore: ReadonlySet<string>, shown: (v: Record<string, unknown>) => Record<string, unknown> = (v) => v): ConfigDiff['routes'] {
  const changed: Array<{ name: string, fields: FieldChange[] }> = []
  for (const [name, b] of after) {
    const a = before.get(name)
    if (a === undefined) continue
    const pa = plain(a) as Record<string, unknown>
    const pb = plain(b) as Record<string, unknown>
    const sa = shown(pa)
    const sb = shown(pb)
    const fields = [...new Set([...Object.keys(pa), ...Object.keys(pb)])]
      .filter((f) => !ignore.has(f) && JSON.stringify(pa[f]) !== JSON.stringify(pb[f]))
      .map((field) => ({ field, before: sa[field], after: sb[field] }))
    if (fields.length > 0) changed.push({ name, fields })
  }
  return {
    added: [...after.keys()].filter((n) => !before.has(n)),
    removed: [...before.keys()].filter((n) => !after.has(n)),
    changed
  }
}

// Position in the file is not a change of behaviour (a route moved down still routes the same unless another overlaps it).
const ROUTE_NOISE = new Set(['index', 'line'])

export function diffConfig (before: Config, after: Config): ConfigDiff {
  return {
    routes: diffNamed(new Map(before.routes.map((r) => [r.name, r])), new Map(after.routes.map((r) => [r.name, r])), ROUTE_NOISE, withoutMatchValues),
    backends: diffNamed(before.backends, after.backends, new Set())
  }
}

/** Route names a diff touches: added, removed or changed, and those using a changed backend. */
export function routesTouched (d: ConfigDiff, after: Config): string[] {
  const backends = new Set([...d.backends.changed.map((c) => c.name), ...d.backends.removed])
  const byBackend = after.routes.filter((r) => backends.has(r.backend) || (r.flag?.backend !== undefined && backends.has(r.flag.backend))).map((r) => r.name)
  return [...new Set([...d.routes.added, ...d.routes.removed, ...d.routes.changed.map((c) => c.name), ...byBackend])]
}
