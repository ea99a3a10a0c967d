/**
 * POST /alerts: Alertmanager's webhook (its standard JSON, version 4). A firing alert
 * whose name ramps.alerts maps to an action pauses, steps back or aborts the ramp of
 * the route in its `route` label, recorded with the alert as the actor and its summary
 * as the reason. Alertmanager repeats a firing alert every repeat_interval: each alert
 * (fingerprint and start) acts once. Resolved alerts change nothing: resuming is a
 * person's decision. Needs the operator role (Alertmanager sends a bearer token).
 */
import type { FastifyInstance } from 'fastify'
import type { AlertAction } from '../config/config.js'
import { Errors } from '../errors.js'
import { sendProblem } from '../problem.js'
import type { RampHost } from './ramp-routes.js'

/** Alerts remembered as handled; past it the oldest are forgotten. */
const MAX_SEEN = 10_000

interface AlertmanagerAlert {
  readonly status?: unknown
  readonly labels?: Record<string, unknown>
  readonly annotations?: Record<string, unknown>
  readonly startsAt?: unknown
  readonly fingerprint?: unknown
}

export interface AlertOutcome {
  readonly alert: string
  readonly route: string
  readonly action: AlertAction
  /** done, or why nothing changed. */
  readonly result: string
}

export function registerAlertRoutes (app: FastifyInstance, host: () => RampHost, actions: () => Readonly<Record<string, AlertAction>>): void {
  const seen = new Map<string, number>()
  app.post('/alerts', async (request, reply) => {
    const alerts = (request.body as { alerts?: unknown } | null)?.alerts
    if (!Array.isArray(alerts)) return sendProblem(reply, Errors.ADMIN_BAD_REQUEST, 'send Alertmanager\'s webhook JSON: {"version": "4", "alerts": [...]}')
    const h = host()
    const handled: AlertOutcome[] = []
    let ignored = 0
    for (const a of alerts as AlertmanagerAlert[]) {
      const name = String(a.labels?.alertname ?? '')
      const route = a.labels?.route
      const action = Object.hasOwn(actions(), name) ? actions()[name] : undefined
      if (a.status !== 'firing' || action === undefined || typeof route !== 'string' || 'unavailable' in h) {
        ignored++
        continue
      }
      const key = `${String(a.fingerprint ?? JSON.stringify(a.labels))}@${String(a.startsAt ?? '')}`
      if (seen.has(key)) {
        handled.push({ alert: name, route, action, result: 'already acted on this alert' })
        continue
      }
      seen.set(key, Date.now())
      if (seen.size > MAX_SEEN) seen.delete(seen.keys().next().value as string)
      const summary = typeof a.annotations?.summary === 'string' ? a.annotations.summary.replace(/[\u0000-\u001f\u007f]/g, ' ').slice(0, 500) : undefined
      const result = await h.driver.alert(route, action, { name: `alert ${name}`, reason: summary })
      request.log.warn({ alert: name, route, action, ok: result.ok, ...(result.ok ? {} : { detail: result.detail }) }, `alert ${name} firing on route ${route}: ${action}${result.ok ? '' : ` refused (${result.detail})`}`)
      handled.push({ alert: name, route, action, result: result.ok ? 'done' : result.detail })
    }
    return { handled, ignored }
  })
}
