/** routes.yaml's identity: (the identity bridge) → IdentityConfig, with its defaults and cross-field rules. */
import { resolve as resolvePath } from 'node:path'
import { httpUrl, type Dur, type Sz } from './section.js'
import { unknownBackend } from './backends.js'
import type { BackendConfig, IdentityConfig, ValueSource } from './types.js'
import type { RawConfig } from './raw.js'
import type { Problems } from './problems.js'

export const IDENTITY_DEFAULTS = Object.freeze({
  timeout: 2_000,
  forward: ['cookie', 'authorization'],
  fields: ['sub'],
  subject: 'sub',
  ttl: 60_000,
  anonymousTtl: 10_000,
  maxEntries: 10_000,
  maxBytes: 8 * 1024 * 1024,
  header: 'x-strangler-identity',
  issuer: 'strangler-proxy',
  tokenTtl: 120_000,
  onFailure: 'legacy' as const
})

type Raw = NonNullable<RawConfig['identity']>

export function normalizeIdentity (raw: Raw, backends: ReadonlyMap<string, BackendConfig>, baseDir: string, dur: Dur, size: Sz, problems: Problems): IdentityConfig {
  const d = IDENTITY_DEFAULTS
  const url = httpUrl(raw.resolve.url, ['identity', 'resolve', 'url'], problems)
  if (url !== undefined && (url.username !== '' || url.password !== '')) problems.add(['identity', 'resolve', 'url'], 'must not carry credentials; routes.yaml holds no secrets')
  const fields = [...new Set([...(raw.resolve.fields ?? d.fields), raw.resolve.subject ?? d.subject])]
  raw.token.backends.forEach((b, i) => {
    if (!backends.has(b)) problems.add(['identity', 'token', 'backends', i], unknownBackend(b, backends))
  })
  const session = (Array.isArray(raw.session) ? raw.session : [raw.session]).map((s) => Object.freeze({ ...s })) as ValueSource[]
  session.forEach((s, i) => {
    if (!('header' in s) && !('cookie' in s)) problems.add(['identity', 'session', i], 'a session is read from a header or a cookie')
  })
  const ttl = dur(raw.token.ttl, d.tokenTtl)
  if (ttl < 10_000 || ttl > 3_600_000) problems.add(['identity', 'token', 'ttl'], 'must be between 10s and 1h: a token lives seconds to minutes')
  return Object.freeze({
    resolve: Object.freeze({ url: raw.resolve.url, timeout: dur(raw.resolve.timeout, d.timeout), forward: Object.freeze((raw.resolve.forward ?? d.forward).map((h) => h.toLowerCase())), fields: Object.freeze(fields), subject: raw.resolve.subject ?? d.subject }),
    session: Object.freeze(session),
    cache: Object.freeze({ ttl: dur(raw.cache?.ttl, d.ttl), anonymousTtl: dur(raw.cache?.anonymousTtl, d.anonymousTtl), maxEntries: raw.cache?.maxEntries ?? d.maxEntries, maxBytes: size(['identity', 'cache', 'maxBytes'], raw.cache?.maxBytes, d.maxBytes) }),
    token: Object.freeze({ header: (raw.token.header ?? d.header).toLowerCase(), keyFile: resolvePath(baseDir, raw.token.keyFile), createKey: raw.token.createKey ?? false, issuer: raw.token.issuer ?? d.issuer, ttl, backends: new Set(raw.token.backends) }),
    onFailure: raw.onFailure ?? d.onFailure
  })
}
