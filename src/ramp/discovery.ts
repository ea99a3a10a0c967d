/**
 * ramps.replicas: the replicas' admin ports as a static list, or every address a DNS
 * name resolves to (a Kubernetes headless Service has one A or AAAA record per ready
 * pod), each with the admin port. Prometheus's targets are the other source
 * (fleet-view.ts); a replica either names is shown.
 */
import { lookup } from 'node:dns/promises'
import type { ReplicaDiscovery } from '../config/config.js'
import type { Discover } from './fleet-view.js'

/** A resolver that does not answer must not hold the fleet view: it fails after `timeoutMs`. */
export function discovery (d: ReplicaDiscovery | undefined, timeoutMs: number): Discover | undefined {
  if (d === undefined) return undefined
  if ('static' in d) return { source: 'static', list: async () => d.static }
  const { host, port } = d.dns
  return {
    source: 'dns',
    list: async () => {
      let timer: NodeJS.Timeout | undefined
      const late = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`${host}: no DNS answer within ${timeoutMs} ms`)), timeoutMs) })
      try {
        const addresses = await Promise.race([lookup(host, { all: true }), late])
        return [...new Set(addresses.map((a) => a.family === 6 ? `[${a.address}]:${port}` : `${a.address}:${port}`))].sort()
      } finally {
        clearTimeout(timer)
      }
    }
  }
}
