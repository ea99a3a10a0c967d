/**
 * Two facts every part of the proxy needs, each decided by one rule here: which
 * backends are legacy, and which backends a route may send to. The status page, the
 * metrics ledger, the decision and the timeline all ask here, so a route the status
 * page calls migrated is also the one `strangler_migration_share` shows on the new side.
 * Computed once per config (a reload builds new objects).
 */
import type { Config, RouteConfig } from './types.js'

const legacyOf = new WeakMap<Config, ReadonlySet<string>>()
const backendsOf = new WeakMap<RouteConfig, readonly string[]>()

/**
 * Legacy backends: those marked `legacy: true`; when none is, the baselines of the
 * flagged routes (the app the flags move users away from).
 */
export function legacyBackends (config: Config): ReadonlySet<string> {
  let set = legacyOf.get(config)
  if (set === undefined) {
    const marked = [...config.backends.values()].filter((b) => b.legacy).map((b) => b.name)
    set = new Set(marked.length > 0 ? marked : config.routes.filter((r) => r.flag !== undefined).map((r) => r.backend))
    legacyOf.set(config, set)
  }
  return set
}

/** Every backend a route may send to: its baseline first, then the flag's backend, then the variants' backends, each once. */
export function routeBackends (route: RouteConfig): readonly string[] {
  let list = backendsOf.get(route)
  if (list === undefined) {
    const f = route.flag
    list = Object.freeze([...new Set([route.backend, ...(f?.backend === undefined ? [] : [f.backend]), ...Object.values(f?.variants ?? {})])])
    backendsOf.set(route, list)
  }
  return list
}

/** The backends a route's flag can move users to: all of its backends but the baseline. */
export function newBackends (route: RouteConfig): readonly string[] {
  return routeBackends(route).slice(1)
}
