/**
 * What legacy still serves through catch-all routes, grouped into path templates
 * (numeric ids, UUIDs and long hex become :id) by method, with counts, last seen and
 * share of all traffic: the list of what is left to migrate. Bounded: a fixed number
 * of templates, the rest counted as other.
 *
 * Clients choose the paths they send, so junk must not push real endpoints out: a
 * template is learned only from an answer legacy served with 2xx or 3xx (404s and
 * failures are counted apart), each client address may add NEW_PER_CLIENT templates
 * per period, and one first path segment holds at most a tenth of the templates.
 */

import { pathTemplate } from '../routing/path-template.js'

export interface InventoryEntry {
  readonly method: string
  readonly template: string
  readonly route: string
  readonly requests: number
  readonly lastSeen: string
  /** Of every request the proxy served since it started. */
  readonly share: number
}

interface Cell { method: string, template: string, route: string, requests: number, last: number }

/** New templates one client address may add per period. */
export const NEW_PER_CLIENT = 20
export const CLIENT_PERIOD_MS = 10 * 60_000
/** Addresses tracked per period; past it, unknown addresses add no templates (a flood waits). */
const MAX_CLIENTS = 10_000

/** Templates one first path segment may hold: a tenth of the limit, at least 20. */
export function perSegment (maxTemplates: number): number {
  return Math.max(20, Math.ceil(maxTemplates / 10))
}

function firstSegment (template: string): string {
  const end = template.indexOf('/', 1)
  return end === -1 ? template : template.slice(0, end)
}

export class Inventory {
  #max: number
  readonly #cells = new Map<string, Cell>()
  readonly #segments = new Map<string, number>()
  readonly #clients = new Map<string, number>()
  #period = -1
  #other = 0
  #total = 0
  #notFound = 0
  #failed = 0

  constructor (maxTemplates: number) {
    this.#max = maxTemplates
  }

  set maxTemplates (n: number) {
    this.#max = n
  }

  /** Every request counts toward the total; only legacy catch-all ones get a template. */
  count (): void {
    this.#total++
  }

  /**
   * One request legacy was asked on a catch-all route; `status` is legacy's answer
   * (undefined when it gave none), `client` the client address.
   */
  record (method: string, path: string, route: string, status: number | undefined, client: string, now: number): void {
    if (status === undefined || status >= 400) {
      if (status === 404) this.#notFound++
      else this.#failed++
      return
    }
    const template = pathTemplate(path)
    const key = `${method} ${template}`
    const cell = this.#cells.get(key)
    if (cell !== undefined) {
      cell.requests++
      cell.last = now
      return
    }
    const segment = firstSegment(template)
    if (this.#cells.size >= this.#max || (this.#segments.get(segment) ?? 0) >= perSegment(this.#max) || !this.#admit(client, now)) {
      this.#other++
      return
    }
    this.#cells.set(key, { method, template, route, requests: 1, last: now })
    this.#segments.set(segment, (this.#segments.get(segment) ?? 0) + 1)
  }

  /** May `client` add one more template in this period? */
  #admit (client: string, now: number): boolean {
    const period = Math.floor(now / CLIENT_PERIOD_MS)
    if (period !== this.#period) {
      this.#period = period
      this.#clients.clear()
    }
    const n = this.#clients.get(client)
    if (n === undefined && this.#clients.size >= MAX_CLIENTS) return false
    if ((n ?? 0) >= NEW_PER_CLIENT) return false
    this.#clients.set(client, (n ?? 0) + 1)
    return true
  }

  /** By traffic, most first. */
  report (): { entries: InventoryEntry[], other: number, notFound: number, failed: number, total: number, templates: number, maxTemplates: number } {
    const total = this.#total
    const entries = [...this.#cells.values()]
      .sort((a, b) => b.requests - a.requests || a.template.localeCompare(b.template))
      .map((c) => ({ method: c.method, template: c.template, route: c.route, requests: c.requests, lastSeen: new Date(c.last).toISOString(), share: total === 0 ? 0 : c.requests / total }))
    return { entries, other: this.#other, notFound: this.#notFound, failed: this.#failed, total, templates: this.#cells.size, maxTemplates: this.#max }
  }
}
