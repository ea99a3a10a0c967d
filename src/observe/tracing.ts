/**
 * Tracing as the request path sees it: a request trace (the server span) that makes
 * one client span per backend attempt and a linked span for the shadow copy. Off by
 * default: the proxy then holds no tracer and the hot path pays one undefined check.
 * On, the OpenTelemetry SDK (otel.ts) is loaded and implements this.
 */

export interface AttemptTrace {
  /** The W3C traceparent the backend receives (this client span as parent). */
  readonly traceparent: string
  end (status: number | undefined, error: string | undefined): void
}

export interface RequestTrace {
  readonly traceId: string
  readonly spanId: string
  /** The route and decision, once known: the span is named "METHOD route". */
  route (route: string, attributes: Readonly<Record<string, string | undefined>>): void
  attempt (backend: string, method: string, url: string, attempt: number): AttemptTrace
  /** The shadow copy's span: its own trace position, linked to this request. */
  shadow (backend: string, method: string, url: string): AttemptTrace
  /** The identity bridge asking legacy who is signed in (a cache miss), as a client span of the request. */
  identity (url: string): AttemptTrace
  /** The backend and reason as they ended (a failover changes both). */
  end (status: number, errorCode: string | undefined, backend: string | undefined, reason: string | undefined): void
}

export interface Tracing {
  /** A trace for one incoming request: continued from its traceparent, or new; undefined when not sampled. */
  start (method: string, headers: Readonly<Record<string, string | string[] | undefined>>, target: string): RequestTrace | undefined
  /** Spans dropped because the export queue was full, and failed exports. */
  readonly dropped: () => number
  /** Exports what is queued; false when that did not end within 5 s (the drain goes on). */
  shutdown (): Promise<boolean>
}

/** Replaces (or adds) one header in undici's flat [name, value, ...] list. */
export function setHeader (headers: string[], name: string, value: string): void {
  for (let i = 0; i < headers.length; i += 2) {
    if ((headers[i] as string).toLowerCase() === name) {
      headers[i + 1] = value
      return
    }
  }
  headers.push(name, value)
}
