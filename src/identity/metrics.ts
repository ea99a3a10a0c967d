/**
 * The identity bridge's series, registered with the instance's metrics whether or not
 * routes.yaml has identity: (they read 0 without), so rules and dashboards always find
 * them and a bridge added by a reload is counted from its first lookup.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { IdentityBridge } from './bridge.js'

export function registerIdentityMetrics (registry: Registry, bridge: () => IdentityBridge | undefined): void {
  const results = ['hit', 'resolved', 'anonymous', 'no_session', 'failed'] as const
  new Counter({
    name: 'strangler_identity_lookups_total',
    help: 'Identity bridge lookups by result: hit (cached), resolved (legacy named a user), anonymous (legacy named nobody), no_session (no session credential), failed (legacy did not answer usably).',
    labelNames: ['result'],
    registers: [registry],
    collect () {
      this.reset()
      const counts = bridge()?.counts
      for (const result of results) this.inc({ result }, counts?.[result] ?? 0)
    }
  })
  new Histogram({
    name: 'strangler_identity_lookup_duration_seconds',
    help: 'Time legacy took to answer an identity lookup.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
    // Observed at scrape time, as this very scrape reads it: the request path only appends a number.
    collect () {
      for (const s of bridge()?.drainSeconds() ?? []) this.observe(s)
    }
  })
  new Gauge({
    name: 'strangler_identity_cache_entries',
    help: 'Sessions in the identity cache.',
    registers: [registry],
    collect () { this.set(bridge()?.cached ?? 0) }
  })
  new Gauge({
    name: 'strangler_identity_cache_bytes',
    help: 'Bytes of identities in the identity cache, as identity.cache.maxBytes counts them.',
    registers: [registry],
    collect () { this.set(bridge()?.cachedBytes ?? 0) }
  })
}
