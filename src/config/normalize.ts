/**
 * The raw shape (raw.ts) → Config, section by section: defaults from defaults.ts,
 * units parsed, and the checks the schema cannot express (backend references,
 * duplicate names, URL contents, patterns, CIDRs, cross-field rules), each reported
 * with its position.
 */
import { dirname, resolve as resolvePath } from 'node:path'
import { createHash } from 'node:crypto'
import type { Document, LineCounter } from 'yaml'
import { normalizeIdentity } from './identity.js'
import { normalizeCoverage } from './coverage.js'
import { normalizeBackends } from './backends.js'
import { normalizeClient } from './client-limits.js'
import { normalizeRoutes } from './route.js'
import { normalizeRamps } from './ramp-plan.js'
import { normalizeFlags } from './flags.js'
import { normalizeCohort, readsFrom } from './cohort.js'
import { httpUrl, section, type Section } from './section.js'
import { DEFAULTS } from './defaults.js'
import type { Problems } from './problems.js'
import type { RawConfig } from './raw.js'
import type { Config } from './types.js'

export function normalize (raw: RawConfig, file: string, text: string, problems: Problems, doc: Document, lines: LineCounter): Config {
  const baseDir = dirname(resolvePath(file))
  const s = section(problems, baseDir)
  const backends = normalizeBackends(raw.backends, s)
  const client = normalizeClient(raw.client, s)
  const routes = normalizeRoutes({ raw, backends, client, doc, lines }, s)
  const flags = normalizeFlags(raw.flags, s)
  routes.forEach((r, i) => {
    if (r.guard?.disableFlag === true && flags?.unleash === undefined) {
      problems.add(['routes', i, 'guard', 'disableFlag'], 'needs flags.unleash: the guard switches the flag off in Unleash')
    }
  })
  const cohort = normalizeCohort(raw.cohort, s)
  if (raw.identity === undefined && readsFrom(cohort, 'identity')) {
    problems.add(['cohort'], 'an identity: value source needs identity: (the identity bridge, docs/identity.md)')
  }
  return Object.freeze({
    file,
    version: createHash('sha256').update(text).digest('hex').slice(0, 12),
    listen: Object.freeze({ ...DEFAULTS.listen, ...raw.listen }),
    admin: adminConfig(raw.admin),
    client,
    shutdown: Object.freeze({ timeout: s.dur(raw.shutdown?.timeout, DEFAULTS.shutdown.timeout) }),
    state: Object.freeze({ dir: stateDir(raw, baseDir) }),
    backends,
    routes,
    flags,
    cohort,
    override: Object.freeze({ ...DEFAULTS.override, ...raw.override }),
    ramps: normalizeRamps(raw, routes, s),
    evidence: Object.freeze({
      period: s.dur(raw.evidence?.period, DEFAULTS.evidence.period),
      perAddress: raw.evidence?.perAddress ?? DEFAULTS.evidence.perAddress,
      perUser: raw.evidence?.perUser ?? DEFAULTS.evidence.perUser
    }),
    tracing: raw.tracing === undefined ? undefined : Object.freeze({ ...raw.tracing, ...(raw.tracing.redactQuery === undefined ? {} : { redactQuery: Object.freeze([...raw.tracing.redactQuery]) }) }),
    retirement: retirementConfig(raw.retirement, s),
    inventory: Object.freeze({ maxTemplates: raw.inventory?.maxTemplates ?? DEFAULTS.inventory.maxTemplates }),
    coverage: raw.coverage === undefined ? undefined : normalizeCoverage(raw.coverage, backends, baseDir, s.dur, problems),
    timeline: Object.freeze({
      impactDelay: s.dur(raw.timeline?.impactDelay, DEFAULTS.timeline.impactDelay),
      maxFileSize: s.sz(['timeline', 'maxFileSize'], raw.timeline?.maxFileSize, DEFAULTS.timeline.maxFileSize),
      parityThreshold: raw.timeline?.parityThreshold ?? DEFAULTS.timeline.parityThreshold
    }),
    identity: raw.identity === undefined ? undefined : normalizeIdentity(raw.identity, backends, baseDir, s.dur, s.sz, problems),
    notify: notifyConfig(raw.notify ?? [], s)
  })
}

/** state.dir, else the older flags.unleash.backupDir, relative to routes.yaml. */
function stateDir (raw: RawConfig, baseDir: string): string | undefined {
  const dir = raw.state?.dir ?? raw.flags?.unleash?.backupDir
  return dir === undefined ? undefined : resolvePath(baseDir, dir)
}

function adminConfig (a: RawConfig['admin']): Config['admin'] {
  return Object.freeze({
    ...DEFAULTS.admin,
    ...a,
    allowedHosts: Object.freeze((a?.allowedHosts ?? []).map((h) => h.toLowerCase())),
    operators: Object.freeze((a?.operators ?? []).map((o) => Object.freeze({ ...o })))
  })
}

function retirementConfig (r: RawConfig['retirement'], s: Section): Config['retirement'] {
  const d = DEFAULTS.retirement
  return Object.freeze({
    after: s.dur(r?.after, d.after),
    legacyQuietFor: s.dur(r?.legacyQuietFor, d.legacyQuietFor),
    minParity: r?.minParity ?? d.minParity,
    maxErrorRatioIncrease: r?.maxErrorRatioIncrease ?? d.maxErrorRatioIncrease,
    maxLatencyRatio: r?.maxLatencyRatio ?? d.maxLatencyRatio
  })
}

function notifyConfig (raw: NonNullable<RawConfig['notify']>, s: Section): Config['notify'] {
  return Object.freeze(raw.map((n, i) => {
    httpUrl(n.url, ['notify', i, 'url'], s.problems)
    return Object.freeze({ url: n.url, kinds: n.kinds === undefined ? undefined : new Set(n.kinds), secretEnv: n.secretEnv, timeout: s.dur(n.timeout, DEFAULTS.notify.timeout), damping: s.dur(n.damping, DEFAULTS.notify.damping) })
  }))
}

