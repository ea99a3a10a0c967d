/**
 * A per-route share over a sliding window: the migration ledger (requests served by a
 * new backend) and shadow parity (comparisons that matched). Fixed memory: one ring
 * of slots per route, whatever the traffic.
 */
const SLOT_MS = 10_000
const SLOTS = 30 // 5 minutes

interface Ring {
  readonly total: Float64Array
  readonly onNew: Float64Array
  /** The slot index (time / SLOT_MS) each position holds. */
  readonly epoch: Float64Array
}

export class Ledger {
  readonly #rings = new Map<string, Ring>()
  readonly windowMs = SLOT_MS * SLOTS

  record (route: string, onNew: boolean, now = Date.now()): void {
    let ring = this.#rings.get(route)
    if (ring === undefined) {
      ring = { total: new Float64Array(SLOTS), onNew: new Float64Array(SLOTS), epoch: new Float64Array(SLOTS).fill(-1) }
      this.#rings.set(route, ring)
    }
    const slot = Math.floor(now / SLOT_MS)
    const i = slot % SLOTS
    if (ring.epoch[i] !== slot) {
      ring.epoch[i] = slot
      ring.total[i] = 0
      ring.onNew[i] = 0
    }
    ring.total[i] = (ring.total[i] as number) + 1
    if (onNew) ring.onNew[i] = (ring.onNew[i] as number) + 1
  }

  /** Share on new backends per route over the window; routes without traffic in it are absent. */
  shares (now = Date.now()): Map<string, number> {
    const oldest = Math.floor(now / SLOT_MS) - SLOTS + 1
    const out = new Map<string, number>()
    for (const [route, ring] of this.#rings) {
      let total = 0
      let onNew = 0
      for (let i = 0; i < SLOTS; i++) {
        if ((ring.epoch[i] as number) < oldest) continue
        total += ring.total[i] as number
        onNew += ring.onNew[i] as number
      }
      if (total > 0) out.set(route, onNew / total)
    }
    return out
  }

  /** Forget routes that no longer exist after a reload. */
  retain (routes: ReadonlySet<string>): void {
    for (const route of this.#rings.keys()) if (!routes.has(route)) this.#rings.delete(route)
  }
}
