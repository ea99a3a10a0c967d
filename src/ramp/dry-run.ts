/**
 * Dry runs (ramp.dryRun): the driver runs unchanged, judging on live traffic and
 * recording every transition, against a target that keeps the rollout it would write
 * in memory for the flags of dry-run plans. The flag itself, in the file or in
 * Unleash, keeps its rollout: nothing is written.
 */
import type { RouteConfig } from '../config/config.js'
import type { RolloutTarget } from './targets.js'

/** Is `route`'s plan a dry run? (Several routes may name one flag: any dry-run plan on it counts.) */
export function isDryRun (routes: readonly RouteConfig[], by: { readonly flag?: string, readonly route?: string }): boolean {
  return routes.some((r) => r.ramp?.dryRun === true && (by.route === undefined || r.name === by.route) && (by.flag === undefined || r.flag?.name === by.flag))
}

export class DryRunTarget implements RolloutTarget {
  readonly #real: RolloutTarget
  readonly #dry: (flag: string) => boolean
  /** flag → the rollout a dry run would have written. */
  readonly #simulated = new Map<string, number>()

  /** `routes`: the live config's routes (plans change on reload). */
  constructor (real: RolloutTarget, routes: () => readonly RouteConfig[]) {
    this.#real = real
    this.#dry = (flag) => isDryRun(routes(), { flag })
  }

  get where (): string {
    return this.#real.where
  }

  get persistent (): boolean {
    return this.#real.persistent
  }

  async read (flag: string): Promise<number | string> {
    if (!this.#dry(flag)) {
      this.#simulated.delete(flag)
      return await this.#real.read(flag)
    }
    return this.#simulated.get(flag) ?? await this.#real.read(flag)
  }

  async write (flag: string, percent: number): Promise<void> {
    if (this.#dry(flag)) this.#simulated.set(flag, percent)
    else await this.#real.write(flag, percent)
  }

  release (flag: string): void {
    this.#simulated.delete(flag)
    this.#real.release(flag)
  }
}
