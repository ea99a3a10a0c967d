/**
 * Traffic per declared endpoint: how many requests matched each declared template and
 * when the last one did, kept across restarts in the private state directory, so
 * "unused for 30 days" can be said of a proxy that restarts every deploy. Only
 * declared templates are counted: clients cannot add entries, so memory follows the
 * declarations, not the traffic.
 */
import { readFileSync } from 'node:fs'
import { writePrivateFileSync } from '../flags/private-storage.js'
import { endpointKey, isParam, templateSegments, type Endpoint } from './endpoint.js'

export interface EndpointTraffic {
  readonly requests: number
  /** ms; undefined when never seen since `since`. */
  readonly last: number | undefined
}

interface Node {
  readonly literal: Map<string, Node>
  param: Node | undefined
  /** method → endpoint key, at the node where a template ends. */
  readonly ends: Map<string, string>
}

function node (): Node {
  return { literal: new Map(), param: undefined, ends: new Map() }
}

/** A trie of the declared templates: a literal segment beats a parameter, as in the route table. */
export function compileTemplates (endpoints: Iterable<Endpoint>): Node {
  const root = node()
  for (const e of endpoints) {
    let at = root
    for (const s of templateSegments(e.template)) {
      if (isParam(s)) at = (at.param ??= node())
      else {
        const next = at.literal.get(s) ?? node()
        at.literal.set(s, next)
        at = next
      }
    }
    at.ends.set(e.method, endpointKey(e.method, e.template))
  }
  return root
}

function find (at: Node, segments: readonly string[], i: number, method: string): string | undefined {
  if (i === segments.length) return at.ends.get(method) ?? (method === 'HEAD' ? at.ends.get('GET') : undefined)
  const s = segments[i] as string
  const literal = at.literal.get(s)
  const hit = literal === undefined ? undefined : find(literal, segments, i + 1, method)
  if (hit !== undefined || at.param === undefined || s === '') return hit
  return find(at.param, segments, i + 1, method)
}

/** The declared endpoint a request path matches ("/api/orders/7?x" → "GET /api/orders/{}"). */
export function matchTemplate (root: Node, method: string, url: string): string | undefined {
  const q = url.indexOf('?')
  return find(root, templateSegments(q === -1 ? url : url.slice(0, q)), 0, method)
}

interface Saved { version: 1, since: number, endpoints: Record<string, { requests: number, last: number | null }> }

export class CoverageTraffic {
  readonly #file: () => string
  readonly #cells = new Map<string, { requests: number, last: number | undefined }>()
  #root: Node = node()
  #since: number | undefined
  #loaded = false
  #dirty = false

  constructor (file: () => string) {
    this.#file = file
  }

  /** The declared endpoints changed: requests are matched against these from now on. */
  declare (endpoints: Iterable<Endpoint>): void {
    this.#root = compileTemplates(endpoints)
  }

  /** Per finished request; cheap when nothing is declared (an empty trie). */
  observe (method: string, url: string, now: number): void {
    const key = matchTemplate(this.#root, method, url)
    if (key === undefined) return
    const cell = this.#cells.get(key)
    if (cell === undefined) this.#cells.set(key, { requests: 1, last: now })
    else {
      cell.requests++
      cell.last = now
    }
    this.#dirty = true
  }

  /** Since when traffic has been counted (the first start with coverage: configured). */
  since (now: number): number {
    this.#load()
    if (this.#since === undefined) {
      this.#since = now
      this.#dirty = true
    }
    return this.#since
  }

  get (key: string): EndpointTraffic {
    this.#load()
    const cell = this.#cells.get(key)
    return { requests: cell?.requests ?? 0, last: cell?.last }
  }

  /** Saves what changed since the last save; throws when the file cannot be written. */
  flush (now: number): void {
    const since = this.since(now)
    if (!this.#dirty) return
    const endpoints: Saved['endpoints'] = {}
    for (const [key, c] of this.#cells) endpoints[key] = { requests: c.requests, last: c.last ?? null }
    writePrivateFileSync(this.#file(), JSON.stringify({ version: 1, since, endpoints } satisfies Saved))
    this.#dirty = false
  }

  /** Counts saved by an earlier process are added to what this one has counted so far. */
  #load (): void {
    if (this.#loaded) return
    this.#loaded = true
    let data: Saved
    try {
      data = JSON.parse(readFileSync(this.#file(), 'utf8')) as Saved
    } catch {
      return
    }
    if (data?.version !== 1 || typeof data.since !== 'number') return
    this.#since = data.since
    for (const [key, saved] of Object.entries(data.endpoints ?? {})) {
      const cell = this.#cells.get(key)
      const last = typeof saved.last === 'number' ? saved.last : undefined
      if (cell === undefined) this.#cells.set(key, { requests: saved.requests, last })
      else {
        cell.requests += saved.requests
        cell.last = Math.max(cell.last ?? 0, last ?? 0) || undefined
      }
    }
  }
}
