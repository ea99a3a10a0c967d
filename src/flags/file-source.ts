/**
 * Flags from a local file, for development, demos and tests: evaluated by the
 * same engine as the Unleash source, reloaded when the file changes. A broken
 * edit keeps the last good flags.
 */
import type { Logger } from 'pino'
import { watchConfigFile } from '../config/watch.js'
import { Evaluator, logImpression } from './evaluator.js'
import { MemoryRepository } from './memory-repository.js'
import { parseFlags, readFlagsText } from './features-file.js'
import type { ClientFeaturesResponse, Context, FeatureInterface } from './unleash-internals.js'
import { withRollout } from './rollout.js'
import type { FlagChangeListener, FlagResult, FlagSource, FlagStatus } from './source.js'
import { diffFlags } from './diff.js'

export class FileFlagSource implements FlagSource {
  readonly #file: string
  readonly #log: Logger
  readonly #repository = new MemoryRepository()
  readonly #evaluator: Evaluator
  #loaded = false
  #up = false
  #lastUpdate: Date | undefined
  #lastError: string | undefined
  /** The text the current flags came from: an event without a change is not a reload. */
  #text: string | undefined
  /** The flags as the file has them, before rollouts set by a ramp. */
  #fromFile: ClientFeaturesResponse = { version: 2, features: [] }
  /** flag → rollout percentage a ramp plan holds it at (in memory; the ramp's own state file survives restarts). */
  readonly #rollouts = new Map<string, number>()
  #stopWatching: () => void = () => {}

  readonly #onChange: FlagChangeListener | undefined

  constructor (file: string, logger: Logger, watch = true, onChange?: FlagChangeListener) {
    this.#file = file
    this.#onChange = onChange
    this.#log = logger
    this.#evaluator = new Evaluator(this.#repository, (err) => this.#log.warn({ err }, 'flag evaluation problem'), undefined, { impression: logImpression(this.#log) })
    this.load()
    if (watch) this.#stopWatching = watchConfigFile(file, () => this.load())
  }

  /** Reads the file again; returns false (and keeps the last flags) when it is invalid. */
  load (): boolean {
    try {
      const text = readFlagsText(this.#file)
      if (text === this.#text && this.#up) return true
      const data = parseFlags(text, this.#file)
      const before = this.#loaded ? this.#fromFile.features : undefined
      this.#text = text
      this.#fromFile = data
      this.#apply()
      this.#loaded = true
      this.#up = true
      this.#lastUpdate = new Date()
      this.#lastError = undefined
      this.#log.info({ file: this.#file, flags: data.features.length }, 'flags loaded')
      const changes = before === undefined ? [] : diffFlags(before, data.features)
      if (changes.length > 0) this.#onChange?.(changes, 'file')
      return true
    } catch (err) {
      this.#up = false
      this.#lastError = (err as Error).message
      this.#log.error({ file: this.#file, error: this.#lastError }, this.#loaded ? 'flags file rejected, keeping the last good flags' : 'flags file unreadable, routes use their baseline backend')
      return false
    }
  }

  #apply (): void {
    const features = this.#fromFile.features.map((f) => {
      const percent = this.#rollouts.get(f.name)
      return percent === undefined ? f : withRollout(f, percent)
    })
    this.#repository.replace({ ...this.#fromFile, features })
  }

  /** The flag's definition as the file has it, without a ramp's rollout. */
  fileDefinition (flag: string): FeatureInterface | undefined {
    return this.#fromFile.features.find((f) => f.name === flag)
  }

  /** Holds the flag's gradual rollout at `percent` over the file's value; undefined gives the file's value back. */
  setRollout (flag: string, percent: number | undefined): void {
    if (percent === undefined) this.#rollouts.delete(flag)
    else this.#rollouts.set(flag, percent)
    this.#apply()
  }

  evaluate (flag: string, context: Context, withVariant: boolean): FlagResult {
    return this.#evaluator.evaluate(flag, context, withVariant)
  }

  definition (flag: string): FeatureInterface | undefined { return this.#evaluator.definition(flag) }
  strategyEnabled (feature: FeatureInterface, index: number, context: Context): boolean { return this.#evaluator.strategyEnabled(feature, index, context) }

  status (): FlagStatus {
    return {
      source: 'file',
      origin: this.#loaded ? 'file' : 'none',
      up: this.#up,
      ready: this.#loaded,
      lastUpdate: this.#lastUpdate,
      lastError: this.#lastError,
      authFailed: false,
      flags: this.#evaluator.count()
    }
  }

  async start (): Promise<void> {}

  async close (): Promise<void> {
    this.#stopWatching()
  }
}
