/**
 * Config problems with positions: each as file:line:column and field, taken from the
 * YAML document, and ajv's errors in words people use.
 */
import type { ErrorObject } from 'ajv'
import { isMap, isSeq, isScalar, isPair, type Document, type LineCounter, type Node as YamlNode } from 'yaml'
import type { ConfigProblem } from '../errors.js'

export type Path = ReadonlyArray<string | number>

/** Collects problems with positions taken from the YAML document. */
export class Problems {
  readonly list: ConfigProblem[] = []
  constructor (private readonly file: string, private readonly doc: Document, private readonly lines: LineCounter) {}

  /** `onKey` points at the key itself (for unknown keys), otherwise at the value. */
  add (path: Path, message: string, onKey = false): void {
    const offset = this.offsetOf(path, onKey)
    const { line, col } = this.lines.linePos(offset)
    this.list.push({ file: this.file, line, column: col, field: fieldName(path), message })
  }

  private offsetOf (path: Path, onKey: boolean): number {
    let node: unknown = this.doc.contents
    let offset = 0
    for (let i = 0; i < path.length; i++) {
      const seg = path[i]
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg))
        if (pair === undefined) break
        const keyNode = pair.key as YamlNode
        offset = keyNode.range?.[0] ?? offset
        if (i === path.length - 1 && onKey) return offset
        node = pair.value
      } else if (isSeq(node) && typeof seg === 'number') {
        node = node.items[seg]
      } else {
        break
      }
      const range = (node as YamlNode | null)?.range
      if (range) offset = range[0]
    }
    return offset
  }
}

export function fieldName (path: Path): string {
  let out = ''
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : (out === '' ? seg : `.${seg}`)
  return out === '' ? '(root)' : out
}

export function ajvPath (err: ErrorObject): Array<string | number> {
  return err.instancePath.split('/').slice(1).map((s) => {
    const key = s.replace(/~1/g, '/').replace(/~0/g, '~')
    return /^\d+$/.test(key) ? Number(key) : key
  })
}

export function ajvMessage (err: ErrorObject): { message: string, extraKey?: string } {
  if (err.keyword === 'additionalProperties') {
    const key = String(err.params.additionalProperty)
    return { message: `unknown key "${key}"`, extraKey: key }
  }
  if (err.schemaPath.startsWith('#/$defs/duration')) return { message: 'must be a duration with a unit, e.g. 250ms, 5s, 2m' }
  if (err.schemaPath.startsWith('#/$defs/size')) return { message: 'must be a size, e.g. 1048576, 512kb, 10mb' }
  if (err.keyword === 'required') return { message: `missing required key "${String(err.params.missingProperty)}"` }
  if (err.keyword === 'enum') return { message: `must be one of ${(err.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}` }
  if (err.keyword === 'propertyNames') return { message: 'names may use letters, digits, "_", "." and "-" (up to 63)' }
  return { message: err.message ?? 'is invalid' }
}
