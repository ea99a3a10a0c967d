/**
 * Retirement readiness: can legacy be switched off for a migrated route? The evidence
 * is tracked here (since when the route is at 100 %, parity over that time, the last
 * request legacy served and why, legacy's last known error ratio and p99) and kept in
 * the state directory, so a restart does not reset the clock. The verdict is pure.
 */
import { readFileSync } from 'node:fs'
import { writePrivateFileSync } from '../flags/private-storage.js'
import type { RetirementConfig } from '../config/config.js'

export interface LegacyFigures { readonly at: number, readonly requests: number, readonly errorRatio: number, readonly p99: number | null }

export interface RouteEvidence {
  at100Since: number | undefined
  match: number
  mismatch: number
  lastLegacy: { at: number, reason: string } | undefined
  legacyFigures: LegacyFigures | undefined
}

/** Legacy needs this many requests in a window for its figures to be kept as "last known". */
export const LEGACY_FIGURES_MIN_REQUESTS = 20

export interface TickInput {
  readonly route: string
  readonly migrated: boolean
  /** Shadow totals so far on the route (this process). */
  readonly shadow: { readonly match: number, readonly mismatch: number } | undefined
  /** Legacy on this route in the recent window. */
  readonly legacy: { readonly requests: number, readonly errorRatio: number | null, readonly p99: number | null } | undefined
}

export class EvidenceTracker {
  readonly #file: () => string
  #routes = new Map<string, RouteEvidence>()
  readonly #lastShadow = new Map<string, { match: number, mismatch: number }>()
  #dirty = false
  #loaded = false

  constructor (file: () => string) {
    this.#file = file
  }

  get (route: string): RouteEvidence | undefined {
    return this.#routes.get(route)
  }

  /** Per request served by legacy on a route with a new backend: kept in memory, saved on the next tick. */
  legacyServed (route: string, reason: string, now: number): void {
    const e = this.#routes.get(route) ?? this.#fresh(route)
    e.lastLegacy = { at: now, reason }
    this.#dirty = true
  }

  tick (inputs: readonly TickInput[], now: number): void {
    this.#load()
    for (const i of inputs) {
      const e = this.#routes.get(i.route) ?? this.#fresh(i.route)
      if (i.migrated && e.at100Since === undefined) {
        Object.assign(e, { at100Since: now, match: 0, mismatch: 0 })
        this.#dirty = true
      } else if (!i.migrated && e.at100Since !== undefined) {
        e.at100Since = undefined
        this.#dirty = true
      }
      if (i.shadow !== undefined) {
        // The process's counters start at zero; a smaller total than last time means they started again.
        const last = this.#lastShadow.get(i.route) ?? { match: 0, mismatch: 0 }
        const dm = i.shadow.match < last.match ? i.shadow.match : i.shadow.match - last.match
        const dx = i.shadow.mismatch < last.mismatch ? i.shadow.mismatch : i.shadow.mismatch - last.mismatch
        this.#lastShadow.set(i.route, { match: i.shadow.match, mismatch: i.shadow.mismatch })
        if (e.at100Since !== undefined && dm + dx > 0) {
          e.match += dm
          e.mismatch += dx
          this.#dirty = true
        }
      }
      if (i.legacy !== undefined && i.legacy.requests >= LEGACY_FIGURES_MIN_REQUESTS && i.legacy.errorRatio !== null) {
        e.legacyFigures = { at: now, requests: i.legacy.requests, errorRatio: i.legacy.errorRatio, p99: i.legacy.p99 }
        this.#dirty = true
      }
    }
    if (this.#dirty) this.#save()
  }

  #fresh (route: string): RouteEvidence {
    const e: RouteEvidence = { at100Since: undefined, match: 0, mismatch: 0, lastLegacy: undefined, legacyFigures: undefined }
    this.#routes.set(route, e)
    return e
  }

  #load (): void {
    if (this.#loaded) return
    this.#loaded = true
    try {
      const data = JSON.parse(readFileSync(this.#file(), 'utf8')) as { version: number, routes: Record<string, RouteEvidence> }
      if (data.version === 1) this.#routes = new Map([...Object.entries(data.routes), ...this.#routes])
    } catch {
      // No evidence yet (or unreadable): it is gathered from now on.
    }
  }

  #save (): void {
    writePrivateFileSync(this.#file(), JSON.stringify({ version: 1, routes: Object.fromEntries(this.#routes) }))
    this.#dirty = false
  }
}

export interface Check {
  readonly check: 'at100' | 'legacyQuiet' | 'errors' | 'latency' | 'parity'
  /** undefined: no evidence to judge by, which does not block. */
  readonly pass: boolean | undefined
  readonly detail: string
}

export interface Readiness {
  readonly ready: boolean
  readonly checks: readonly Check[]
}

export interface NewBackendFigures { readonly requests: number, readonly errorRatio: number | null, readonly p99: number | null }

function duration (ms: number): string {
  const h = Math.floor(ms / 3_600_000)
  if (h >= 48) return `${Math.floor(h / 24)} d ${h % 24} h`
  if (h >= 1) return `${h} h ${Math.floor((ms % 3_600_000) / 60_000)} min`
  if (ms >= 60_000) return `${Math.floor(ms / 60_000)} min`
  return `${Math.floor(ms / 1000)} s`
}

export function readiness (c: RetirementConfig, migrated: boolean, shadowed: boolean, e: RouteEvidence | undefined, fresh: NewBackendFigures | undefined, now: number): Readiness {
  const checks: Check[] = [at100Check(c, migrated, e, now), legacyQuietCheck(c, e, now), ...figureChecks(c, e, fresh)]
  if (shadowed) checks.push(parityCheck(c, e))
  return { ready: checks.every((x) => x.pass !== false), checks }
}

function at100Check (c: RetirementConfig, migrated: boolean, e: RouteEvidence | undefined, now: number): Check {
  const at = e?.at100Since
  return !migrated || at === undefined
    ? { check: 'at100', pass: false, detail: 'not at 100 % on the new backend' }
    : { check: 'at100', pass: now - at >= c.after, detail: `at 100 % for ${duration(now - at)} of ${duration(c.after)}` }
}

function legacyQuietCheck (c: RetirementConfig, e: RouteEvidence | undefined, now: number): Check {
  const last = e?.lastLegacy
  if (last === undefined) return { check: 'legacyQuiet', pass: true, detail: 'legacy has served no request on this route since tracking began' }
  if (last.reason === 'override') return { check: 'legacyQuiet', pass: true, detail: `last served by legacy ${duration(now - last.at)} ago, for a tester override` }
  return { check: 'legacyQuiet', pass: now - last.at >= c.legacyQuietFor, detail: `last served by legacy ${duration(now - last.at)} ago (${last.reason}); needs ${duration(c.legacyQuietFor)} without` }
}

/** 5xx and p99 of the new backend now against legacy's last known figures. */
function figureChecks (c: RetirementConfig, e: RouteEvidence | undefined, fresh: NewBackendFigures | undefined): Check[] {
  const lf = e?.legacyFigures
  if (lf === undefined || fresh === undefined || fresh.requests === 0 || fresh.errorRatio === null) {
    const detail = lf === undefined ? 'no legacy figures to compare with' : 'no recent traffic on the new backend'
    return [{ check: 'errors', pass: undefined, detail }, { check: 'latency', pass: undefined, detail }]
  }
  const increase = fresh.errorRatio - lf.errorRatio
  const ratio = fresh.p99 === null || lf.p99 === null || lf.p99 === 0 ? undefined : fresh.p99 / lf.p99
  return [
    { check: 'errors', pass: increase <= c.maxErrorRatioIncrease, detail: `5xx ${(fresh.errorRatio * 100).toFixed(2)} % now vs legacy's ${(lf.errorRatio * 100).toFixed(2)} % (${new Date(lf.at).toISOString()}), limit +${(c.maxErrorRatioIncrease * 100).toFixed(2)} %` },
    { check: 'latency', pass: ratio === undefined ? undefined : ratio <= c.maxLatencyRatio, detail: ratio === undefined ? 'no p99 to compare' : `p99 ${ratio.toFixed(2)}× legacy's last known, limit ${c.maxLatencyRatio}×` }
  ]
}

function parityCheck (c: RetirementConfig, e: RouteEvidence | undefined): Check {
  const compared = (e?.match ?? 0) + (e?.mismatch ?? 0)
  if (compared === 0) return { check: 'parity', pass: false, detail: 'no shadow comparisons at 100 % yet' }
  const parity = (e?.match ?? 0) / compared
  return { check: 'parity', pass: parity >= c.minParity, detail: `${(parity * 100).toFixed(3)} % of ${compared} comparisons at 100 %, minimum ${(c.minParity * 100).toFixed(1)} %` }
}
