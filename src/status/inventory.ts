/**
 * What legacy still serves through catch-all routes, grouped into path templates
 * (numeric ids, UUIDs and long hex become :id) by method, with counts, last seen and
 * share of all traffic: the list of what is left to migrate. Bounded: a fixed number
 * of templates, the rest counted as other.
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

export class Inventory {
  #max: number
  readonly #cells = new Map<string, Cell>()
  #other = 0
  #total = 0

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

  record (method: string, path: string, route: string, now: number): void {
    const template = pathTemplate(path)
    const key = `${method} ${template}`
    const cell = this.#cells.get(key)
    if (cell !== undefined) {
      cell.requests++
      cell.last = now
    } else if (this.#cells.size < this.#max) {
      this.#cells.set(key, { method, template, route, requests: 1, last: now })
    } else {
      this.#other++
    }
  }

  /** By traffic, most first. */
  report (): { entries: InventoryEntry[], other: number, total: number, templates: number, maxTemplates: number } {
    const total = this.#total
    const entries = [...this.#cells.values()]
      .sort((a, b) => b.requests - a.requests || a.template.localeCompare(b.template))
      .map((c) => ({ method: c.method, template: c.template, route: c.route, requests: c.requests, lastSeen: new Date(c.last).toISOString(), share: total === 0 ? 0 : c.requests / total }))
    return { entries, other: this.#other, total, templates: this.#cells.size, maxTemplates: this.#max }
  }
}
