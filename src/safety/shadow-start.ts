/**
 * Whether a request gets a shadow copy, and to which backend: the route's shadow:
 * settings, and while a ramp holds a step, only the cohort that moves next. The
 * proxy asks through ProxyRuntime.startShadow once the primary has answered.
 */
import type { Context, FeatureInterface } from '../flags/unleash-internals.js'
import { rolloutBucket, rolloutOf } from '../flags/rollout.js'
import type { Route } from '../routing/table.js'
import type { CompareWithPrimary, ProxySnapshot, ShadowInput } from '../proxy/scope.js'
import type { ShadowTraffic } from './shadow.js'

export function startShadow (shadow: ShadowTraffic, i: ShadowInput): CompareWithPrimary | undefined {
  const config = i.route.config.shadow
  if (config === undefined) return undefined
  if (i.route.config.ramp !== undefined && !inNextCohort(i.snap, i.route, i.context)) return undefined
  const route = i.route
  const other = i.primary.backend.name === config.backend ? route.backend : config.backend
  const target = i.snap.pools.get(other)
  if (target === undefined || other === i.primary.backend.name) return undefined
  const trace = i.trace
  return shadow.start({
    route: route.name,
    config,
    requestId: i.requestId,
    method: i.method,
    path: i.rawPath,
    primaryBackend: i.primary.backend.name,
    target,
    primary: i.primary,
    upstreamPath: i.upstreamPath,
    headers: i.headers,
    body: i.body === undefined || Buffer.isBuffer(i.body) ? i.body : 'streamed',
    who: i.who,
    ...(trace === undefined ? {} : { trace: (url: string) => trace.shadow(other, i.method, url) })
  })
}

/**
 * The next cohort of a ramp: users whose bucket lies above the rollout this proxy
 * serves and at most the plan's next step. Read from the flag itself, so every
 * replica agrees whichever process drives the ramp.
 */
function inNextCohort (snap: ProxySnapshot, route: Route, context: Context | undefined): boolean {
  const feature = route.config.flag === undefined ? undefined : snap.flags?.definition(route.config.flag.name)
  const low = feature === undefined ? undefined : rolloutOf(feature)
  const high = low === undefined ? undefined : route.config.ramp?.steps.find((s) => s > low)
  const bucket = high === undefined || context === undefined ? undefined : rolloutBucket(feature as FeatureInterface, context)
  return bucket !== undefined && bucket > (low as number) && bucket <= (high as number)
}
