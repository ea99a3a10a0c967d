/**
 * Route + the request's cohort + flags → which backend, and why. Pure: no I/O,
 * no clock; the same inputs always give the same decision.
 */
import type { Route } from '../routing/table.js'
import type { FlagSource } from '../flags/source.js'
import type { Context } from '../flags/unleash-internals.js'
import { routeBackends as backendsOfRoute } from '../config/roles.js'

export type DecisionReason = 'static' | 'flag_on' | 'flag_off' | 'flag_unavailable' | 'override' | 'failover' | 'guard' | 'identity_unavailable' | 'declined'

export interface Decision {
  readonly backend: string
  readonly reason: DecisionReason
  readonly flag: string | undefined
  readonly variant: string | undefined
}

const backendsOf = new WeakMap<Route, ReadonlySet<string>>()

/** Every backend a route may send to (config/roles.ts), as a set for lookups per request. */
export function routeBackends (route: Route): ReadonlySet<string> {
  let set = backendsOf.get(route)
  if (set === undefined) {
    set = new Set(backendsOfRoute(route.config))
    backendsOf.set(route, set)
  }
  return set
}

export function decide (route: Route, flags: FlagSource | undefined, context: Context | undefined, override: string | undefined): Decision {
  const flag = route.config.flag
  if (override !== undefined) return { backend: override, reason: 'override', flag: flag?.name, variant: undefined }
  if (flag === undefined) return { backend: route.backend, reason: 'static', flag: undefined, variant: undefined }
  if (flags === undefined || context === undefined) return { backend: route.backend, reason: 'flag_unavailable', flag: flag.name, variant: undefined }
  const result = flags.evaluate(flag.name, context, flag.variants !== undefined)
  if (!result.available) return { backend: route.backend, reason: 'flag_unavailable', flag: flag.name, variant: undefined }
  if (!result.enabled) return { backend: route.backend, reason: 'flag_off', flag: flag.name, variant: result.variant }
  // Own keys only: a variant named "constructor" or "__proto__" is just an unmapped name.
  const variants = flag.variants
  const byVariant = result.variant === undefined || variants === undefined || !Object.hasOwn(variants, result.variant) ? undefined : variants[result.variant]
  const backend = byVariant ?? flag.backend
  // On, but with a variant the route does not map and no flag backend: the baseline serves.
  if (backend === undefined) return { backend: route.backend, reason: 'flag_on', flag: flag.name, variant: result.variant }
  return { backend, reason: 'flag_on', flag: flag.name, variant: result.variant }
}
