/**
 * The schema published for editors (schema/routes.schema.json): the validator's own
 * schema with a description, an example and (from DEFAULTS) the default on every key,
 * so they cannot drift.
 */
import { configSchema } from './schema.js'
import { KEY_DOCS, canonicalKeyPath } from './schema-docs.js'
import { schemaDefault } from './schema-defaults.js'

type Node = Record<string, unknown>

/** Every key path in the schema without a KEY_DOCS entry (empty when all are described). */
export function undocumentedKeys (): string[] {
  const missing: string[] = []
  annotate(copy(), '', missing)
  return missing
}

export function publishedSchema (): Node {
  const body = copy()
  const missing: string[] = []
  annotate(body, '', missing)
  if (missing.length > 0) throw new Error(`routes.yaml keys without a description: ${missing.join(', ')}`)
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    title: 'strangler-proxy routes.yaml',
    description: 'Routes, backends, flags and safety settings of strangler-proxy. Generated from the validator\'s schema by `npm run schema`; `strangler-proxy validate` also checks what a schema cannot (backend names, duplicate routes, URLs).',
    ...body
  }
}

/** A deep copy without shared objects: `port` is one object in schema.ts, but listen.port and admin.port get their own description. */
function copy (): Node {
  return JSON.parse(JSON.stringify(configSchema)) as Node
}

function annotate (node: Node, path: string, missing: string[]): void {
  for (const branch of (node.anyOf as Node[] | undefined) ?? []) annotate(branch, path, missing)
  const properties = node.properties as Record<string, Node> | undefined
  for (const [key, child] of Object.entries(properties ?? {})) describe(child, path === '' ? key : `${path}.${key}`, missing)
  if (typeof node.additionalProperties === 'object') describe(node.additionalProperties as Node, `${path}.*`, missing)
  if (typeof node.items === 'object') annotate(node.items as Node, `${path}[]`, missing)
}

function describe (node: Node, path: string, missing: string[]): void {
  const key = canonicalKeyPath(path)
  const doc = KEY_DOCS[key]
  if (doc === undefined) missing.push(path)
  else {
    node.description = doc[0]
    node.examples = [doc[1]]
  }
  const value = schemaDefault(key, node)
  if (value !== undefined) node.default = value
  annotate(node, path, missing)
}
