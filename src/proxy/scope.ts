/**
 * What forwarding needs of the live runtime, declared here so proxy/ depends on
 * nothing above it: lifecycle/runtime.ts's Runtime is one ProxyRuntime, and the
 * shadow copies and the evidence behind `observe` come from safety/ through it.
 */
import type { Duplex, Readable } from 'node:stream'
import type { DecisionScope } from '../decision/scope.js'
import type { Context } from '../flags/unleash-internals.js'
import type { RouteTable, Route } from '../routing/table.js'
import type { RequestTrace, Tracing } from '../observe/tracing.js'
import type { RateLimitedLog } from '../observe/rate-limited-log.js'
import type { BackendPool } from './pools.js'
import type { IdentityBridge } from '../identity/bridge.js'
import type { Captured } from './collect.js'
import type { RequestState } from './request-state.js'

/** The config-bound state one request holds from start to end. */
export interface ProxySnapshot extends DecisionScope {
  readonly table: RouteTable
  readonly pools: ReadonlyMap<string, BackendPool>
  readonly isTrusted: (addr: string) => boolean
  /** The identity bridge, when configured. */
  readonly identity: IdentityBridge | undefined
}

/** A routed request whose primary has answered: what a shadow copy of it needs. */
export interface ShadowInput {
  readonly snap: ProxySnapshot
  readonly route: Route
  readonly primary: BackendPool
  /** Path and query as sent (without the backend's base path). */
  readonly upstreamPath: string
  /** The request's path without the query. */
  readonly rawPath: string
  readonly method: string
  readonly requestId: string
  /** User id or returning session, else the client address. */
  readonly who: string
  readonly body: Buffer | Readable | undefined
  readonly context: Context | undefined
  readonly trace: RequestTrace | undefined
  /** The headers the copy is sent with, for that backend. */
  readonly headers: (backend: BackendPool) => string[]
}

/** Called with the primary's answer once its body is in (undefined when it failed). */
export type CompareWithPrimary = (primary: Captured | undefined) => void

export interface ProxyRuntime {
  readonly snapshot: ProxySnapshot
  /** From the first SIGTERM on: responses say connection: close. */
  readonly draining: boolean
  /** Open websocket tunnels, closed at shutdown. */
  readonly tunnels: Set<Duplex>
  readonly tracing: Tracing | undefined
  readonly overrideWarnings: RateLimitedLog
  /** The record step's bookkeeping above the proxy: evidence, the guard, the timeline, the status page. */
  observe (state: RequestState): void
  /** Sends a shadow copy where the route has shadow:; undefined when none goes out. */
  startShadow (input: ShadowInput): CompareWithPrimary | undefined
}
