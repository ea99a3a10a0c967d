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
  return pino(options, opts.destination ?? bufferedDestination(1))
}

/**
 * Asynchronous output (stdout in production) in writes of at least 4 KiB, or every
 * 100 ms at low traffic. Lines are handed over as Buffers: in its string mode
 * sonic-boom measures the byte length of everything still pending on every write,
 * which at proxy rates cost more CPU than all the rest of a request's logging and
 * metrics. pino flushes the sonic-boom synchronously at exit.
 */
export function bufferedDestination (fd: number): DestinationStream {
  const sonic = pino.destination({ dest: fd, sync: false, minLength: 4096, periodicFlush: 100, contentMode: 'buffer' })
  // sonic-boom's types know only its string mode.
  const buffered = sonic as unknown as { write: (chunk: Buffer) => boolean }
  return { write: (line: string) => buffered.write(Buffer.from(line)) }
}

/** Characters JSON must escape (and lone surrogates); strings without them are quoted as is. */
const NEEDS_ESCAPE = /[\u0000-\u001f"\\\ud800-\udfff]/

function str (value: string): string {
  return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : '"' + value + '"'
}

function strOrNull (value: string | undefined): string {
  return value === undefined ? 'null' : str(value)
}

/**
 * The one access line per request; status 499 when the client left before any response.
 * Serialized here rather than by pino: the line is written for every request, and a
 * fixed template costs a fraction of pino's generic walk over an object. The bytes are
 * pino's own (level, time, bindings, fields, msg), which a test holds it to.
 */
export function logAccess (logger: Logger, request: FastifyRequest, reply: FastifyReply): void {
  if (!logger.isLevelEnabled('info')) return
  const s = request.spx
  const url = request.raw.url ?? ''
  const q = url.indexOf('?')
  const out = reply.raw
  // The query is left out: it often carries tokens.
  let line = '{"level":30,"time":' + Date.now() + (logger as unknown as Record<symbol, string>)[pino.symbols.chindingsSym] +
    ',"reqId":' + str(String(request.id)) +
    ',"route":' + strOrNull(s.route) +
    ',"backend":' + strOrNull(s.backend) +
    ',"reason":' + strOrNull(s.reason) +
    ',"method":' + str(request.raw.method ?? '') +
    ',"path":' + str(q === -1 ? url : url.slice(0, q)) +
    ',"status":' + responseStatus(out) +
    ',"durationMs":' + round(performance.now() - s.start) +
    ',"upstreamMs":' + (s.upstreamMs === undefined ? 'null' : round(s.upstreamMs))
  if (s.flag !== undefined) line += ',"flag":' + str(s.flag)
  if (s.variant !== undefined) line += ',"variant":' + str(s.variant)
  if (!out.writableFinished) line += ',"aborted":true'
  if (s.upstreamError !== undefined) line += ',"upstreamError":' + str(s.upstreamError)
  if (s.errorCode !== undefined) line += ',"code":' + str(s.errorCode)
  if (s.retried) line += ',"retried":true'
  if (s.failoverFrom !== undefined) line += ',"failoverFrom":' + str(s.failoverFrom.backend)
  const destination = (logger as unknown as Record<symbol, DestinationStream>)[pino.symbols.streamSym] as DestinationStream
  destination.write(line + ',"msg":"request"}\n')
}

function round (ms: number): number {
  return Math.round(ms * 1000) / 1000
}
