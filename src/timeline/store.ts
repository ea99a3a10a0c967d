/**
 * The timeline on disk: JSON lines appended to a file in the private state directory,
 * rotated past a size (one older file kept), read back at start so history survives
 * restarts. An impact measured later is appended as its own line and merged on read.
 */
import { appendFileSync, readFileSync, renameSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { stateFileName } from '../flags/private-storage.js'
import type { Impact, TimelineEvent } from './event.js'

type Line = { type: 'event', event: TimelineEvent } | { type: 'impact', id: string, impact: Impact }

export class TimelineStore {
  readonly #dir: () => string
  readonly #name: string
  readonly #maxBytes: number
  #file: string | undefined

  constructor (dir: () => string, configFile: string, maxBytes: number) {
    this.#dir = dir
    this.#name = stateFileName('timeline', configFile, 'jsonl')
    this.#maxBytes = maxBytes
  }

  get file (): string {
    return (this.#file ??= join(this.#dir(), this.#name))
  }

  /** Events from the older file then the current one, impacts merged; damaged lines are skipped. */
  load (): TimelineEvent[] {
    const events = new Map<string, TimelineEvent>()
    for (const file of [`${this.file}.1`, this.file]) {
      let text: string
      try {
        text = readFileSync(file, 'utf8')
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue
        throw err
      }
      for (const raw of text.split('\n')) {
        if (raw === '') continue
        let line: Line
        try { line = JSON.parse(raw) as Line } catch { continue }
        if (line.type === 'event') events.set(line.event.id, line.event)
        else {
          const e = events.get(line.id)
          if (e !== undefined) e.impact = line.impact
        }
      }
    }
    return [...events.values()]
  }

  appendEvent (event: TimelineEvent): void {
    this.#append({ type: 'event', event })
  }

  appendImpact (id: string, impact: Impact): void {
    this.#append({ type: 'impact', id, impact })
  }

  #append (line: Line): void {
    const file = this.file
    const size = statSync(file, { throwIfNoEntry: false })?.size ?? 0
    if (size > this.#maxBytes) renameSync(file, `${file}.1`)
    appendFileSync(file, JSON.stringify(line) + '\n', { mode: 0o600 })
  }
}
