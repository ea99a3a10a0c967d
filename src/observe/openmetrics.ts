/**
 * The OpenMetrics exposition of this registry's text, with trace-id exemplars on the
 * latency histogram's buckets, for Prometheus to link a latency panel to a trace.
 * Rendered from the Prometheus text rather than by prom-client's OpenMetrics mode,
 * which renames counters in place and so corrupts the text exposition scraped next.
 */

export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8'

/** A trace that fell in a latency bucket: Prometheus links the bucket to it. */
export interface Exemplar { readonly traceId: string, readonly value: number, readonly timestamp: number }

/** Key of an exemplar: route, backend and the bucket's le, as the text shows it. */
export function exemplarKey (route: string, backend: string, le: string): string {
  return `${route}\u0000${backend}\u0000${le}`
}

const BUCKET = /^strangler_request_duration_seconds_bucket\{le="([^"]*)",route="([^"]*)",backend="([^"]*)"\} /

export function toOpenMetrics (text: string, exemplars: ReadonlyMap<string, Exemplar>): string {
  const counters = new Set<string>()
  for (const line of text.split('\n')) {
    const m = /^# TYPE (\S+) counter$/.exec(line)
    if (m !== null) counters.add(m[1] as string)
  }
  const out: string[] = []
  for (const line of text.split('\n')) {
    if (line === '') continue
    const meta = /^# (HELP|TYPE) (\S+)( .*)?$/.exec(line)
    if (meta !== null) {
      const [, kind, name, rest] = meta as unknown as [string, string, string, string | undefined]
      // A counter family is named without _total; its samples keep it.
      const family = counters.has(name) ? name.replace(/_total$/, '') : name
      out.push(`# ${kind} ${family}${kind === 'HELP' ? (rest ?? '').replace(/"/g, '\\"') : rest ?? ''}`)
      continue
    }
    const b = BUCKET.exec(line)
    const e = b === null ? undefined : exemplars.get(exemplarKey(b[2] as string, b[3] as string, b[1] as string))
    out.push(e === undefined ? line : `${line} # {trace_id="${e.traceId}"} ${e.value} ${e.timestamp.toFixed(3)}`)
  }
  return out.join('\n') + '\n# EOF\n'
}
