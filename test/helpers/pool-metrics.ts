/** Reads a backend's pool from the admin port's strangler_upstream_pool_* series. */
import { request } from 'undici'
import { poll } from './poll.js'

/** strangler_upstream_pool_{connected,running,pending,queued}{backend} as name → value. */
export async function backendPool (adminUrl: string, backend: string): Promise<Record<string, number>> {
  const text = await (await request(`${adminUrl}/metrics`)).body.text()
  const out: Record<string, number> = {}
  for (const m of text.matchAll(/^strangler_upstream_pool_(connected|running|pending|queued)\{backend="([^"]+)"\} (\S+)$/gm)) {
    if (m[2] === backend) out[m[1] as string] = Number(m[3])
  }
  return out
}

/** Polls `what` every 100 ms until it holds or `ms` pass; the last answer. */
export async function until (what: () => Promise<boolean>, ms: number): Promise<boolean> {
  return await poll(what, (v) => v, ms)
}
