/**
 * The live state behind both ports: the current snapshot (config, route table,
 * backend pools) and the lifecycle flags. A reload builds a complete new snapshot
 * and swaps one reference; a request holds the snapshot it started with.
 */
import type { Duplex } from 'node:stream'
import proxyAddr from 'proxy-addr'
import type { Logger } from 'pino'
import type { Config, RouteConfig } from '../config/config.js'
import type { Registry } from 'prom-client'
import { IdentityBridge } from '../identity/bridge.js'
import { loadSigner } from '../identity/token.js'
import { registerIdentityMetrics } from '../identity/metrics.js'
import { secretProblems } from '../config/secrets.js'
import { Operators } from '../admin/operators.js'
import { clientAddress } from '../decision/client-address.js'
import { Errors, ProxyError } from '../errors.js'
import type { FlagSource } from '../flags/source.js'
import { createFlagSource } from '../flags/create.js'
import { stateDir } from '../config/state-dir.js'
import { createJwtVerifier, type JwtVerifier } from '../decision/jwt.js'
import { Guard, type GuardState, type Trip } from '../safety/guard.js'
import type { FlagChange } from '../flags/diff.js'
import type { Tracing } from '../observe/tracing.js'
import { ShadowTraffic } from '../safety/shadow.js'
import { startShadow } from '../safety/shadow-start.js'
import type { CompareWithPrimary, ShadowInput } from '../proxy/scope.js'
import { EvidenceSeries } from '../safety/evidence-series.js'
import { evidenceOf, failureStatus, type Sample } from '../safety/evidence.js'
import { RateLimitedLog } from '../observe/rate-limited-log.js'
import type { RequestState } from '../proxy/request-state.js'
import { disableFlagInUnleash, unleashAdmin } from '../flags/unleash-admin.js'
import { buildRouteTable, type RouteTable } from '../routing/table.js'
import { createBackendPool, retirePool, poolKey, type BackendPool } from '../proxy/pools.js'

export interface Snapshot {
  readonly config: Config
  readonly table: RouteTable
  readonly pools: ReadonlyMap<string, BackendPool>
  /** proxy-addr's trust function over client.trustedProxies. */
  readonly trust: (addr: string, i: number) => boolean
  readonly isTrusted: (addr: string) => boolean
  readonly loadedAt: Date
  readonly flags: FlagSource | undefined
  readonly jwt: JwtVerifier | undefined
  /** STRANGLER_OVERRIDE_SECRET; overrides are refused without it. */
  readonly overrideSecret: string | undefined
  /** The same Guard and shadow bookkeeping across reloads. */
  readonly guard: Guard
  readonly shadow: ShadowTraffic
  readonly routesByName: ReadonlyMap<string, RouteConfig>
  /** Who may use the admin port; open (nobody configured) in a process without one. */
  readonly operators: Operators
  /** The identity bridge, when routes.yaml has identity: (the same one across reloads). */
  readonly identity: IdentityBridge | undefined
}

export interface RuntimeDeps {
  readonly logger: Logger
  /** Secrets and overrides: UNLEASH_API_TOKEN, STRANGLER_OVERRIDE_SECRET, the JWT secret variable. */
  readonly env: Readonly<Record<string, string | undefined>>
  readonly watchFlags?: boolean
  /** What changes where traffic goes, for the migration timeline. */
  readonly events?: RuntimeEvents
  /** Set when this process serves an admin port: its operators are built (and checked) with every config. */
  readonly admin?: { readonly token: string | undefined }
}

export interface RuntimeEvents {
  flagsChanged (changes: readonly FlagChange[], source: 'file' | 'unleash'): void
  guardChanged (route: string, from: GuardState, to: GuardState, why: string): void
  /** One request served by the baseline because the new backend could not be reached. */
  failover (route: string): void
  /** Every routed request, once finished (the status page's inventory and evidence); `status` is the backend's own answer. */
  served (config: Config, route: string, backend: string, reason: string | undefined, method: string, url: string, status: number | undefined, client: () => string): void
}

export class Runtime {
  #snapshot: Snapshot
  #bridge: IdentityBridge | undefined
  #retiring = new Set<Promise<void>>()
  /** True from the first SIGTERM on: readiness fails, new requests still served until close. */
  draining = false
  /** Open websocket tunnels (client side); Node's server no longer tracks upgraded sockets. */
  readonly tunnels = new Set<Duplex>()

  readonly #deps: RuntimeDeps
  readonly guard: Guard
  readonly shadow: ShadowTraffic
  /** The backends' own evidence on flagged routes, within the per-client caps: what the gates and the guard judge. */
  readonly evidence: EvidenceSeries
  /** OpenTelemetry tracing, when on (config/tracing.ts); undefined costs the request path nothing. */
  tracing: Tracing | undefined
  /** "backend override ignored", at most once per 10 s per reason. */
  readonly overrideWarnings: RateLimitedLog

  constructor (config: Config, deps: RuntimeDeps) {
    this.#deps = deps
    const log = deps.logger
    this.shadow = new ShadowTraffic(log)
    this.evidence = new EvidenceSeries(config.evidence)
    this.overrideWarnings = new RateLimitedLog(log, 'backend override ignored')
    this.guard = new Guard({
      trip: (route, trip) => this.#onTrip(route, trip),
      change: (route, from, to, why) => {
        log.warn({ route, guard: { from, to }, why }, `rollback guard on route ${route}: ${from} → ${to} (${why})`)
        deps.events?.guardChanged(route, from, to, why)
      }
    })
    this.#snapshot = this.#build(config, new Map(), undefined)
  }

  /** One finished request: the timeline's and status page's bookkeeping, and the backends' evidence. */
  observe (state: RequestState): void {
    if (state.route === undefined || state.backend === undefined) return
    if (state.failoverFrom !== undefined) this.#deps.events?.failover(state.route)
    const raw = state.incoming
    if (raw !== undefined) {
      const snap = this.#snapshot
      this.#deps.events?.served(snap.config, state.route, state.backend, state.reason, raw.method ?? 'GET', raw.url ?? '/', state.upstreamStatus, () => (state.clientAddress ??= clientAddress(snap, raw)))
    }
    const route = this.#snapshot.routesByName.get(state.route)
    if (route?.flag === undefined) return
    const sample = evidenceOf(state)
    if (typeof sample === 'string') {
      if (sample !== 'not_flagged') this.evidence.ignore(sample)
      return
    }
    const now = Date.now()
    // A failover means the new backend could not even be reached: evidence against it.
    if (state.failoverFrom !== undefined) {
      this.#evidence(route, state.failoverFrom.backend, { ...sample, status: failureStatus(state.failoverFrom.kind), seconds: undefined }, now)
    }
    this.#evidence(route, state.backend, sample, now)
  }

  startShadow (input: ShadowInput): CompareWithPrimary | undefined {
    return startShadow(this.shadow, input)
  }

  #evidence (route: RouteConfig, backend: string, sample: Sample, now: number): void {
    if (!this.evidence.record(route.name, backend, sample, now) || route.guard === undefined) return
    const side = backend === route.backend ? 'baseline' : 'candidate'
    this.guard.observe(route.name, side, sample.status >= 500, sample.seconds, sample.address, now)
  }

  #onTrip (route: string, trip: Trip): void {
    const snap = this.#snapshot
    const config = snap.routesByName.get(route)
    this.#deps.logger.warn({ route, trip }, `rollback guard tripped on route ${route}: ${trip.cause}; flagged traffic goes to the baseline`)
    const unleash = snap.config.flags?.unleash
    const flag = config?.flag?.name
    if (config?.guard?.disableFlag !== true || unleash === undefined || flag === undefined) return
    // One trip may be a burst; switching the flag off for every replica waits until
    // the probe after the cool-down fails too.
    if (trip.consecutive < 2) {
      this.#deps.logger.warn({ route, flag }, `flag ${flag} will be switched off in Unleash if the probe after the cool-down fails too`)
      return
    }
    const admin = unleashAdmin(unleash, this.#deps.env)
    if (admin === undefined) {
      this.#deps.logger.error({ route, flag }, 'guard.disableFlag is set but UNLEASH_ADMIN_TOKEN is not: the flag stays on in Unleash')
      return
    }
    disableFlagInUnleash({ ...admin, flag })
      .then(() => this.#deps.logger.warn({ route, flag, environment: unleash.environment }, `rollback guard switched flag ${flag} off in Unleash`))
      .catch((err: Error) => this.#deps.logger.error({ route, flag, error: err.message }, 'rollback guard could not switch the flag off in Unleash'))
  }

  /** Waits (boundedly) for the flag source's first data; never rejects. */
  async startFlags (maxWaitMs: number): Promise<void> {
    await this.#snapshot.flags?.start(maxWaitMs)
  }

  get snapshot (): Snapshot {
    return this.#snapshot
  }

  /** Swap in a new, already validated config. Returns the fields that need a restart to apply. */
  apply (config: Config): string[] {
    const old = this.#snapshot
    const next = this.#build(config, old.pools, old)
    this.#snapshot = next
    if (old.flags !== undefined && old.flags !== next.flags) void old.flags.close()
    const kept = new Set([...next.pools.values()].map((p) => p.pool))
    for (const p of old.pools.values()) {
      if (!kept.has(p.pool)) this.#retire(p, config.shutdown.timeout)
    }
    return restartOnlyChanges(old.config, config)
  }

  /** Close every pool: graceful until the deadline, then destroyed. */
  async close (deadlineMs: number): Promise<void> {
    for (const p of this.#snapshot.pools.values()) this.#retire(p, deadlineMs)
    await this.#snapshot.flags?.close()
    await Promise.all(this.#retiring)
  }

  closeTunnels (): void {
    for (const socket of this.tunnels) socket.destroy()
    this.tunnels.clear()
  }

  /** The bridge for `config`: its key read now (a bad one refuses the config), the sessions already resolved kept. */
  #identity (config: Config): IdentityBridge | undefined {
    const c = config.identity
    if (c === undefined) return undefined
    const signer = loadSigner(c.token.keyFile, c.token.createKey)
    if (this.#bridge === undefined) this.#bridge = new IdentityBridge(c, signer)
    else this.#bridge.configure(c, signer)
    return this.#bridge
  }

  /** The identity bridge's series (0 without one). */
  registerMetrics (registry: Registry): void {
    registerIdentityMetrics(registry, () => this.#snapshot.identity)
  }

  #retire (p: BackendPool, deadlineMs: number): void {
    const done = retirePool(p, deadlineMs).finally(() => this.#retiring.delete(done))
    this.#retiring.add(done)
  }

  #build (config: Config, previous: ReadonlyMap<string, BackendPool>, old: Snapshot | undefined): Snapshot {
    // Built first: a missing secret must reject the config before anything changes.
    const operators = this.#deps.admin === undefined ? Operators.none() : Operators.from(config.admin, this.#deps.env, this.#deps.admin.token)
    const secrets = [...secretProblems(config, this.#deps.env), ...(Array.isArray(operators) ? operators : [])]
    if (secrets.length > 0 || Array.isArray(operators)) throw new ProxyError(Errors.CONFIG_INVALID, secrets.map((p) => `${config.file}: ${p}`).join('; '))
    const jwt = config.cohort.jwt === undefined ? undefined : createJwtVerifier(config.cohort.jwt, this.#deps.env)
    const identity = this.#identity(config)
    const sameFlags = old !== undefined && JSON.stringify(old.config.flags) === JSON.stringify(config.flags)
    const flags = sameFlags
      ? old.flags
      : config.flags === undefined ? undefined : createFlagSource(config.flags, { logger: this.#deps.logger, env: this.#deps.env, stateDir: () => stateDir(config, this.#deps.env), watch: this.#deps.watchFlags ?? true, ...(this.#deps.events === undefined ? {} : { onChange: (c, s) => this.#deps.events?.flagsChanged(c, s) }) })
    const byKey = new Map([...previous.values()].map((p) => [p.key, p]))
    const pools = new Map<string, BackendPool>()
    for (const [name, backend] of config.backends) {
      const reuse = byKey.get(poolKey(backend))
      pools.set(name, reuse === undefined ? createBackendPool(backend) : { ...reuse, backend })
    }
    this.evidence.configure(config.evidence)
    this.guard.configure(new Map(config.routes.flatMap((r) => r.guard === undefined ? [] : [[r.name, r.guard] as const])))
    const trust = proxyAddr.compile([...config.client.trustedProxies])
    return Object.freeze({
      config,
      table: buildRouteTable(config),
      pools,
      trust,
      isTrusted: (addr: string) => trust(addr, 0),
      loadedAt: new Date(),
      flags,
      jwt,
      overrideSecret: this.#deps.env.STRANGLER_OVERRIDE_SECRET || undefined,
      guard: this.guard,
      shadow: this.shadow,
      routesByName: new Map(config.routes.map((r) => [r.name, r])),
      operators,
      identity
    })
  }
}

/** Settings bound to the listening sockets; a reload cannot change them. */
function restartOnlyChanges (a: Config, b: Config): string[] {
  const changed: string[] = []
  const same = (x: unknown, y: unknown): boolean => JSON.stringify(x) === JSON.stringify(y)
  if (!same(a.listen, b.listen)) changed.push('listen')
  if (a.admin.host !== b.admin.host || a.admin.port !== b.admin.port) changed.push('admin')
  for (const k of ['headersTimeout', 'requestTimeout', 'keepAliveTimeout', 'maxHeaderSize'] as const) {
    if (a.client[k] !== b.client[k]) changed.push(`client.${k}`)
  }
  return changed
}
