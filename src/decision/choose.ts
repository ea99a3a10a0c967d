/**
 * The backend for one request: the route's decision (decision.ts) with the rollback
 * guard's diversion applied, plus the cohort and override it was made with. Static
 * routes cost nothing here; flagged routes build the cohort and ask the flags (in
 * memory, never over the network).
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { DecisionScope } from './scope.js'
import type { Route } from '../routing/table.js'
import { decide, routeBackends, type Decision } from './decide.js'
import { buildCohort, type Cohort } from './cohort.js'
import { readOverride, type OverrideResult } from './override.js'

export interface Choice {
  readonly decision: Decision
  readonly cohort: Cohort | undefined
  readonly override: OverrideResult
}

const NO_OVERRIDE: OverrideResult = Object.freeze({ kind: 'none' })

/** `clientIp` is asked only for flagged routes (static ones need no client address). */
/** `identity`: the user legacy signed in (the identity bridge), for `{ identity: field }` cohort sources. */
export function chooseBackend (snap: DecisionScope, route: Route, headers: IncomingHttpHeaders, clientIp: () => string, identity?: Readonly<Record<string, unknown>>): Choice | Promise<Choice> {
  if (route.config.flag === undefined) return { decision: decide(route, undefined, undefined, undefined), cohort: undefined, override: NO_OVERRIDE }
  const override = readOverride(headers, snap.config.override, snap.overrideSecret, route.name, routeBackends(route))
  const cohort = buildCohort(snap.config.cohort, { headers, clientIp: clientIp(), identity }, snap.jwt)
  return cohort instanceof Promise ? cohort.then((c) => flagChoice(snap, route, c, override)) : flagChoice(snap, route, cohort, override)
}

function flagChoice (snap: DecisionScope, route: Route, cohort: Cohort, override: OverrideResult): Choice {
  let decision = decide(route, snap.flags, cohort.context, override.kind === 'accepted' ? override.backend : undefined)
  // A tripped rollback guard sends the flag's traffic back to the baseline.
  if (decision.reason === 'flag_on' && decision.backend !== route.backend && route.config.guard !== undefined && snap.guard.admit(route.name) === 'baseline') {
    decision = { ...decision, backend: route.backend, reason: 'guard' }
  }
  return { decision, cohort, override }
}
