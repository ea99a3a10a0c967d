/**
 * Where each ramp stands, kept across restarts in the private state directory: a
 * restart resumes at the step it was on, never back to the start and never forward.
 * One file per config file, written 0600 and replaced atomically.
 */
import { createHash } from 'node:crypto'
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { RampRecord } from './machine.js'

export class RampStore {
  readonly #dir: () => string
  readonly #name: string
  #file: string | undefined

  /** `dir` is asked for on first use: a config without ramps never creates the state directory. */
  constructor (dir: () => string, configFile: string) {
    this.#dir = dir
    this.#name = `ramps-${createHash('sha256').update(resolve(configFile)).digest('hex').slice(0, 12)}.json`
  }

  get file (): string {
    return (this.#file ??= join(this.#dir(), this.#name))
  }

  /** Route name → record; empty when there is no file yet. A damaged file is an error: guessing a step is worse than stopping. */
  load (): Map<string, RampRecord> {
    let text: string
    try {
      text = readFileSync(this.file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map()
      throw err
    }
    const data = JSON.parse(text) as { version?: number, routes?: Record<string, RampRecord> }
    if (data.version !== 1 || typeof data.routes !== 'object' || data.routes === null) throw new Error(`${this.file}: not a ramp state file (version 1)`)
    return new Map(Object.entries(data.routes))
  }

  save (records: ReadonlyMap<string, RampRecord>): void {
    const tmp = `${this.file}.${process.pid}.tmp`
    writeFileSync(tmp, JSON.stringify({ version: 1, routes: Object.fromEntries(records) }, null, 1), { mode: 0o600 })
    renameSync(tmp, this.file)
  }
}
