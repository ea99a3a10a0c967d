/** GET and POST /explain: where a described request would go, and why. */
import type { FastifyInstance } from 'fastify'
import { Errors } from '../errors.js'
import { sendProblem } from '../problem.js'
import { explainRequest, type ExplainScope } from './explain.js'
import type { RampDriver } from '../ramp/driver.js'

/** `header=name:value`, repeated; undefined when one is not of that form. */
function parseHeaderList (value: unknown): Record<string, string> | undefined {
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value]
  const out: Record<string, string> = {}
  for (const item of list) {
    if (typeof item !== 'string') return undefined
    const i = item.indexOf(':')
    if (i <= 0) return undefined
    out[item.slice(0, i).trim().toLowerCase()] = item.slice(i + 1).trim()
  }
  return out
}

export function registerExplainRoutes (app: FastifyInstance, runtime: { readonly snapshot: ExplainScope }, ramp: Pick<RampDriver, 'view'> | undefined): void {
  /** explain shows the step a ramping route is at, and why. */
  const withRamp = (result: Record<string, unknown>): Record<string, unknown> => {
    const view = typeof result.route === 'string' ? ramp?.view(result.route) : undefined
    return view === undefined ? result : { ...result, ramp: { percent: view.percent, nextPercent: view.nextPercent ?? null, state: view.state, reason: view.reason } }
  }

  app.get('/explain', async (request, reply) => {
    const q = request.query as Record<string, unknown>
    const headers = parseHeaderList(q.header)
    if (typeof q.path !== 'string' || headers === undefined) {
      return sendProblem(reply, Errors.ADMIN_BAD_REQUEST, 'use /explain?method=GET&path=/some/path&header=name:value')
    }
    if (typeof q.host === 'string') headers.host = q.host
    if (typeof q.cookie === 'string') headers.cookie = q.cookie
    return withRamp(await explainRequest(runtime.snapshot, { method: typeof q.method === 'string' ? q.method : 'GET', path: q.path, headers, ...(typeof q.ip === 'string' ? { clientIp: q.ip } : {}) }))
  })

  app.post('/explain', async (request, reply) => {
    const b = request.body as { method?: unknown, path?: unknown, headers?: unknown, ip?: unknown } | null
    const headers = b?.headers ?? {}
    const validHeaders = typeof headers === 'object' && headers !== null && Object.values(headers).every((v) => typeof v === 'string')
    if (b === null || typeof b.path !== 'string' || (b.method !== undefined && typeof b.method !== 'string') || !validHeaders) {
      return sendProblem(reply, Errors.ADMIN_BAD_REQUEST, 'send {"method": "GET", "path": "/some/path", "headers": {"name": "value"}}')
    }
    return withRamp(await explainRequest(runtime.snapshot, { method: (b.method as string | undefined) ?? 'GET', path: b.path, headers: headers as Record<string, string>, ...(typeof b.ip === 'string' ? { clientIp: b.ip } : {}) }))
  })
}
