/** routes.yaml's coverage: (where each backend's declared routes come from) → CoverageConfig. */
import { resolve as resolvePath } from 'node:path'
import type { Dur } from './section.js'
import { unknownBackend } from './backends.js'
import type { BackendConfig, CoverageConfig, DeclaredSource } from './types.js'
import type { RawConfig } from './raw.js'
import type { Problems } from './problems.js'
import { DEFAULTS } from './defaults.js'

type Raw = NonNullable<RawConfig['coverage']>

function isHttpUrl (text: string): boolean {
  if (!URL.canParse(text)) return false
  const protocol = new URL(text).protocol
  return protocol === 'http:' || protocol === 'https:'
}

export function normalizeCoverage (raw: Raw, backends: ReadonlyMap<string, BackendConfig>, baseDir: string, dur: Dur, problems: Problems): CoverageConfig {
  const declared = new Map<string, DeclaredSource>()
  for (const [backend, source] of Object.entries(raw.declared)) {
    const at = ['coverage', 'declared', backend]
    if (!backends.has(backend)) problems.add(at, unknownBackend(backend, backends))
    if ((source.openapi === undefined) === (source.list === undefined)) {
      problems.add(at, 'name exactly one of openapi (an OpenAPI 3 document) or list (METHOD /path lines)')
      continue
    }
    if (source.openapi !== undefined) {
      const url = isHttpUrl(source.openapi)
      if (!url && /^[a-z][a-z0-9+.-]*:\/\//i.test(source.openapi)) problems.add([...at, 'openapi'], `"${source.openapi}" is neither a file nor an http(s) URL`)
      declared.set(backend, Object.freeze({ kind: 'openapi', location: url ? source.openapi : resolvePath(baseDir, source.openapi) }))
    } else {
      declared.set(backend, Object.freeze({ kind: 'list', location: resolvePath(baseDir, source.list as string) }))
    }
  }
  return Object.freeze({ declared, unusedAfter: dur(raw.unusedAfter, DEFAULTS.coverage.unusedAfter) })
}
