/**
 * The primary and its --workers workers over IPC: the messages they exchange, the
 * primary's questions to every live worker, answered within a deadline (a worker that
 * does not answer in time is named, never silently left out), and which worker
 * announces what they all see.
 */
import type { Worker } from 'node:cluster'

export type Question = 'guard' | 'parity' | 'reset' | 'unlearn' | 'timeline' | 'status' | 'inventory' | 'coverage' | 'exemplars'

export type Message =
  | { type: 'spx:ready', proxy: string }
  /** A worker starting asks for the routes.yaml the primary serves; it comes with every reload too. */
  | { type: 'spx:config?' }
  | { type: 'spx:config', text: string }
  /** `trigger`: what made the primary reload (file-change, SIGHUP), for the workers' timelines. */
  | { type: 'spx:reload', trigger: string, text: string }
  /** The primary refused a routes.yaml: the workers keep theirs, and record why. */
  | { type: 'spx:rejected', trigger: string, problems: string[] }
  | { type: 'spx:shutdown', reason: string }
  /** Whether this worker announces the changes every worker sees (the primary names one). */
  | { type: 'spx:announcer', announces: boolean }
  | { type: 'spx:ask', id: number, what: Question, args: Record<string, unknown> }
  | { type: 'spx:answer', id: number, value: unknown }

export function isMessage (m: unknown): m is Message {
  return typeof m === 'object' && m !== null && typeof (m as { type?: unknown }).type === 'string' && (m as { type: string }).type.startsWith('spx:')
}

/** A worker as the primary names it: by its slot, which a replacement takes over. */
export interface WorkerRef {
  readonly slot: number
  readonly worker: Worker
}

export function workerName (slot: number): string {
  return `worker ${slot}`
}

export interface Answers {
  /** Worker name → its answer. */
  readonly answered: Map<string, unknown>
  /** Worker name → why there is none. */
  readonly failed: Map<string, string>
  /** Worker name → its process id. */
  readonly pids: Map<string, number | undefined>
}

const DEADLINE_MS = 2000

export class Questions {
  #asked = 0
  readonly #pending = new Map<number, { answers: Answers, waiting: Map<number, string>, done: () => void }>()
  constructor (private readonly workers: () => WorkerRef[]) {}

  ask (what: Question, args: Record<string, unknown> = {}): Promise<Answers> {
    const list = this.workers()
    const answers: Answers = { answered: new Map(), failed: new Map(), pids: new Map() }
    if (list.length === 0) return Promise.resolve(answers)
    const id = ++this.#asked
    const waiting = new Map(list.map((w) => [w.worker.id, workerName(w.slot)]))
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer)
        this.#pending.delete(id)
        for (const name of waiting.values()) answers.failed.set(name, `no answer within ${DEADLINE_MS} ms`)
        resolve(answers)
      }
      const timer = setTimeout(finish, DEADLINE_MS)
      this.#pending.set(id, { answers, waiting, done: finish })
      for (const w of list) w.worker.send({ type: 'spx:ask', id, what, args } satisfies Message)
    })
  }

  answered (id: number, worker: Worker, value: unknown): void {
    const p = this.#pending.get(id)
    const name = p?.waiting.get(worker.id)
    if (p === undefined || name === undefined) return
    p.waiting.delete(worker.id)
    p.answers.answered.set(name, value)
    p.answers.pids.set(name, worker.process.pid)
    if (p.waiting.size === 0) p.done()
  }
}

/** A message to a worker that has just died is lost, and nothing is owed to it. */
function ignoreSendError (): void {}

/**
 * Which worker announces (webhooks, the events counter) the changes every worker sees:
 * the ready worker of the lowest slot. When it dies the next takes over at once, and
 * gives the role back once the slot's replacement is ready.
 */
export class Announcer {
  #current: Worker | undefined
  constructor (private readonly workers: () => WorkerRef[], private readonly ready: (worker: Worker) => boolean) {}

  /** Call when a worker becomes ready or exits. */
  name (): void {
    const next = this.workers().find((w) => this.ready(w.worker))?.worker
    if (next === this.#current) return
    if (this.#current?.isDead() === false) this.#current.send({ type: 'spx:announcer', announces: false } satisfies Message, undefined, ignoreSendError)
    next?.send({ type: 'spx:announcer', announces: true } satisfies Message)
    this.#current = next
  }
}
