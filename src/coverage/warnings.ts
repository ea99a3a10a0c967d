/**
 * What `validate` says about coverage without a running proxy: declarations it cannot
 * read, and endpoints routes.yaml sends to a backend that does not declare them. A
 * flagged route counts as sending to its new backends too: a flag can be switched on
 * at any time, so the file is judged by where it may send traffic.
 */
import type { Config, RouteConfig } from '../config/config.js'
import { legacyBackends } from '../config/roles.js'
import { buildRouteTable } from '../routing/table.js'
import { loadDeclaration } from './declared.js'
import { reconcile, type RouteMigrationState } from './reconcile.js'
import { routeFinder } from './route-finder.js'

function mayServe (route: RouteConfig, legacy: ReadonlySet<string>): RouteMigrationState {
  if (route.flag !== undefined) return 'migrating'
  return legacy.has(route.backend) ? 'legacy' : 'migrated'
}

export async function coverageWarnings (config: Config, now = Date.now()): Promise<string[]> {
  if (config.coverage === undefined) return []
  const declarations = await Promise.all([...config.coverage.declared].map(async ([backend, source]) => await loadDeclaration(backend, source, now)))
  const legacy = legacyBackends(config)
  const report = reconcile({
    config,
    declarations,
    routeFor: routeFinder(buildRouteTable(config)),
    stateOf: (r) => mayServe(r, legacy),
    traffic: () => ({ requests: 0, last: undefined }),
    since: now,
    now
  })
  return [
    ...declarations.flatMap((d) => d.error === null ? [] : [`coverage.declared.${d.backend}: not read: ${d.error}`]),
    ...report.rows.filter((r) => r.state === 'routed-not-implemented').map((r) => `route "${r.route as string}" may send ${r.method} ${r.template} to ${r.missingOn.join(', ')}, which ${r.missingOn.length === 1 ? 'does' : 'do'} not declare it (routed, not implemented)`)
  ]
}
