/** cohort: where the user id, session id and properties come from, and how JWTs are verified. */
import { resolve as resolvePath } from 'node:path'
import { DEFAULTS } from './defaults.js'
import type { RawConfig, RawSources } from './raw.js'
import type { Section } from './section.js'
import type { CohortConfig, ValueSource } from './types.js'

type RawJwt = NonNullable<NonNullable<RawConfig['cohort']>['jwt']>

export function normalizeCohort (raw: RawConfig['cohort'], s: Section): CohortConfig {
  const c = raw ?? {}
  const userId = sourcesOf(c.userId)
  const sessionId = sourcesOf(c.sessionId)
  const properties = Object.freeze(Object.fromEntries(Object.entries(c.properties ?? {}).map(([k, v]) => [k, sourcesOf(v)])))
  const j = c.jwt
  if (readsFrom({ userId, sessionId, properties }, 'jwt') && j === undefined) s.problems.add(['cohort'], 'a jwt: value source needs cohort.jwt with secretEnv or publicKeyFile to verify tokens')
  // Checked whether or not a source uses it: the proxy builds the verifier it describes.
  if (j !== undefined && j.secretEnv === undefined && j.publicKeyFile === undefined) s.problems.add(['cohort', 'jwt'], 'needs secretEnv or publicKeyFile to verify tokens')
  if (j?.secretEnv !== undefined && j.publicKeyFile !== undefined) s.problems.add(['cohort', 'jwt'], 'set either secretEnv or publicKeyFile, not both')
  const sc = c.sessionCookie
  return Object.freeze({
    userId,
    sessionId,
    properties,
    jwt: j === undefined ? undefined : jwtConfig(j, s),
    sessionCookie: sc === false
      ? undefined
      : Object.freeze({
        name: sc?.name ?? DEFAULTS.sessionCookie.name,
        maxAge: s.dur(sc?.maxAge, DEFAULTS.sessionCookie.maxAge),
        secure: sc?.secure ?? DEFAULTS.sessionCookie.secure,
        sameSite: sc?.sameSite ?? DEFAULTS.sessionCookie.sameSite
      })
  })
}

/** Whether any of the cohort's values is read from that kind of source (a jwt: needs cohort.jwt, an identity: needs identity:). */
export function readsFrom (cohort: Pick<CohortConfig, 'userId' | 'sessionId' | 'properties'>, kind: 'jwt' | 'identity'): boolean {
  return [cohort.userId, cohort.sessionId, ...Object.values(cohort.properties)].some((list) => list.some((v) => kind in v))
}

function jwtConfig (j: RawJwt, s: Section): NonNullable<CohortConfig['jwt']> {
  return Object.freeze({
    header: j.header ?? DEFAULTS.jwt.header,
    cookie: j.cookie,
    secretEnv: j.secretEnv,
    publicKeyFile: j.publicKeyFile === undefined ? undefined : resolvePath(s.baseDir, j.publicKeyFile),
    algorithms: Object.freeze(j.algorithms ?? (j.publicKeyFile === undefined ? DEFAULTS.jwt.hmacAlgorithms : DEFAULTS.jwt.keyAlgorithms)),
    issuer: j.issuer,
    audience: j.audience,
    requireExp: j.requireExp ?? DEFAULTS.jwt.requireExp
  })
}

function sourcesOf (v: RawSources | undefined): readonly ValueSource[] {
  // The schema's minProperties and maxProperties of 1 make each exactly one of its keys.
  return Object.freeze(v === undefined ? [] : (Array.isArray(v) ? v : [v]).map((x) => Object.freeze({ ...x }) as ValueSource))
}
