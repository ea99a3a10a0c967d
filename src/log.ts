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
    base: { service: 'strangler-proxy', pid: process.pid }
    // time stays pino's epoch milliseconds: an ISO string costs ~1 µs more per line.
  }
  if (opts.pretty === true) {
    return pino({ ...options, transport: { target: 'pino-pretty' } })
  }
  return pino(options, opts.destination ?? bufferedStdout())
}

/**
 * Asynchronous stdout in writes of at least 4 KiB, or every 100 ms at low traffic.
 * Lines are handed over as Buffers: in its string mode sonic-boom measures the byte
 * length of everything still pending on every write, which at proxy rates cost more
 * CPU than all the rest of a request's logging and metrics. pino flushes the sonic-boom
 * synchronously at exit.
 */
function bufferedStdout (): DestinationStream {
  const sonic = pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 100, contentMode: 'buffer' })
  // sonic-boom's types know only its string mode.
  const buffered = sonic as unknown as { write: (chunk: Buffer) => boolean }
  return { write: (line: string) => buffered.write(Buffer.from(line)) }
}

/** The one access line per request; status 499 when the client left before any response. */
export function logAccess (request: FastifyRequest, reply: FastifyReply): void {
  const s = request.spx
  const url = request.raw.url ?? ''
  const q = url.indexOf('?')
  // A fixed shape, optional fields added only when set: this runs for every request.
  const line: Record<string, unknown> = {
    reqId: request.id,
    route: s.route ?? null,
    backend: s.backend ?? null,
    reason: s.reason ?? null,
    method: request.raw.method,
    // The query is left out: it often carries tokens.
    path: q === -1 ? url : url.slice(0, q),
    status: responseStatus(reply.raw),
    durationMs: round(performance.now() - s.start),
    upstreamMs: s.upstreamMs === undefined ? null : round(s.upstreamMs)
  }
  if (s.flag !== undefined) line.flag = s.flag
  if (s.variant !== undefined) line.variant = s.variant
  if (!reply.raw.writableFinished) line.aborted = true
  if (s.upstreamError !== undefined) line.upstreamError = s.upstreamError
  if (s.errorCode !== undefined) line.code = s.errorCode
  if (s.retried) line.retried = true
  if (s.failoverFrom !== undefined) line.failoverFrom = s.failoverFrom.backend
  request.log.info(line, 'request')
}

function round (ms: number): number {
  return Math.round(ms * 1000) / 1000
}
