/**
 * Coverage for one proxy: the declarations of the live config, read again when the
 * config changes and every REFRESH_MS (a URL's document changes with each deploy of
 * its app), the traffic per declared endpoint, and the reconciliation on demand.
 * Reading a declaration never touches the request path: until it is read, the
 * previous one (or nothing) is matched.
 */
import type { Logger } from 'pino'
import type { Config } from '../config/config.js'
import { loadDeclaration, type Declaration } from './declared.js'
import { CoverageTraffic } from './traffic.js'
import { reconcile, type CoverageInputs, type CoverageReport } from './reconcile.js'

/** How often declarations are read again. */
export const REFRESH_MS = 5 * 60_000

export class Coverage {
  readonly traffic: CoverageTraffic
  readonly #logger: Logger
  #config: Config | undefined
  #declarations: readonly Declaration[] = []
  #loading: Promise<readonly Declaration[]> | undefined
  #loadedAt = 0

  constructor (logger: Logger, stateFile: () => string) {
    this.#logger = logger
    this.traffic = new CoverageTraffic(stateFile)
  }

  get declarations (): readonly Declaration[] {
    return this.#declarations
  }

  /** The declarations for `config`, read when the config changed or they are older than REFRESH_MS. */
  async refresh (config: Config, now = Date.now()): Promise<readonly Declaration[]> {
    if (config === this.#config && now - this.#loadedAt < REFRESH_MS) return this.#declarations
    if (this.#loading !== undefined && config === this.#config) return await this.#loading
    this.#config = config
    const loading = this.#load(config, now)
    this.#loading = loading
    try {
      return await loading
    } finally {
      if (this.#loading === loading) this.#loading = undefined
    }
  }

  async #load (config: Config, now: number): Promise<readonly Declaration[]> {
    const sources = [...(config.coverage?.declared ?? new Map())]
    const declarations = await Promise.all(sources.map(async ([backend, source]) => await loadDeclaration(backend, source, now)))
    for (const d of declarations) {
      if (d.error !== null) this.#logger.warn({ backend: d.backend, source: d.location, error: d.error }, 'could not read the routes a backend declares; coverage counts it as declaring nothing known')
    }
    if (config === this.#config) {
      this.#declarations = declarations
      this.#loadedAt = now
      this.traffic.declare(declarations.flatMap((d) => d.endpoints))
    }
    return declarations
  }

  /** Reads the declarations if due, then reconciles them with routes.yaml and the traffic. */
  async report (config: Config, inputs: Pick<CoverageInputs, 'routeFor' | 'stateOf'>, now = Date.now()): Promise<CoverageReport> {
    const declarations = await this.refresh(config, now)
    return reconcile({ config, declarations, ...inputs, traffic: (key) => this.traffic.get(key), since: this.traffic.since(now), now })
  }
}
