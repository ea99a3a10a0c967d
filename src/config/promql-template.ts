/**
 * PromQL templates of ramp gates: {{route}}, {{backend}} and {{baseline}} are names
 * from routes.yaml and may hold any character, so they are allowed only inside
 * double-quoted strings and are escaped there; {{window}} is a duration the proxy
 * writes and is allowed only outside strings. A name can then never change the shape
 * of the query.
 */

export const NAME_PLACEHOLDERS: ReadonlySet<string> = new Set(['route', 'backend', 'baseline'])
const PLACEHOLDER = /\{\{\s*([a-z]+)\s*\}\}/g

/** Where each placeholder sits: in a "…" string, in another string ('…', `…`), or outside strings. */
function placements (template: string): Array<{ name: string, within: 'double' | 'other' | 'none' }> {
  const out: Array<{ name: string, within: 'double' | 'other' | 'none' }> = []
  let quote: string | undefined
  for (let i = 0; i < template.length; i++) {
    const c = template[i] as string
    if (quote !== undefined && c === '\\' && quote !== '`') {
      i++
      continue
    }
    if (quote !== undefined && c === quote) {
      quote = undefined
      continue
    }
    if (quote === undefined && (c === '"' || c === "'" || c === '`')) {
      quote = c
      continue
    }
    const m = template.startsWith('{{', i) ? /^\{\{\s*([a-z]+)\s*\}\}/.exec(template.slice(i)) : null
    if (m !== null) out.push({ name: m[1] as string, within: quote === undefined ? 'none' : quote === '"' ? 'double' : 'other' })
  }
  return out
}

/** Why a template is unsafe or wrong, or undefined. */
export function templateProblem (template: string): string | undefined {
  for (const p of placements(template)) {
    if (p.name === 'window') {
      if (p.within !== 'none') return '{{window}} is a range: use it outside quotes, as [{{window}}]'
    } else if (NAME_PLACEHOLDERS.has(p.name)) {
      if (p.within !== 'double') return `{{${p.name}}} holds a name from routes.yaml: use it inside double quotes, as backend="{{${p.name}}}"`
    } else {
      return `unknown placeholder {{${p.name}}}; known: {{route}}, {{backend}}, {{baseline}}, {{window}}`
    }
  }
  return undefined
}

/** A PromQL double-quoted string's content for any text. */
export function escapeString (value: string): string {
  return value.replace(/[\\"\n\r\t]/g, (c) => c === '\\' ? '\\\\' : c === '"' ? '\\"' : c === '\n' ? '\\n' : c === '\r' ? '\\r' : '\\t')
}

/** The query with its placeholders filled; the template passed templateProblem. */
export function renderQuery (template: string, values: { readonly route: string, readonly backend: string, readonly baseline: string, readonly windowSeconds: number }): string {
  return template.replace(PLACEHOLDER, (_m, name: string) => {
    if (name === 'window') return `${Math.max(1, Math.ceil(values.windowSeconds))}s`
    return escapeString(values[name as 'route' | 'backend' | 'baseline'])
  })
}
