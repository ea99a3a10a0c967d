/**
 * Where each ramp stands, kept across restarts in the private state directory: a
 * restart resumes at the step it was on, never back to the start and never forward.
 * One file per config file, written 0600 and replaced atomically.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { stateFileName, writePrivateFileSync } from '../flags/private-storage.js'
import type { RampRecord } from './machine.js'

export class RampStore {
  readonly #dir: () => string
  readonly #name: string
  #file: string | undefined

  /** `dir` is asked for on first use: a config without ramps never creates the state directory. */
  constructor (dir: () => string, configFile: string) {
    this.#dir = dir
    this.#name = stateFileName('ramps', configFile, 'json')
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
    writePrivateFileSync(this.file, JSON.stringify({ version: 1, routes: Object.fromEntries(records) }, null, 1))
  }
}
