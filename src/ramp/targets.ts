/**
 * Where a ramp writes its step: the flag's rollout where the flag lives. The file
 * target holds the rollout over flags.yaml in memory (the file may be a read-only
 * ConfigMap); the Unleash target changes the strategy through the admin API, so
 * every replica and the applications' own SDKs follow.
 */
import { flagStrategies, unleashAdmin, updateStrategy, type AdminStrategy, type UnleashAdmin } from '../flags/unleash-admin.js'
import { FileFlagSource } from '../flags/file-source.js'
import type { FlagSource } from '../flags/source.js'
import type { Config } from '../config/config.js'
import { rolloutOf, ROLLOUT_PARAMETER } from '../flags/rollout.js'

export interface RolloutTarget {
  /** Where the rollout lives, for messages. */
  readonly where: string
  /** True when a write survives a restart of this process (Unleash); false when the ramp must write it again at start (file). */
  readonly persistent: boolean
  /** The rollout percentage now, or a text saying why this flag cannot be ramped. */
  read (flag: string): Promise<number | string>
  write (flag: string, percent: number): Promise<void>
  /** Stops holding a rollout (the file's own value applies again); nothing for Unleash. */
  release (flag: string): void
}

export class FileTarget implements RolloutTarget {
  readonly where = 'flags.yaml'
  readonly persistent = false
  readonly #sourceOf: () => FlagSource | undefined
  /** flag → the file's own rollout when the ramp last wrote: an edit of the file changes it. */
  readonly #base = new Map<string, number>()
  readonly #held = new Map<string, number>()

  /** The source may be replaced by a reload: asked for each time. */
  constructor (source: () => FlagSource | undefined) {
    this.#sourceOf = source
  }

  get #source (): FileFlagSource {
    const s = this.#sourceOf()
    if (!(s instanceof FileFlagSource)) throw new Error('flags come from no file any more')
    return s
  }

  async read (flag: string): Promise<number | string> {
    const def = this.#source.fileDefinition(flag)
    if (def === undefined) return `flag ${flag} is not in the flags file`
    const own = rolloutOf(def)
    if (own === undefined) return `flag ${flag} has no gradual rollout strategy (flexibleRollout) to ramp`
    const base = this.#base.get(flag)
    // The file was edited since the ramp wrote: the person's value applies.
    if (base !== undefined && own !== base) this.release(flag)
    return this.#held.get(flag) ?? own
  }

  async write (flag: string, percent: number): Promise<void> {
    const def = this.#source.fileDefinition(flag)
    const own = def === undefined ? undefined : rolloutOf(def)
    if (own === undefined) throw new Error(`flag ${flag} has no gradual rollout strategy in the flags file`)
    this.#base.set(flag, own)
    this.#held.set(flag, percent)
    this.#source.setRollout(flag, percent)
  }

  release (flag: string): void {
    this.#base.delete(flag)
    this.#held.delete(flag)
    this.#source.setRollout(flag, undefined)
  }
}

export class UnleashTarget implements RolloutTarget {
  readonly where = 'Unleash'
  readonly persistent = true
  readonly #admin: UnleashAdmin

  constructor (admin: UnleashAdmin) {
    this.#admin = admin
  }

  async #gradual (flag: string): Promise<AdminStrategy | string> {
    const s = (await flagStrategies(this.#admin, flag)).find((x) => ROLLOUT_PARAMETER[x.name] !== undefined && x.disabled !== true)
    return s ?? `flag ${flag} has no gradual rollout strategy (flexibleRollout) in Unleash environment ${this.#admin.environment}`
  }

  async read (flag: string): Promise<number | string> {
    const s = await this.#gradual(flag)
    if (typeof s === 'string') return s
    return Number(s.parameters?.[ROLLOUT_PARAMETER[s.name] as string])
  }

  async write (flag: string, percent: number): Promise<void> {
    const s = await this.#gradual(flag)
    if (typeof s === 'string') throw new Error(s)
    const { id, ...rest } = s
    await updateStrategy(this.#admin, flag, id, { ...rest, parameters: { ...rest.parameters, [ROLLOUT_PARAMETER[s.name] as string]: String(percent) }, constraints: rest.constraints ?? [] })
  }

  release (): void {}
}

/** A target that cannot write, with the reason every ramp shows. */
class Unavailable implements RolloutTarget {
  readonly persistent = true
  readonly where: string
  readonly #why: string
  constructor (where: string, why: string) {
    this.where = where
    this.#why = why
  }

  async read (): Promise<string> { return this.#why }
  async write (): Promise<void> { throw new Error(this.#why) }
  release (): void {}
}

/** Where this config's ramps write: Unleash with flags.unleash, else the flags file. */
export function rolloutTarget (config: Config, flags: () => FlagSource | undefined, env: Readonly<Record<string, string | undefined>>): RolloutTarget {
  const u = config.flags?.unleash
  if (u === undefined) return new FileTarget(flags)
  const admin = unleashAdmin(u, env)
  if (admin === undefined) return new Unavailable('Unleash', 'ramps write the rollout through Unleash\'s admin API: set UNLEASH_ADMIN_TOKEN (an admin token) to let this proxy drive them')
  return new UnleashTarget(admin)
}
