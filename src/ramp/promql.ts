/**
 * Instant queries against Prometheus's HTTP API. An answer that is not a clean vector
 * (an HTTP error, a timeout, a body that is not JSON or not a success) throws, and
 * whatever asked waits. NaN and ±Inf come through as such: the caller says what is
 * wrong with them.
 */
import { request } from 'undici'

export class PromQL {
  readonly #url: string
  readonly #timeout: number

  constructor (url: string, timeoutMs: number) {
    this.#url = url.replace(/\/+$/, '')
    this.#timeout = timeoutMs
  }

  /** The values of an instant query's series (a scalar is one value); `name` says which figure in errors. */
  async vector (name: string, query: string): Promise<number[]> {
    return (await this.series(name, query)).map((s) => s.value)
  }

  /** An instant query's series with their labels (a scalar is one series without labels). */
  async series (name: string, query: string): Promise<Series[]> {
    const fail = (why: string): Error => new Error(`Prometheus query for ${name}: ${why}`)
    let status: number
    let body: unknown
    try {
      const res = await request(`${this.#url}/api/v1/query?query=${encodeURIComponent(query)}`, { headersTimeout: this.#timeout, bodyTimeout: this.#timeout, signal: AbortSignal.timeout(this.#timeout) })
      status = res.statusCode
      const text = await res.body.text()
      body = status === 200 ? JSON.parse(text) : text.slice(0, 200)
    } catch (err) {
      const e = err as Error
      throw fail(e.name === 'TimeoutError' || e.name === 'AbortError' ? `no answer within ${this.#timeout} ms` : e instanceof SyntaxError ? 'the answer is not JSON' : e.message)
    }
    if (status !== 200) throw fail(`HTTP ${status} ${String(body)}`)
    const b = body as { status?: unknown, data?: { resultType?: unknown, result?: unknown } }
    if (b?.status === 'success' && b.data?.resultType === 'scalar') return [{ labels: {}, value: sample(b.data.result, fail) }]
    if (b?.status !== 'success' || !Array.isArray(b.data?.result)) throw fail(`not a successful vector answer: ${JSON.stringify(body).slice(0, 200)}`)
    return (b.data.result as Array<{ metric?: unknown, value?: unknown }>).map((s) => ({ labels: labelsOf(s?.metric), value: sample(s?.value, fail) }))
  }

  /** The first value of an instant query; undefined when the result is empty. */
  async scalar (name: string, query: string): Promise<number | undefined> {
    return (await this.vector(name, query))[0]
  }
}

export interface Series { readonly labels: Readonly<Record<string, string>>, readonly value: number }

function labelsOf (m: unknown): Record<string, string> {
  if (typeof m !== 'object' || m === null) return {}
  return Object.fromEntries(Object.entries(m).filter((e): e is [string, string] => typeof e[1] === 'string'))
}

function sample (v: unknown, fail: (why: string) => Error): number {
  if (!Array.isArray(v) || v.length !== 2 || typeof v[1] !== 'string') throw fail(`malformed sample ${JSON.stringify(v).slice(0, 200)}`)
  return Number(v[1])
}
