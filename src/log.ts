/**
 * The pino logger and the one access line per request.
 * Credentials never reach a log line: the access line carries no headers, and any
 * other line that serializes a request has its credential headers redacted.
 */
import { pino, type Logger, type DestinationStream, type LevelWithSilent } from 'pino'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { responseStatus } from './request-state.js'

export const REDACT_PATHS = [
  'req.headers.authorization', 'req.headers.cookie', 'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]', 'headers.authorization', 'headers.cookie', 'headers["set-cookie"]'
]

export interface LoggerOptions {
  level?: string
  pretty?: boolean
  destination?: DestinationStream
}

export function createLogger (opts: LoggerOptions = {}): Logger {
  const options = {
    level: (opts.level ?? 'info') as LevelWithSilent,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { service: 'strangler-proxy' },
    timestamp: pino.stdTimeFunctions.isoTime
  }
  if (opts.pretty === true) {
    return pino({ ...options, transport: { target: 'pino-pretty' } })
  }
  return opts.destination === undefined ? pino(options) : pino(options, opts.destination)
}

/** Status 499 (nginx's "client closed request") when the client left before the response was complete. */
export function logAccess (request: FastifyRequest, reply: FastifyReply): void {
  const s = request.spx
  const res = reply.raw
  const url = request.raw.url ?? ''
  const q = url.indexOf('?')
  const complete = res.writableFinished
  request.log.info({
    route: s.route ?? null,
    backend: s.backend ?? null,
    reason: s.reason ?? null,
    ...(s.flag === undefined ? {} : { flag: s.flag }),
    ...(s.variant === undefined ? {} : { variant: s.variant }),
    method: request.raw.method,
    // The query is left out: it often carries tokens.
    path: q === -1 ? url : url.slice(0, q),
    status: responseStatus(res),
    durationMs: round(performance.now() - s.start),
    upstreamMs: s.upstreamMs === undefined ? null : round(s.upstreamMs),
    ...(complete ? {} : { aborted: true }),
    ...(s.upstreamError === undefined ? {} : { upstreamError: s.upstreamError }),
    ...(s.errorCode === undefined ? {} : { code: s.errorCode }),
    ...(s.retried ? { retried: true } : {})
  }, 'request')
}

function round (ms: number): number {
  return Math.round(ms * 1000) / 1000
}
