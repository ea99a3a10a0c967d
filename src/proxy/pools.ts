/**
 * One undici Pool per backend, configured from that backend's timeouts and size.
 * Pools survive a reload when their backend's settings did not change, so a
 * reload does not drop warm keep-alive connections.
 */
import { Pool } from 'undici'
import type { BackendConfig } from '../config/config.js'

export interface BackendPool {
  readonly backend: BackendConfig
  readonly pool: Pool
  /** Settings fingerprint: equal fingerprints can share a pool across reloads. */
  readonly key: string
}

export function poolKey (b: BackendConfig): string {
  return JSON.stringify([b.origin, b.timeouts, b.pool])
}

export function createBackendPool (backend: BackendConfig): BackendPool {
  const pool = new Pool(backend.origin, {
    connections: backend.pool.connections,
    pipelining: 1,
    connect: { timeout: backend.timeouts.connect },
    headersTimeout: backend.timeouts.headers,
    bodyTimeout: backend.timeouts.bodyIdle,
    keepAliveTimeout: backend.pool.keepAliveTimeout,
    keepAliveMaxTimeout: Math.max(backend.pool.keepAliveTimeout, 60_000)
  })
  return { backend, pool, key: poolKey(backend) }
}

/** Lets in-flight requests finish, then closes; destroys whatever is left at the deadline. */
export async function retirePool (p: BackendPool, deadlineMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<'late'>((resolve) => { timer = setTimeout(resolve, deadlineMs, 'late') })
  try {
    const result = await Promise.race([p.pool.close().then(() => 'closed' as const), deadline])
    if (result === 'late') await p.pool.destroy()
  } catch {
    await p.pool.destroy().catch(() => {})
  } finally {
    clearTimeout(timer)
  }
}
