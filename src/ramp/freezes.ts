/**
 * Freezes: a person declares that no ramp (or one route's ramp) moves forward until a
 * time, with who and why. A frozen ramp holds and refuses skip and approve; step-backs
 * and aborts still happen. Kept in the private state directory next to the ramp state,
 * so a freeze declared for a holiday survives a restart; an expired one is dropped.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { stateFileName, writePrivateFileSync } from '../flags/private-storage.js'

/** Every route: a freeze for the whole fleet of ramps. */
export const ALL_ROUTES = '*'

export interface Freeze {
  /** A route name, or ALL_ROUTES. */
  readonly route: string
  /** Epoch ms. */
  readonly until: number
  readonly by: string
  readonly reason: string | undefined
  readonly at: number
}

export class Freezes {
  readonly #dir: () => string
  readonly #name: string
  readonly #freezes = new Map<string, Freeze>()
  #loaded = false

  constructor (dir: () => string, configFile: string) {
    this.#dir = dir
    this.#name = stateFileName('freezes', configFile, 'json')
  }

  /** The freeze that holds `route` at `now`: its own, or the one for every route. */
  holding (route: string, now: number): Freeze | undefined {
    this.#load()
    const own = this.#freezes.get(route)
    const all = this.#freezes.get(ALL_ROUTES)
    return [own, all].filter((f): f is Freeze => f !== undefined && f.until > now).sort((a, b) => b.until - a.until)[0]
  }

  list (now: number): Freeze[] {
    this.#load()
    return [...this.#freezes.values()].filter((f) => f.until > now)
  }

  set (freeze: Freeze): void {
    this.#load()
    this.#freezes.set(freeze.route, freeze)
    this.#save()
  }

  /** Lifts the freeze of `route` (or the one for every route); false when there was none. */
  clear (route: string, now: number): boolean {
    this.#load()
    const had = this.#freezes.get(route)
    this.#freezes.delete(route)
    this.#save()
    return had !== undefined && had.until > now
  }

  #load (): void {
    if (this.#loaded) return
    this.#loaded = true
    const file = join(this.#dir(), this.#name)
    let data: unknown
    try {
      data = JSON.parse(readFileSync(file, 'utf8'))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      // A freeze that cannot be read may be one that was declared: hold everything until a person looks.
      this.#freezes.set(ALL_ROUTES, { route: ALL_ROUTES, until: Number.MAX_SAFE_INTEGER, by: 'the proxy', reason: `${file} cannot be read (${(err as Error).message}); fix or remove it, or unfreeze`, at: Date.now() })
      return
    }
    for (const f of (data as { freezes?: unknown[] } | null)?.freezes ?? []) {
      const x = f as Partial<Freeze>
      if (typeof x.route === 'string' && typeof x.until === 'number' && typeof x.by === 'string' && typeof x.at === 'number') {
        this.#freezes.set(x.route, { route: x.route, until: x.until, by: x.by, reason: typeof x.reason === 'string' ? x.reason : undefined, at: x.at })
      }
    }
  }

  #save (): void {
    writePrivateFileSync(join(this.#dir(), this.#name), JSON.stringify({ version: 1, freezes: [...this.#freezes.values()] }, null, 1))
  }
}

/** "frozen until 2026-12-27T00:00:00Z by alice ("holidays")" */
export function describeFreeze (f: Freeze): string {
  return `frozen ${f.route === ALL_ROUTES ? 'for every route ' : ''}until ${new Date(f.until).toISOString()} by ${f.by}${f.reason === undefined ? '' : ` ("${f.reason}")`}`
}
