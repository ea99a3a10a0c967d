/**
 * Tracing on the OpenTelemetry JS SDK, loaded only when tracing is on: explicit
 * parents (no context manager, no automatic instrumentation on the hot path), W3C
 * trace context, batch export over OTLP/HTTP with a bounded queue whose drops are
 * counted. Configured the OpenTelemetry way (OTEL_* variables) or in routes.yaml.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, defaultTextMapGetter, isSpanContextValid, trace, type Context, type Span, type Attributes } from '@opentelemetry/api'
import { W3CTraceContextPropagator, ExportResultCode } from '@opentelemetry/core'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { AlwaysOffSampler, AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, type ReadableSpan, type Sampler, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base'
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import type { AttemptTrace, RequestTrace, Tracing } from './tracing.js'
import type { TracingSettings } from '../config/tracing.js'
import { redactQuery } from './redact.js'

const propagator = new W3CTraceContextPropagator()

/**
 * The SDK's sampler for the traces that reach it: the ratio of a new trace is drawn
 * before (see start()), so roots that get this far are kept.
 */
function sampler (name: string): Sampler {
  switch (name) {
    case 'always_on': case 'traceidratio': return new AlwaysOnSampler()
    case 'always_off': return new AlwaysOffSampler()
    case 'parentbased_always_off': return new ParentBasedSampler({ root: new AlwaysOffSampler() })
    default: return new ParentBasedSampler({ root: new AlwaysOnSampler() })
  }
}

/**
 * Counts what never reaches the collector: queue overflow and failed exports. The
 * batch processor is handed a counting exporter of its own, not this processor: the
 * processor's shutdown shuts its exporter down, and an exporter that shut the
 * processor down again would wait on itself.
 */
class Counted implements SpanProcessor {
  dropped = 0
  #pending = 0
  readonly #max: number
  readonly #batch: BatchSpanProcessor

  constructor (exporter: SpanExporter, maxQueueSize: number) {
    this.#max = maxQueueSize
    const counting: SpanExporter = {
      export: (spans, done) => {
        exporter.export(spans, (result) => {
          this.#pending -= spans.length
          if (result.code !== ExportResultCode.SUCCESS) this.dropped += spans.length
          done(result)
        })
      },
      shutdown: async () => { await exporter.shutdown() },
      forceFlush: async () => { await exporter.forceFlush?.() }
    }
    this.#batch = new BatchSpanProcessor(counting, { maxQueueSize, maxExportBatchSize: Math.min(512, maxQueueSize), scheduledDelayMillis: 1000, exportTimeoutMillis: 5000 })
  }

  onStart (): void {}
  onEnd (span: ReadableSpan): void {
    if (this.#pending >= this.#max) {
      this.dropped++
      return
    }
    this.#pending++
    this.#batch.onEnd(span)
  }

  async forceFlush (): Promise<void> { await this.#batch.forceFlush() }
  async shutdown (): Promise<void> { await this.#batch.shutdown() }
}

const hex2 = (n: number): string => n.toString(16).padStart(2, '0')

/** The caller's trace context, when the request carries a valid one. */
function parentOf (headers: Readonly<Record<string, string | string[] | undefined>>): Context | undefined {
  if (headers.traceparent === undefined) return undefined
  const parent = propagator.extract(ROOT_CONTEXT, headers, defaultTextMapGetter)
  const context = trace.getSpanContext(parent)
  return context !== undefined && isSpanContextValid(context) ? parent : undefined
}

export function createOtelTracing (s: TracingSettings, version: string): Tracing {
  const exporter = new OTLPTraceExporter({ url: s.endpoint, timeoutMillis: 5000 })
  const counted = new Counted(exporter, s.maxQueueSize)
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': s.serviceName, 'service.version': version, ...s.resourceAttributes }),
    sampler: sampler(s.sampler),
    spanProcessors: [counted]
  })
  const tracer = provider.getTracer('strangler-proxy', version)

  const client = (name: string, attributes: Attributes, parent: Span | undefined, link: Span | undefined): AttemptTrace => {
    const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes, ...(link === undefined ? {} : { links: [{ context: link.spanContext() }] }) }, parent === undefined ? ROOT_CONTEXT : trace.setSpan(ROOT_CONTEXT, parent))
    const c = span.spanContext()
    return {
      traceparent: `00-${c.traceId}-${c.spanId}-${hex2(c.traceFlags)}`,
      end (status, error) {
        if (status !== undefined) span.setAttribute('http.response.status_code', status)
        if (error !== undefined || (status !== undefined && status >= 500)) span.setStatus({ code: SpanStatusCode.ERROR, ...(error === undefined ? {} : { message: error }) })
        if (error !== undefined) span.setAttribute('error.type', error)
        span.end()
      }
    }
  }

  // A new trace the sampler would drop is dropped before the SDK sees the request:
  // at 1 % the other 99 % then cost a random number, not a span.
  const ratio = s.sampler === 'traceidratio' || s.sampler === 'parentbased_traceidratio' ? s.ratio : s.sampler === 'always_off' || s.sampler === 'parentbased_always_off' ? 0 : undefined
  const rootOnly = s.sampler.startsWith('parentbased_')
  return {
    start (method, headers, target) {
      // A malformed or all-zero traceparent is no parent: the request is a new trace,
      // sampled by the ratio, so no client can force every request to be traced.
      const parent = parentOf(headers)
      if (ratio !== undefined && (!rootOnly || parent === undefined) && Math.random() >= ratio) return undefined
      const q = target.indexOf('?')
      const span = tracer.startSpan(method, { kind: SpanKind.SERVER, attributes: { 'http.request.method': method, 'url.path': q === -1 ? target : target.slice(0, q) } }, parent ?? ROOT_CONTEXT)
      if (!span.isRecording()) return undefined
      const { traceId, spanId } = span.spanContext()
      const request: RequestTrace = {
        traceId,
        spanId,
        route (route, attributes) {
          span.updateName(`${method} ${route}`)
          span.setAttribute('strangler.route', route)
          for (const [k, v] of Object.entries(attributes)) if (v !== undefined) span.setAttribute(`strangler.${k}`, v)
        },
        attempt (backend, m, url, attempt) {
          return client(m, { 'http.request.method': m, 'url.full': redactQuery(url, s.redactQuery), 'strangler.backend': backend, 'http.request.resend_count': attempt }, span, undefined)
        },
        shadow (backend, m, url) {
          return client(`${m} shadow`, { 'http.request.method': m, 'url.full': redactQuery(url, s.redactQuery), 'strangler.backend': backend, 'strangler.shadow': true }, undefined, span)
        },
        identity (url) {
          return client('GET identity', { 'http.request.method': 'GET', 'url.full': redactQuery(url, s.redactQuery), 'strangler.identity': true }, span, undefined)
        },
        end (status, errorCode, backend, reason) {
          span.setAttribute('http.response.status_code', status)
          if (backend !== undefined) span.setAttribute('strangler.backend', backend)
          if (reason !== undefined) span.setAttribute('strangler.reason', reason)
          if (errorCode !== undefined) {
            span.setAttribute('error.type', errorCode)
            span.setStatus({ code: SpanStatusCode.ERROR, message: errorCode })
          } else if (status >= 500) {
            span.setStatus({ code: SpanStatusCode.ERROR })
          }
          span.end()
        }
      }
      return request
    },
    dropped: () => counted.dropped,
    // The last export may fail (the collector is down): already counted, and never a reason to fail the drain.
    shutdown: async () => {
      let timer: NodeJS.Timeout | undefined
      const late = new Promise<false>((resolve) => { timer = setTimeout(resolve, 5000, false) })
      const done = await Promise.race([provider.shutdown().then(() => true, () => true), late])
      clearTimeout(timer)
      return done
    }
  }
}
