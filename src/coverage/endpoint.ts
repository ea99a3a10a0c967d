/**
 * A declared endpoint: a method and a path template with {param} segments, as OpenAPI
 * writes them. Two declarations are the same endpoint when they differ only in
 * parameter names or a trailing slash: Django writes "/api/orders/<int:id>/", the
 * legacy app "/api/orders/{orderId}".
 */

export interface Endpoint {
  readonly method: string
  /** As first declared, e.g. "/api/orders/{id}". */
  readonly template: string
}

/** Methods a declaration may name; HEAD and OPTIONS come with GET and CORS, not as endpoints. */
export const DECLARED_METHODS: ReadonlySet<string> = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'])

const PARAM = /^\{[^{}/]+\}$/

export function isParam (segment: string): boolean {
  return PARAM.test(segment)
}

/** Segments without the leading slash; a trailing slash is not a segment. */
export function templateSegments (template: string): string[] {
  const segments = template.split('/').slice(1)
  if (segments.length > 0 && segments[segments.length - 1] === '') segments.pop()
  return segments
}

/** "GET /api/orders/{}": the identity of an endpoint across declarations. */
export function endpointKey (method: string, template: string): string {
  return `${method} /${templateSegments(template).map((s) => isParam(s) ? '{}' : s).join('/')}`
}

/** A request path that the template matches, for asking the route table where it goes. */
export function samplePath (template: string): string {
  return '/' + templateSegments(template).map((s) => isParam(s) ? '1' : s).join('/')
}

/** Why a template is not one, or undefined. */
export function templateProblem (template: string): string | undefined {
  if (!template.startsWith('/')) return 'a path starts with /'
  if (/[?#\s]/.test(template)) return 'a path has no query, fragment or spaces'
  const bad = templateSegments(template).find((s) => (s.includes('{') || s.includes('}')) && !isParam(s))
  return bad === undefined ? undefined : `"${bad}": a parameter is a whole segment, {name}`
}

/** One line of a list: "GET /api/orders/{id}"; undefined for blank lines and comments. */
export function parseListLine (line: string): Endpoint | string | undefined {
  const text = line.replace(/#.*$/, '').trim()
  if (text === '') return undefined
  const [method, template, extra] = text.split(/\s+/)
  if (method === undefined || template === undefined || extra !== undefined) return 'expected "METHOD /path/{param}"'
  const upper = method.toUpperCase()
  if (!DECLARED_METHODS.has(upper)) return `"${method}" is not one of ${[...DECLARED_METHODS].join(', ')}`
  return templateProblem(template) ?? { method: upper, template }
}
