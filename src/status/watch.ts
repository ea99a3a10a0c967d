/**
 * Per finished request, what the status page needs that counters do not keep: the
 * path templates legacy serves through catch-all routes (the inventory) and the last
 * time legacy served a route that has a new backend, and why, and with coverage: the
 * declared endpoint each request matched. Cheap for every other request: two set
 * lookups against sets built once per config.
 */
import type { Config } from '../config/config.js'
import type { Inventory } from './inventory.js'
import type { EvidenceTracker } from './readiness.js'
import type { CoverageTraffic } from '../coverage/traffic.js'
import { legacyBackends, newBackends } from '../config/roles.js'

interface Sets {
  readonly config: Config
  readonly legacy: ReadonlySet<string>
  /** Routes matching every path (/*) with no method or header condition. */
  readonly catchAll: ReadonlySet<string>
  readonly migrating: ReadonlySet<string>
}

export class MigrationWatch {
  readonly #inventory: Inventory
  readonly #evidence: EvidenceTracker
  readonly #coverage: CoverageTraffic
  #sets: Sets | undefined

  constructor (inventory: Inventory, evidence: EvidenceTracker, coverage: CoverageTraffic) {
    this.#inventory = inventory
    this.#evidence = evidence
    this.#coverage = coverage
  }

  /** `status`: the backend's own answer (undefined when it gave none); `client`: asked only for what the inventory keeps. */
  observe (config: Config, route: string, backend: string, reason: string | undefined, method: string, url: string, status: number | undefined, client: () => string): void {
    const s = this.#setsFor(config)
    this.#inventory.count()
    if (config.coverage !== undefined) this.#coverage.observe(method, url, Date.now())
    // Most requests stop here: the clock is read only for what legacy serves.
    if (!s.legacy.has(backend)) return
    const now = Date.now()
    if (s.catchAll.has(route)) this.#inventory.record(method, url, route, status, client(), now)
    if (s.migrating.has(route)) this.#evidence.legacyServed(route, reason ?? 'static', now)
  }

  #setsFor (config: Config): Sets {
    if (this.#sets?.config === config) return this.#sets
    this.#inventory.maxTemplates = config.inventory.maxTemplates
    this.#sets = {
      config,
      legacy: legacyBackends(config),
      catchAll: new Set(config.routes.filter((r) => r.match.path === '/*' && r.match.methods === undefined && r.match.headers === undefined).map((r) => r.name)),
      migrating: new Set(config.routes.filter((r) => newBackends(r).length > 0).map((r) => r.name))
    }
    return this.#sets
  }
}
