/**
 * routes.yaml as the schema (schema.ts) lets it through, before normalising:
 * durations and sizes still as written. raw-check.ts keeps these types and the
 * schema in step at compile time.
 */
import type { ValueSource } from './types.js'

export interface RawBackend {
  url: string
  timeout?: string
  timeouts?: { connect?: string, headers?: string, bodyIdle?: string }
  pool?: { connections?: number, keepAliveTimeout?: string }
  preserveHost?: boolean
  legacy?: boolean
}
export interface RawRoute {
  name: string
  match: { path: string, methods?: string[], host?: string, headers?: Record<string, string | true> }
  backend: string
  rewrite?: { stripPrefix?: string, addPrefix?: string }
  maxBodySize?: string | number
  websocket?: boolean
  failover?: boolean
  retire?: { deprecation?: string, sunset?: string, link?: string }
  decline?: { status?: number[], header?: string, maxBodySize?: string | number }
  guard?: false | RawGuard
  shadow?: {
    backend: string
    sampleRate?: number
    methods?: string[]
    maxBodySize?: string | number
    maxConcurrent?: number
    timeout?: string
    learnNoise?: boolean
    recordValues?: boolean
    compare?: { headers?: string[], ignore?: string[], unorderedArrays?: string[], text?: 'exact' | 'whitespace', errorBodies?: boolean }
  }
  flag?: { name: string, backend?: string, variants?: Record<string, string> }
  ramp?: RawRamp
}
export interface RawRamp {
  steps: number[]
  gateSet?: string
  hold?: string
  minRequests?: number
  minComparisons?: number
  minUsers?: number
  minAddresses?: number
  minFailingClients?: number
  gates?: { maxErrorRatioIncrease?: number, maxClientErrorRatioIncrease?: number, maxLatencyRatio?: number, minLatencyIncrease?: string, minParity?: number, queries?: Array<{ name: string, query: string, compare?: 'baseline' | 'absolute', max?: number, min?: number, window?: string }>, checks?: Array<{ name: string, url: string, method?: string, headers?: Record<string, string>, timeout?: string, expect?: { status?: number | number[], bodyContains?: string, json?: Record<string, unknown> }, as?: 'next-cohort', when?: 'before' | 'after' }> }
  approve?: Array<number | { step: number, approvers?: number }>
  windows?: Array<{ days: Array<'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun'>, from: string, to: string, timeZone: string }>
  onFail?: 'stepBack' | 'abort'
  dryRun?: boolean
  maxFailures?: number
}
export type RawSources = ValueSource | ValueSource[]
export interface RawGuard {
  window?: string
  minRequests?: number
  maxErrorRatioIncrease?: number
  maxLatencyRatio?: number
  minLatencyIncrease?: string
  cooldown?: string
  probeFraction?: number
  probeRequests?: number
  minClients?: number
  maxClientShare?: number
  disableFlag?: boolean
}
export interface RawConfig {
  flags?: {
    file?: string
    unleash?: { url: string, appName?: string, environment?: string, projectName?: string, refreshInterval?: string, timeout?: string, backupDir?: string, metrics?: { enabled?: boolean, interval?: string } }
  }
  identity?: {
    resolve: { url: string, timeout?: string, forward?: string[], fields?: string[], subject?: string }
    session: RawSources
    cache?: { ttl?: string, anonymousTtl?: string, maxEntries?: number, maxBytes?: string | number }
    token: { header?: string, keyFile: string, createKey?: boolean, issuer?: string, ttl?: string, backends: string[] }
    onFailure?: 'legacy' | 'deny'
  }
  cohort?: {
    userId?: RawSources
    sessionId?: RawSources
    properties?: Record<string, RawSources>
    jwt?: { header?: string, cookie?: string, secretEnv?: string, publicKeyFile?: string, algorithms?: string[], issuer?: string, audience?: string, requireExp?: boolean }
    sessionCookie?: false | { name?: string, maxAge?: string, secure?: boolean, sameSite?: 'lax' | 'strict' | 'none' }
  }
  override?: { header?: string, cookie?: string }
  guard?: false | RawGuard
  tracing?: { endpoint?: string, sampler?: string, ratio?: number, serviceName?: string, maxQueueSize?: number, redactQuery?: string[] }
  retirement?: { after?: string, legacyQuietFor?: string, minParity?: number, maxErrorRatioIncrease?: number, maxLatencyRatio?: number }
  inventory?: { maxTemplates?: number }
  gateSets?: Record<string, NonNullable<RawRamp['gates']>>
  coverage?: { declared: Record<string, { openapi?: string, list?: string }>, unusedAfter?: string }
  timeline?: { impactDelay?: string, maxFileSize?: string | number, parityThreshold?: number }
  notify?: Array<{ url: string, kinds?: string[], secretEnv?: string, timeout?: string, damping?: string }>
  ramps?: { driver?: 'proxy' | 'fleet', prometheus?: string, interval?: string, timeout?: string, stallAfter?: string, alerts?: Record<string, 'pause' | 'stepBack' | 'abort'> }
  evidence?: { period?: string, perAddress?: number, perUser?: number }
  listen?: { host?: string, port?: number }
  admin?: { host?: string, port?: number, allowedHosts?: string[], operators?: Array<{ name: string, role: 'viewer' | 'operator' | 'admin', tokenHashEnv: string }> }
  client?: {
    headersTimeout?: string
    requestTimeout?: string
    keepAliveTimeout?: string
    maxHeaderSize?: string | number
    maxUrlLength?: string | number
    maxBodySize?: string | number
    maxHeaderCount?: number
    sendTimeout?: string
    trustedProxies?: string[]
    realIpHeader?: string | false
  }
  shutdown?: { timeout?: string }
  backends: Record<string, RawBackend>
  routes: RawRoute[]
}
