/**
 * Every error the proxy can produce, one line each, with a stable code.
 * Codes are part of the public contract: dashboards, clients and runbooks key on them.
 * A test checks that each code is documented in docs/errors.md.
 */

export interface ErrorDef {
  readonly code: string
  readonly status: number
  readonly title: string
}

function def (code: string, status: number, title: string): ErrorDef {
  return Object.freeze({ code, status, title })
}

export const Errors = Object.freeze({
  // Client side: the request itself is the problem.
  BAD_REQUEST: def('SPX_BAD_REQUEST', 400, 'Malformed request'),
  BAD_REQUEST_TARGET: def('SPX_BAD_REQUEST_TARGET', 400, 'Request target must be an absolute path'),
  BAD_PATH: def('SPX_BAD_PATH', 400, 'Request path is not valid'),
  REQUEST_TIMEOUT: def('SPX_REQUEST_TIMEOUT', 408, 'Request was not received in time'),
  BODY_TOO_LARGE: def('SPX_BODY_TOO_LARGE', 413, 'Request body is too large'),
  URI_TOO_LONG: def('SPX_URI_TOO_LONG', 414, 'Request URI is too long'),
  HEADERS_TOO_LARGE: def('SPX_HEADERS_TOO_LARGE', 431, 'Request headers are too large'),
  NO_ROUTE: def('SPX_NO_ROUTE', 404, 'No route matches this request'),
  // Backend side: the proxy could not get a usable answer.
  BACKEND_UNAVAILABLE: def('SPX_BACKEND_UNAVAILABLE', 503, 'Backend unavailable'),
  BACKEND_CONNECT_TIMEOUT: def('SPX_BACKEND_CONNECT_TIMEOUT', 504, 'Backend did not accept the connection in time'),
  BACKEND_TIMEOUT: def('SPX_BACKEND_TIMEOUT', 504, 'Backend did not respond in time'),
  BACKEND_RESET: def('SPX_BACKEND_RESET', 502, 'Backend closed the connection'),
  BACKEND_INVALID_RESPONSE: def('SPX_BACKEND_INVALID_RESPONSE', 502, 'Backend sent an invalid response'),
  BACKEND_ERROR: def('SPX_BACKEND_ERROR', 502, 'Backend request failed'),
  // The proxy itself.
  UPGRADE_NOT_ALLOWED: def('SPX_UPGRADE_NOT_ALLOWED', 400, 'Only websocket upgrades are proxied'),
  ADMIN_UNAUTHORIZED: def('SPX_ADMIN_UNAUTHORIZED', 401, 'Admin token missing or wrong'),
  ADMIN_BAD_REQUEST: def('SPX_ADMIN_BAD_REQUEST', 400, 'Admin request is not valid'),
  ADMIN_FORBIDDEN: def('SPX_ADMIN_FORBIDDEN', 403, 'Admin request refused'),
  ADMIN_NOT_FOUND: def('SPX_ADMIN_NOT_FOUND', 404, 'No such admin resource'),
  RAMP_CONFLICT: def('SPX_RAMP_CONFLICT', 409, 'The ramp cannot do that in its current state'),
  RAMP_WRITE_FAILED: def('SPX_RAMP_WRITE_FAILED', 502, 'The ramp\'s rollout was not confirmed where the flag lives'),
  FLEET_UNAVAILABLE: def('SPX_FLEET_UNAVAILABLE', 502, 'Prometheus did not give a usable answer for the fleet view'),
  DECLINED: def('SPX_DECLINED', 0, 'The new backend declined the request (it is replayed to the baseline)'),
  DECLINE_NOT_REPLAYABLE: def('SPX_DECLINE_NOT_REPLAYABLE', 502, 'The new backend declined a request whose body cannot be replayed'),
  IDENTITY_UNAVAILABLE: def('SPX_IDENTITY_UNAVAILABLE', 503, 'The signed-in user could not be established'),
  INTERNAL: def('SPX_INTERNAL', 500, 'Internal proxy error'),
  // Logged only: the response had started, so the connection is cut instead.
  SEND_TIMEOUT: def('SPX_SEND_TIMEOUT', 0, 'Client stopped reading the response'),
  // Configuration: never sent to clients, printed by validate/start/reload.
  CONFIG_INVALID: def('SPX_CONFIG_INVALID', 0, 'Configuration is invalid'),
  CONFIG_UNREADABLE: def('SPX_CONFIG_UNREADABLE', 0, 'Configuration file cannot be read'),
  USAGE: def('SPX_USAGE', 0, 'Command line usage error'),
  STATE_DIR_UNSAFE: def('SPX_STATE_DIR_UNSAFE', 0, 'The state directory cannot be used'),
  LISTEN_FAILED: def('SPX_LISTEN_FAILED', 0, 'A port could not be opened')
} satisfies Record<string, ErrorDef>)

/** An error with a stable code; `detail` is safe to show to clients (never an internal address). */
export class ProxyError extends Error {
  readonly code: string
  readonly status: number
  readonly title: string
  readonly detail: string

  constructor (error: ErrorDef, detail: string, options?: { cause?: unknown }) {
    super(`${error.code}: ${detail}`, options)
    this.name = 'ProxyError'
    this.code = error.code
    this.status = error.status
    this.title = error.title
    this.detail = detail
  }
}

/** One problem found in a config file, located for humans as file:line:column. */
export interface ConfigProblem {
  readonly file: string
  readonly line: number
  readonly column: number
  readonly field: string
  readonly message: string
}

export class ConfigError extends Error {
  readonly code = Errors.CONFIG_INVALID.code
  readonly problems: readonly ConfigProblem[]

  constructor (problems: readonly ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'))
    this.name = 'ConfigError'
    this.problems = problems
  }
}

export function formatProblem (p: ConfigProblem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.field}: ${p.message}`
}

export interface ProblemBody {
  type: string
  title: string
  status: number
  detail: string
  code: string
  requestId: string
}

export function problemBody (error: ErrorDef, detail: string, requestId: string): ProblemBody {
  return {
    type: `urn:strangler-proxy:error:${error.code}`,
    title: error.title,
    status: error.status,
    detail,
    code: error.code,
    requestId
  }
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'
