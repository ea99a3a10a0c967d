/**
 * The legacy inventory of a fleet: each replica's own (GET /inventory) added up per
 * method, path template and route; the last time any replica saw it; shares of the sum.
 */
import type { InventoryEntry } from './inventory.js'

export interface ReplicaInventory {
  readonly entries: readonly InventoryEntry[]
  readonly other: number
  readonly notFound: number
  readonly failed: number
  readonly total: number
}

export interface FleetInventory {
  readonly entries: InventoryEntry[]
  readonly other: number
  readonly notFound: number
  readonly failed: number
  readonly total: number
}

export function mergeInventories (reports: Iterable<ReplicaInventory>): FleetInventory {
  const cells = new Map<string, { method: string, template: string, route: string, requests: number, lastSeen: string }>()
  let other = 0
  let notFound = 0
  let failed = 0
  let total = 0
  for (const r of reports) {
    other += r.other
    notFound += r.notFound
    failed += r.failed
    total += r.total
    for (const e of r.entries) {
      const key = `${e.method} ${e.template} ${e.route}`
      const cell = cells.get(key) ?? { method: e.method, template: e.template, route: e.route, requests: 0, lastSeen: e.lastSeen }
      cell.requests += e.requests
      if (e.lastSeen > cell.lastSeen) cell.lastSeen = e.lastSeen
      cells.set(key, cell)
    }
  }
  const entries = [...cells.values()]
    .sort((a, b) => b.requests - a.requests || a.template.localeCompare(b.template))
    .map((c) => ({ ...c, share: total === 0 ? 0 : c.requests / total }))
  return { entries, other, notFound, failed, total }
}

/** A replica's /inventory body, when it has that shape. */
export function asInventory (body: unknown): ReplicaInventory | undefined {
  const b = body as Partial<ReplicaInventory> | undefined
  if (!Array.isArray(b?.entries) || typeof b.total !== 'number') return undefined
  return { entries: b.entries, other: Number(b.other ?? 0), notFound: Number(b.notFound ?? 0), failed: Number(b.failed ?? 0), total: b.total }
}
