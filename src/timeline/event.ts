/** A timeline event: one change to where traffic goes, its cause, and later its impact. */
import type { TIMELINE_KINDS } from '../config/schema.js'

export type EventKind = typeof TIMELINE_KINDS[number]

/** What started it: a file edit, a signal, a person on the admin API, a flag poll, the guard, the ramp. */
export type EventCause = 'file-change' | 'SIGHUP' | 'admin-api' | 'flag-source' | 'guard' | 'failover' | 'shadow' | 'ramp' | 'shutdown' | 'start'

export interface SideImpact {
  readonly requests: number
  /** Of the route's requests in the window. */
  readonly share: number
  readonly errorRatio: number | null
  /** Seconds. */
  readonly p99: number | null
}

export interface Impact {
  readonly windowMs: number
  /** route → backend → figures in the window before the event and after it. */
  readonly routes: Readonly<Record<string, Readonly<Record<string, { readonly before: SideImpact, readonly after: SideImpact }>>>>
}

export interface TimelineEvent {
  readonly id: string
  readonly time: string
  readonly kind: EventKind
  readonly routes: readonly string[]
  readonly flag?: string
  readonly before?: unknown
  readonly after?: unknown
  readonly cause: EventCause
  /** The operator who did it (a name from admin.operators, or "admin" for STRANGLER_ADMIN_TOKEN); absent for the proxy's own doing. */
  readonly actor?: string
  /** What the operator said about it (`--reason`). */
  readonly actorReason?: string
  /** One line a person reads. */
  readonly summary: string
  readonly configVersion: string
  readonly instance: { readonly host: string, readonly pid: number }
  impact?: Impact
}
