/**
 * Field-level comparison of two responses' bodies for shadow parity: JSON-aware
 * (key order never matters, chosen arrays may be unordered, chosen paths ignored),
 * text by exact match or with whitespace normalised. Pure.
 *
 * Paths are written "$.items[*].price": "$" is the root, ".name" a key, "[*]" any
 * array index. A difference is reported at the deepest path where the values part.
 */

export interface Difference {
  readonly path: string
  readonly primary: unknown
  readonly shadow: unknown
}

/** Answers whether a field pattern is ignored: configured paths plus learned noise, without merging them per comparison. */
export interface PathSet {
  has (pattern: string): boolean
}

export interface JsonCompareOptions {
  /** Paths whose values are not compared (timestamps, generated ids). */
  readonly ignore: PathSet
  /** Array paths compared as multisets. */
  readonly unordered: ReadonlySet<string>
}

/** "$.items[3].price" → "$.items[*].price": how rules and learned noise name a field. */
export function pattern (path: string): string {
  return path.replace(/\[\d+\]/g, '[*]')
}

function keyPath (path: string, k: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`
}

/**
 * One text per value, key order aside, leaving out the fields `ignore` names at their
 * place under `path`: elements of an unordered array are compared by it, and an
 * ignored id inside them must not make equal elements differ.
 */
function canonical (v: unknown, path: string, ignore: PathSet): string {
  if (Array.isArray(v)) return `[${v.map((e) => canonical(e, `${path}[*]`, ignore)).join(',')}]`
  if (v !== null && typeof v === 'object') {
    const parts: string[] = []
    for (const k of Object.keys(v).sort()) {
      const p = keyPath(path, k)
      if (!ignore.has(pattern(p))) parts.push(`${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k], p, ignore)}`)
    }
    return `{${parts.join(',')}}`
  }
  return JSON.stringify(v)
}

/**
 * Nesting deeper than this is not walked: the comparison recurses once per level, and
 * a backend's answer must never be able to exhaust the stack. JSON documents people
 * compare are rarely deeper than a dozen levels.
 */
export const MAX_DEPTH = 64

/** Whether `v` nests at most `max` levels, found without recursion. */
export function withinDepth (v: unknown, max = MAX_DEPTH): boolean {
  const stack: Array<[unknown, number]> = [[v, 0]]
  while (stack.length > 0) {
    const [value, depth] = stack.pop() as [unknown, number]
    if (value === null || typeof value !== 'object') continue
    if (depth >= max) return false
    for (const child of Array.isArray(value) ? value : Object.values(value)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1])
    }
  }
  return true
}

/** Differences between two parsed JSON values; both must be within MAX_DEPTH (see withinDepth). */
export function diffJson (primary: unknown, shadow: unknown, opts: JsonCompareOptions, path = '$', out: Difference[] = []): Difference[] {
  if (opts.ignore.has(pattern(path))) return out
  if (Array.isArray(primary) && Array.isArray(shadow)) {
    if (opts.unordered.has(pattern(path))) {
      const element = `${pattern(path)}[*]`
      const a = primary.map((e) => canonical(e, element, opts.ignore)).sort()
      const b = shadow.map((e) => canonical(e, element, opts.ignore)).sort()
      if (a.length !== b.length || a.some((x, i) => x !== b[i])) out.push({ path, primary, shadow })
      return out
    }
    if (primary.length !== shadow.length) out.push({ path: `${path}.length`, primary: primary.length, shadow: shadow.length })
    const n = Math.min(primary.length, shadow.length)
    for (let i = 0; i < n; i++) diffJson(primary[i], shadow[i], opts, `${path}[${i}]`, out)
    return out
  }
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v)
  if (isObj(primary) && isObj(shadow)) {
    const keys = new Set([...Object.keys(primary), ...Object.keys(shadow)])
    for (const k of [...keys].sort()) {
      const p = keyPath(path, k)
      if (!(k in primary) || !(k in shadow)) {
        if (!opts.ignore.has(pattern(p))) out.push({ path: p, primary: primary[k], shadow: shadow[k] })
        continue
      }
      diffJson(primary[k], shadow[k], opts, p, out)
    }
    return out
  }
  if (canonical(primary, path, opts.ignore) !== canonical(shadow, path, opts.ignore)) out.push({ path, primary, shadow })
  return out
}

export function sameText (a: string, b: string, mode: 'exact' | 'whitespace'): boolean {
  if (mode === 'exact') return a === b
  const norm = (s: string): string => s.replace(/\s+/g, ' ').trim()
  return norm(a) === norm(b)
}
