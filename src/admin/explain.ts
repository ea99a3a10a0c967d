/**
 * "Why did this request go there?" Runs routing and the backend decision for a
 * described request, without forwarding anything, and shows the working: route,
 * flag, the context used, each strategy's result, stickiness value and bucket
 * against the rollout, variant, and where the flags came from.
 */
import { resolve } from '../routing/resolve.js'
import type { RouteTable } from '../routing/table.js'
import { chooseBackend } from '../decision/choose.js'
import type { Admission, DecisionScope } from '../decision/scope.js'
import type { Guard } from '../safety/guard.js'
import type { ShadowTraffic } from '../safety/shadow.js'
import type { Context, FeatureInterface } from '../flags/unleash-internals.js'
import { strategyBucket } from '../flags/rollout.js'
import type { FlagSource } from '../flags/source.js'
import type { RouteConfig } from '../config/config.js'

/** What explaining needs of the live snapshot (lifecycle/runtime.ts's Snapshot is one). */
export interface ExplainScope extends DecisionScope {
  readonly table: RouteTable
  readonly loadedAt: Date
  readonly guard: Admission & Pick<Guard, 'stateOf' | 'judgedOf'>
  readonly shadow: Pick<ShadowTraffic, 'parityOf'>
}

export interface ExplainInput {
  readonly method: string
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  /** The client address to assume (default 127.0.0.1). */
  readonly clientIp?: string
}

/** One strategy of a flag as explain shows it, with the bucket of the context in a gradual rollout. */
function strategyDetail (flags: FlagSource, feature: FeatureInterface, index: number, context: Context): Record<string, unknown> {
  const s = feature.strategies?.[index]
  const params = (s?.parameters ?? {}) as Record<string, unknown>
  const detail: Record<string, unknown> = {
    name: s?.name,
    parameters: params,
    constraints: s?.constraints?.length ?? 0,
    segments: (s as { segments?: number[] } | undefined)?.segments ?? [],
    enabled: flags.strategyEnabled(feature, index, context)
  }
  const b = strategyBucket(feature, s, context)
  if (b === undefined) return detail
  detail.stickiness = b.stickiness
  detail.stickinessValue = b.value ?? null
  detail.groupId = b.groupId
  detail.rollout = Number(params.rollout ?? params.percentage)
  detail.bucket = b.bucket ?? null
  return detail
}

export async function explainRequest (snap: ExplainScope, input: ExplainInput): Promise<Record<string, unknown>> {
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(input.headers)) headers[k.toLowerCase()] = v
  const method = input.method.toUpperCase()
  const base = { method, path: input.path, configVersion: snap.config.version }
  const target = resolve(snap, method, input.path, headers)
  if ('error' in target) {
    return { ...base, route: null, backend: null, error: { code: target.error.code, status: target.error.status, detail: target.error.detail } }
  }
  const { route } = target
  const { decision, cohort, override } = await chooseBackend(snap, route, headers, () => input.clientIp ?? '127.0.0.1')
  const backend = snap.config.backends.get(decision.backend)
  const result: Record<string, unknown> = {
    ...base,
    route: route.name,
    routeLine: route.config.line,
    match: route.config.match,
    backend: decision.backend,
    reason: decision.reason,
    outgoing: {
      url: (backend?.origin ?? '') + (backend?.basePath ?? '') + target.path,
      host: backend?.preserveHost === true && headers.host !== undefined ? headers.host : backend?.host
    }
  }
  Object.assign(result, safetyOf(snap, route.name, route.config), overrideOf(override))
  const flag = route.config.flag
  if (flag === undefined || cohort === undefined) return result
  // Traffic may still fail over (retry.ts) when the chosen backend cannot be reached.
  result.failover = route.config.failover
  result.context = cohort.context
  result.contextFrom = cohort.from
  result.flag = flagOf(snap, flag, decision.variant, cohort.context)
  return result
}

/** The guard's state and evidence, and the shadow's parity, for the route. */
function safetyOf (snap: ExplainScope, name: string, route: RouteConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const guard = snap.guard.stateOf(name)
  if (guard !== undefined) {
    out.guard = guard
    const judged = snap.guard.judgedOf(name)
    if (judged !== undefined) out.guardEvidence = judged
  }
  if (route.shadow !== undefined) out.shadow = { backend: route.shadow.backend, parity: snap.shadow.parityOf(name) ?? null }
  return out
}

function overrideOf (override: Awaited<ReturnType<typeof chooseBackend>>['override']): Record<string, unknown> {
  if (override.kind === 'none') return {}
  return { override: override.kind === 'accepted' ? { accepted: true, backend: override.backend } : { accepted: false, reason: override.reason } }
}

/** The flag as this process evaluates it: source, definition and each strategy's verdict for the context. */
function flagOf (snap: ExplainScope, flag: NonNullable<RouteConfig['flag']>, variant: string | undefined, context: Context): Record<string, unknown> {
  const status = snap.flags?.status()
  const feature = snap.flags?.definition(flag.name)
  return {
    name: flag.name,
    onBackend: flag.backend ?? null,
    variants: flag.variants ?? null,
    source: status?.source ?? null,
    origin: status?.origin ?? 'none',
    up: status?.up ?? false,
    lastUpdate: status?.lastUpdate?.toISOString() ?? null,
    found: feature !== undefined,
    ...(feature === undefined || snap.flags === undefined
      ? {}
      : {
          enabledInEnvironment: feature.enabled,
          variant: variant ?? null,
          strategies: (feature.strategies ?? []).map((_, i) => strategyDetail(snap.flags as FlagSource, feature, i, context))
        })
  }
}

export function describeRoutes (snap: ExplainScope): Record<string, unknown> {
  return {
    version: snap.config.version,
    file: snap.config.file,
    loadedAt: snap.loadedAt.toISOString(),
    routes: snap.table.routes.map((r, order) => ({
      order,
      name: r.name,
      line: r.config.line,
      match: r.config.match,
      backend: r.backend,
      ...(r.config.flag === undefined ? {} : { flag: r.config.flag }),
      ...(r.config.rewrite === undefined ? {} : { rewrite: r.config.rewrite }),
      maxBodySize: r.config.maxBodySize,
      websocket: r.config.websocket
    })),
    backends: Object.fromEntries([...snap.config.backends.values()].map((b) => [b.name, {
      url: b.origin + b.basePath,
      timeouts: b.timeouts,
      pool: b.pool,
      preserveHost: b.preserveHost
    }]))
  }
}
