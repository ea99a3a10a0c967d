/**
 * Whether and how to trace, the OpenTelemetry way: the standard OTEL_* variables win
 * over routes.yaml's tracing: (OTEL_SDK_DISABLED=true turns it off whatever the file
 * says); without an endpoint from either, tracing is off and costs nothing.
 */
import type { TracingConfig } from './types.js'

export interface TracingSettings {
  readonly endpoint: string
  readonly sampler: string
  readonly ratio: number
  readonly serviceName: string
  readonly resourceAttributes: Readonly<Record<string, string>>
  readonly maxQueueSize: number
  /** Query parameter names (lower case) whose values are replaced in url.full. */
  readonly redactQuery: ReadonlySet<string>
}

/** Query parameters that carry credentials often enough that no span should hold their values. */
export const SENSITIVE_QUERY = ['access_token', 'token', 'key', 'api_key', 'apikey', 'password', 'secret', 'signature', 'sig', 'code', 'auth']

export const SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'] as const

/** "k=v,k2=v2" (values percent-encoded), as OTEL_RESOURCE_ATTRIBUTES has it. */
function attributes (text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {}
  for (const pair of (text ?? '').split(',')) {
    const i = pair.indexOf('=')
    if (i > 0) out[pair.slice(0, i).trim()] = decodeURIComponent(pair.slice(i + 1).trim())
  }
  return out
}

/** The traces endpoint: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else OTEL_EXPORTER_OTLP_ENDPOINT's /v1/traces, else the file's. */
function endpointOf (file: TracingConfig | undefined, env: Readonly<Record<string, string | undefined>>): string | undefined {
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT
  return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? (base === undefined || base === '' ? undefined : `${base.replace(/\/+$/, '')}/v1/traces`) ?? file?.endpoint
}

/** The sampler and its ratio; an unknown sampler or an out-of-range ratio falls back to the default. */
function samplerOf (file: TracingConfig | undefined, env: Readonly<Record<string, string | undefined>>): Pick<TracingSettings, 'sampler' | 'ratio'> {
  const sampler = (env.OTEL_TRACES_SAMPLER ?? file?.sampler ?? 'parentbased_always_on').toLowerCase()
  const arg = Number(env.OTEL_TRACES_SAMPLER_ARG ?? file?.ratio ?? 1)
  return {
    sampler: (SAMPLERS as readonly string[]).includes(sampler) ? sampler : 'parentbased_always_on',
    ratio: Number.isFinite(arg) && arg >= 0 && arg <= 1 ? arg : 1
  }
}

export function tracingSettings (file: TracingConfig | undefined, env: Readonly<Record<string, string | undefined>>): TracingSettings | undefined {
  if ((env.OTEL_SDK_DISABLED ?? '').toLowerCase() === 'true') return undefined
  const endpoint = endpointOf(file, env)
  if (endpoint === undefined || endpoint === '') return undefined
  return {
    endpoint,
    ...samplerOf(file, env),
    serviceName: env.OTEL_SERVICE_NAME ?? file?.serviceName ?? 'strangler-proxy',
    resourceAttributes: attributes(env.OTEL_RESOURCE_ATTRIBUTES),
    maxQueueSize: file?.maxQueueSize ?? 2048,
    redactQuery: new Set([...SENSITIVE_QUERY, ...(file?.redactQuery ?? []).map((n) => n.toLowerCase())])
  }
}
