/**
 * Where each ramp stands, kept across restarts in the private state directory: the
 * rollout percentage (not a step index, which means something else once the plan is
 * edited) and a hash of the plan it was reached under. One file per config file,
 * written 0600 and replaced atomically. What is read back is checked field by field:
 * a value out of range is refused, never applied.
 */
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { stateFileName, writePrivateFileSync } from '../flags/private-storage.js'
import type { RampConfig } from '../config/config.js'
import { RAMP_STATES, type RampRecord, type RampState } from './machine.js'

/** What is saved per route: the record, with the percentage in place of the step and the plan it was reached under. */
export type SavedRamp = Omit<RampRecord, 'step'> & {
  readonly percent: number
  /** planHash() of the plan the percentage was reached under. */
  readonly plan: string
}

/** A plan's identity: its steps and approvals (what a saved percentage means). */
export function planHash (plan: RampConfig): string {
  return createHash('sha256').update(JSON.stringify({ steps: plan.steps, approve: [...plan.approve].sort((a, b) => a - b) })).digest('hex').slice(0, 12)
}

/** Why a saved entry cannot be used, or undefined. */
function invalid (r: Partial<SavedRamp>): string | undefined {
  if (typeof r.flag !== 'string' || r.flag === '') return 'flag is not a name'
  if (typeof r.percent !== 'number' || !Number.isFinite(r.percent) || r.percent < 0 || r.percent > 100) return `percent ${JSON.stringify(r.percent)} is not in [0, 100]`
  if (typeof r.plan !== 'string') return 'no plan hash'
  if (!RAMP_STATES.includes(r.state as RampState)) return `state ${JSON.stringify(r.state)} is not one of ${RAMP_STATES.join(', ')}`
  for (const k of ['since', 'updatedAt', 'failures'] as const) {
    if (typeof r[k] !== 'number' || !Number.isFinite(r[k]) || (r[k] as number) < 0) return `${k} ${JSON.stringify(r[k])} is not a non-negative number`
  }
  if (typeof r.reason !== 'string' || typeof r.owned !== 'boolean') return 'reason or owned missing'
  return undefined
}

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

  /** Route → saved entry; empty when there is no file yet. A damaged file, or any entry out of range, is an error: guessing a step is worse than stopping. */
  load (): Map<string, SavedRamp> {
    let text: string
    try {
      text = readFileSync(this.file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map()
      throw err
    }
    let data: { version?: number, routes?: Record<string, Partial<SavedRamp>> }
    try {
      data = JSON.parse(text)
    } catch {
      throw new Error(`${this.file}: not JSON`)
    }
    if (data?.version !== 2 || typeof data.routes !== 'object' || data.routes === null) throw new Error(`${this.file}: not a ramp state file (version 2)`)
    const out = new Map<string, SavedRamp>()
    for (const [route, r] of Object.entries(data.routes)) {
      const why = invalid(r)
      if (why !== undefined) throw new Error(`${this.file}: route ${route}: ${why}`)
      out.set(route, r as SavedRamp)
    }
    return out
  }

  save (records: ReadonlyMap<string, SavedRamp>): void {
    writePrivateFileSync(this.file, JSON.stringify({ version: 2, routes: Object.fromEntries(records) }, null, 1))
  }
}
