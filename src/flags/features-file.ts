/**
 * A flags file in Unleash's client-features format (what GET /api/client/features
 * returns, so an export from Unleash works as is), in YAML or JSON.
 */
import { readFileSync } from 'node:fs'
import { parseDocument } from 'yaml'
import type { ClientFeaturesResponse } from './unleash-internals.js'

export class FlagsFileError extends Error {}

export function readFlagsFile (file: string): ClientFeaturesResponse {
  return parseFlags(readFlagsText(file), file)
}

export function readFlagsText (file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (err) {
    throw new FlagsFileError(`${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
}

export function parseFlags (text: string, file: string): ClientFeaturesResponse {
  const doc = parseDocument(text, { prettyErrors: false })
  if (doc.errors.length > 0) {
    const e = doc.errors[0]
    throw new FlagsFileError(`${file}:${e?.linePos?.[0].line ?? 0}:${e?.linePos?.[0].col ?? 0}: ${e?.message.split('\n')[0] ?? 'invalid YAML'}`)
  }
  const raw = doc.toJS() as unknown
  const data = (Array.isArray(raw) ? { version: 2, features: raw } : raw) as { version?: unknown, features?: unknown, segments?: unknown } | null
  const problems: string[] = []
  if (data === null || typeof data !== 'object' || !Array.isArray(data.features)) {
    throw new FlagsFileError(`${file}: expected { version, features: [...], segments?: [...] } as exported from Unleash`)
  }
  data.features.forEach((f: unknown, i: number) => {
    const feature = f as { name?: unknown, enabled?: unknown, strategies?: unknown, variants?: unknown }
    if (typeof feature?.name !== 'string') problems.push(`features[${i}].name must be a string`)
    if (typeof feature?.enabled !== 'boolean') problems.push(`features[${i}].enabled must be true or false`)
    if (feature?.strategies !== undefined && !Array.isArray(feature.strategies)) problems.push(`features[${i}].strategies must be a list`)
    if (feature?.variants !== undefined && !Array.isArray(feature.variants)) problems.push(`features[${i}].variants must be a list`)
  })
  if (data.segments !== undefined && !Array.isArray(data.segments)) problems.push('segments must be a list')
  if (problems.length > 0) throw new FlagsFileError(`${file}: ${problems.join('; ')}`)
  return { version: typeof data.version === 'number' ? data.version : 2, features: data.features, ...(Array.isArray(data.segments) ? { segments: data.segments } : {}) } as ClientFeaturesResponse
}
