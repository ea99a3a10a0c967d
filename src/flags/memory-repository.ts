/** A RepositoryInterface over features held in memory, replaced whole on each file load. */
import { EventEmitter } from 'node:events'
import type { ClientFeaturesResponse, FeatureInterface, Segment, RepositoryInterface } from './unleash-internals.js'

export class MemoryRepository extends EventEmitter implements RepositoryInterface {
  #features = new Map<string, FeatureInterface>()
  #segments = new Map<number, Segment>()

  replace (data: ClientFeaturesResponse): void {
    this.#features = new Map(data.features.map((f) => [f.name, f]))
    this.#segments = new Map((data.segments ?? []).map((s) => [s.id, s]))
  }

  getToggle (name: string): FeatureInterface | undefined { return this.#features.get(name) }
  getToggles (): FeatureInterface[] { return [...this.#features.values()] }
  getTogglesWithSegmentData (): never[] { return [] }
  getSegment (id: number): Segment | undefined { return this.#segments.get(id) }
  stop (): void {}
  async start (): Promise<void> {}
}
