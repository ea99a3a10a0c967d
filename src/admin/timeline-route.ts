/** GET /timeline: the migration's events, filtered by time, route and kind. */
import type { FastifyInstance } from 'fastify'
import { Errors } from '../errors.js'
import { sendProblem } from '../problem.js'
import { parseDuration } from '../config/units.js'
import { TIMELINE_KINDS } from '../config/schema.js'
import type { TimelineQuery } from '../timeline/timeline.js'
import type { TimelineEvent } from '../timeline/event.js'

/** A time, or a duration back from now; NaN when it is neither. */
function sinceOf (text: string): number {
  const back = parseDuration(text)
  return back !== undefined ? Date.now() - back : Date.parse(text)
}

/** The answer: the events, and from a --workers primary which workers answered. */
export interface TimelineAnswer {
  readonly events: readonly TimelineEvent[]
  readonly workers?: ReadonlyArray<{ readonly worker: string, readonly answered: boolean, readonly error?: string }>
}

export type TimelineSource = (q: TimelineQuery) => Promise<TimelineAnswer> | TimelineAnswer

/** `query`: this process's timeline, or a --workers primary's merge of its workers'. */
export function registerTimelineRoute (app: FastifyInstance, query: TimelineSource): void {
  app.get('/timeline', async (request, reply) => {
    const q = request.query as Record<string, unknown>
    const since = q.since === undefined ? undefined : typeof q.since === 'string' ? sinceOf(q.since) : Number.NaN
    const limit = q.limit === undefined ? undefined : Number(q.limit)
    if (since !== undefined && Number.isNaN(since)) return sendProblem(reply, Errors.ADMIN_BAD_REQUEST, 'since is a time (2026-11-30T08:00:00Z) or a duration back from now (2h, 30m)')
    if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 1000)) return sendProblem(reply, Errors.ADMIN_BAD_REQUEST, 'limit is a number from 1 to 1000')
    if (q.kind !== undefined && !(TIMELINE_KINDS as readonly unknown[]).includes(q.kind)) return sendProblem(reply, Errors.ADMIN_BAD_REQUEST, `kind is one of ${TIMELINE_KINDS.join(', ')}`)
    if (q.route !== undefined && typeof q.route !== 'string') return sendProblem(reply, Errors.ADMIN_BAD_REQUEST, 'one route')
    return await query({ ...(since === undefined ? {} : { since }), ...(typeof q.route === 'string' ? { route: q.route } : {}), ...(typeof q.kind === 'string' ? { kind: q.kind } : {}), ...(limit === undefined ? {} : { limit }) })
  })
}
