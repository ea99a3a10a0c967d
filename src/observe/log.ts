/**
 * The pino logger and the one access line per request.
 * Credentials never reach a log line: the access line carries no headers, and any
 * other line that serializes a request has its credential headers redacted.
 */
import { pino, type Logger, type DestinationStream, type LevelWithSilent } from 'pino'

export const REDACT_PATHS = [
  'req.headers.authorization', 'req.headers.cookie', 'req.headers["proxy-authorization"]',
  'res.headers["set-cookie"]', 'headers.authorization', 'headers.cookie', 'headers["set-cookie"]'
]

const BATCH_BYTES = 16 * 1024

/** The process's one stdout destination, shared by every logger writing there. */
let stdout: DestinationStream | undefined

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
  return pino(options, opts.destination ?? (stdout ??= batchedDestination(1)))
}

/**
 * Lines gather in memory and go out in one synchronous write once 16 KiB are pending,
 * after 100 ms at low traffic, and at exit. One write(2) per batch of lines costs far
 * less than a write per line or an asynchronous write per few lines (each one a round
 * trip through libuv's thread pool). sonic-boom does the writing: partial writes,
 * EAGAIN on a full pipe and EPIPE are handled as in pino's default destination.
 */
export function batchedDestination (fd: number): DestinationStream & { flushSync: () => void } {
  const sonic = pino.destination({ dest: fd, sync: true })
  let lines: string[] = []
  let size = 0
  const flushSync = (): void => {
    if (lines.length === 0) return
    const batch = lines.join('')
    lines = []
    size = 0
    sonic.write(batch)
  }
  setInterval(flushSync, 100).unref()
  process.on('exit', flushSync)
  return {
    write (line: string) {
      lines.push(line)
      size += line.length
      if (size >= BATCH_BYTES) flushSync()
    },
    flushSync
  }
}

/** Characters JSON must escape (and lone surrogates); strings without them are quoted as is. */
const NEEDS_ESCAPE = /[\u0000-\u001f"\\\ud800-\udfff]/

function str (value: string): string {
  return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : '"' + value + '"'
}

function strOrNull (value: string | undefined): string {
  return value === undefined ? 'null' : str(value)
}

/** What the access line reads of a finished request (proxy/request-state.ts's RequestState is one). */
export interface AccessFields {
  readonly route: string | undefined
  readonly backend: string | undefined
  readonly reason: string | undefined
  readonly upstreamMs: number | undefined
  readonly flag: string | undefined
  readonly variant: string | undefined
  readonly upstreamError: string | undefined
  readonly errorCode: string | undefined
  readonly retried: boolean
  readonly failoverFrom: { readonly backend: string } | undefined
  readonly declinedFrom: string | undefined
  readonly trace: { readonly traceId: string, readonly spanId: string } | undefined
}

/**
 * Writes the access line: `aborted` when the response did not finish, `websocket`
 * for an upgrade (whose line is written when its tunnel closes).
 */
export type AccessLog = (reqId: string, method: string, url: string, fields: AccessFields, status: number, durationMs: number, aborted: boolean, websocket?: boolean) => void

/**
 * The one writer of the access line, for every request and upgrade; status 499 when the client left
 * before any response. Serialized here rather than by pino: the line is written for
 * every request, and a fixed template costs a fraction of pino's generic walk over an
 * object. The bytes are pino's own (level, time, bindings, fields, msg), which a test
 * holds it to.
 */
export function createAccessLog (logger: Logger): AccessLog {
  const internals = logger as unknown as Record<symbol, unknown>
  const bindings = internals[pino.symbols.chindingsSym] as string
  const destination = internals[pino.symbols.streamSym] as DestinationStream
  return function logAccess (reqId, method, url, s, status, durationMs, aborted, websocket = false) {
    if (!logger.isLevelEnabled('info')) return
    const q = url.indexOf('?')
    // The query is left out: it often carries tokens.
    let line = '{"level":30,"time":' + Date.now() + bindings +
      ',"reqId":' + str(reqId) +
      ',"route":' + strOrNull(s.route) +
      ',"backend":' + strOrNull(s.backend) +
      ',"reason":' + strOrNull(s.reason) +
      ',"method":' + str(method) +
      ',"path":' + str(q === -1 ? url : url.slice(0, q)) +
      ',"status":' + status +
      ',"durationMs":' + round(durationMs) +
      ',"upstreamMs":' + (s.upstreamMs === undefined ? 'null' : round(s.upstreamMs))
    if (s.flag !== undefined) line += ',"flag":' + str(s.flag)
    if (s.variant !== undefined) line += ',"variant":' + str(s.variant)
    if (aborted) line += ',"aborted":true'
    if (s.upstreamError !== undefined) line += ',"upstreamError":' + str(s.upstreamError)
    if (s.errorCode !== undefined) line += ',"code":' + str(s.errorCode)
    if (s.retried) line += ',"retried":true'
    if (s.failoverFrom !== undefined) line += ',"failoverFrom":' + str(s.failoverFrom.backend)
    if (s.declinedFrom !== undefined) line += ',"declinedFrom":' + str(s.declinedFrom)
    if (s.trace !== undefined) line += ',"traceId":"' + s.trace.traceId + '","spanId":"' + s.trace.spanId + '"'
    if (websocket) line += ',"websocket":true'
    destination.write(line + ',"msg":"request"}\n')
  }
}

function round (ms: number): number {
  return Math.round(ms * 1000) / 1000
}
