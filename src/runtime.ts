/**
 * The live state behind both ports: the current snapshot (config, route table,
 * backend pools) and the lifecycle flags. A reload builds a complete new snapshot
 * and swaps one reference; a request holds the snapshot it started with.
 */
import type { Duplex } from 'node:stream'
import proxyAddr from 'proxy-addr'
import type { Config } from './config.js'
import { buildRouteTable, type RouteTable } from './routing.js'
import { createBackendPool, retirePool, poolKey, type BackendPool } from './pools.js'

export interface Snapshot {
  readonly config: Config
  readonly table: RouteTable
  readonly pools: ReadonlyMap<string, BackendPool>
  readonly isTrusted: (addr: string) => boolean
  readonly loadedAt: Date
}

export class Runtime {
  #snapshot: Snapshot
  #retiring = new Set<Promise<void>>()
  /** True from the first SIGTERM on: readiness fails, new requests still served until close. */
  draining = false
  /** Open websocket tunnels (client side); Node's server no longer tracks upgraded sockets. */
  readonly tunnels = new Set<Duplex>()

  constructor (config: Config) {
    this.#snapshot = this.#build(config, new Map())
  }

  get snapshot (): Snapshot {
    return this.#snapshot
  }

  /** Swap in a new, already validated config. Returns the fields that need a restart to apply. */
  apply (config: Config): string[] {
    const old = this.#snapshot
    const next = this.#build(config, old.pools)
    this.#snapshot = next
    const kept = new Set([...next.pools.values()].map((p) => p.pool))
    for (const p of old.pools.values()) {
      if (!kept.has(p.pool)) this.#retire(p, config.shutdown.timeout)
    }
    return restartOnlyChanges(old.config, config)
  }

  /** Close every pool: graceful until the deadline, then destroyed. */
  async close (deadlineMs: number): Promise<void> {
    for (const p of this.#snapshot.pools.values()) this.#retire(p, deadlineMs)
    await Promise.all(this.#retiring)
  }

  closeTunnels (): void {
    for (const socket of this.tunnels) socket.destroy()
    this.tunnels.clear()
  }

  #retire (p: BackendPool, deadlineMs: number): void {
    const done = retirePool(p, deadlineMs).finally(() => this.#retiring.delete(done))
    this.#retiring.add(done)
  }

  #build (config: Config, previous: ReadonlyMap<string, BackendPool>): Snapshot {
    const byKey = new Map([...previous.values()].map((p) => [p.key, p]))
    const pools = new Map<string, BackendPool>()
    for (const [name, backend] of config.backends) {
      const reuse = byKey.get(poolKey(backend))
      pools.set(name, reuse === undefined ? createBackendPool(backend) : { ...reuse, backend })
    }
    const trust = proxyAddr.compile([...config.client.trustedProxies])
    return Object.freeze({
      config,
      table: buildRouteTable(config),
      pools,
      isTrusted: (addr: string) => trust(addr, 0),
      loadedAt: new Date()
    })
  }
}

/** Settings bound to the listening sockets; a reload cannot change them. */
function restartOnlyChanges (a: Config, b: Config): string[] {
  const changed: string[] = []
  const same = (x: unknown, y: unknown): boolean => JSON.stringify(x) === JSON.stringify(y)
  if (!same(a.listen, b.listen)) changed.push('listen')
  if (!same(a.admin, b.admin)) changed.push('admin')
  for (const k of ['headersTimeout', 'requestTimeout', 'keepAliveTimeout', 'maxHeaderSize'] as const) {
    if (a.client[k] !== b.client[k]) changed.push(`client.${k}`)
  }
  return changed
}
