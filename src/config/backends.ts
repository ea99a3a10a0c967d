/** backends: each URL checked (scheme, no credentials, no query), timeouts and pool with defaults. */
import { DEFAULTS } from './defaults.js'
import type { RawConfig } from './raw.js'
import type { Section } from './section.js'
import type { BackendConfig } from './types.js'

export function normalizeBackends (raw: RawConfig['backends'], s: Section): Map<string, BackendConfig> {
  const backends = new Map<string, BackendConfig>()
  for (const [name, b] of Object.entries(raw)) {
    const url = backendUrl(b.url, ['backends', name, 'url'], s)
    if (b.timeout !== undefined && b.timeouts?.headers !== undefined) {
      s.problems.add(['backends', name, 'timeout'], 'set either timeout or timeouts.headers, not both')
    }
    backends.set(name, Object.freeze({
      name,
      origin: url?.origin ?? 'http://invalid',
      basePath: url === undefined || url.pathname === '/' ? '' : url.pathname.replace(/\/$/, ''),
      host: url?.host ?? '',
      timeouts: Object.freeze({
        connect: s.dur(b.timeouts?.connect, DEFAULTS.timeouts.connect),
        headers: s.dur(b.timeouts?.headers ?? b.timeout, DEFAULTS.timeouts.headers),
        bodyIdle: s.dur(b.timeouts?.bodyIdle, DEFAULTS.timeouts.bodyIdle)
      }),
      pool: Object.freeze({
        connections: b.pool?.connections ?? DEFAULTS.pool.connections,
        keepAliveTimeout: s.dur(b.pool?.keepAliveTimeout, DEFAULTS.pool.keepAliveTimeout)
      }),
      preserveHost: b.preserveHost ?? DEFAULTS.backend.preserveHost,
      legacy: b.legacy ?? DEFAULTS.backend.legacy
    }))
  }
  return backends
}

function backendUrl (text: string, at: Array<string | number>, s: Section): URL | undefined {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    s.problems.add(at, `"${text}" is not a valid URL`)
    return undefined
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') s.problems.add(at, `scheme must be http or https, got "${url.protocol.slice(0, -1)}"`)
  if (url.username !== '' || url.password !== '') s.problems.add(at, 'must not carry credentials; routes.yaml holds no secrets')
  if (url.search !== '' || url.hash !== '') s.problems.add(at, 'must not have a query or fragment')
  return url
}

/** The problem for a reference to a backend that routes.yaml does not define. */
export function unknownBackend (name: string, backends: ReadonlyMap<string, unknown>): string {
  return `unknown backend "${name}"; defined: ${[...backends.keys()].join(', ')}`
}
