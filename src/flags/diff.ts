/**
 * What changed between two sets of flag definitions, as a person reads it: a flag
 * added or removed, switched on or off, its rollout moved, its constraints, segments,
 * strategies or variants edited. For the migration timeline.
 */
import type { FeatureInterface } from './unleash-internals.js'
import { rolloutOf } from './rollout.js'

export interface FlagSummary {
  readonly enabled: boolean
  /** The first gradual strategy's percentage, when there is one. */
  readonly rollout: number | undefined
  readonly strategies: number
  readonly constraints: number
  readonly segments: readonly number[]
  readonly variants: number
}

export interface FlagChange {
  readonly flag: string
  /** added, removed, enabled, rollout, constraints, segments, variants, strategies */
  readonly changed: readonly string[]
  readonly before: FlagSummary | undefined
  readonly after: FlagSummary | undefined
}

export function summarize (f: FeatureInterface): FlagSummary {
  const strategies = f.strategies ?? []
  return {
    enabled: f.enabled,
    rollout: rolloutOf(f),
    strategies: strategies.length,
    constraints: strategies.reduce((n, s) => n + (s.constraints?.length ?? 0), 0),
    segments: [...new Set(strategies.flatMap((s) => (s as { segments?: number[] }).segments ?? []))].sort((a, b) => a - b),
    variants: (f.variants?.length ?? 0) + strategies.reduce((n, s) => n + ((s as { variants?: unknown[] }).variants?.length ?? 0), 0)
  }
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

export function diffFlags (before: readonly FeatureInterface[], after: readonly FeatureInterface[]): FlagChange[] {
  const old = new Map(before.map((f) => [f.name, f]))
  const changes: FlagChange[] = []
  for (const f of after) {
    const o = old.get(f.name)
    old.delete(f.name)
    if (o === undefined) {
      changes.push({ flag: f.name, changed: ['added'], before: undefined, after: summarize(f) })
      continue
    }
    if (same(o, f)) continue
    const a = summarize(o)
    const b = summarize(f)
    const changed: string[] = []
    if (a.enabled !== b.enabled) changed.push('enabled')
    if (a.rollout !== b.rollout) changed.push('rollout')
    if (!same((o.strategies ?? []).map((s) => s.constraints ?? []), (f.strategies ?? []).map((s) => s.constraints ?? []))) changed.push('constraints')
    if (!same(a.segments, b.segments)) changed.push('segments')
    if (!same(o.variants ?? [], f.variants ?? []) || a.variants !== b.variants) changed.push('variants')
    // Anything else in the strategies (names, other parameters, order).
    if (changed.length === 0 || !same(stripKnown(o), stripKnown(f))) changed.push('strategies')
    changes.push({ flag: f.name, changed: [...new Set(changed)], before: a, after: b })
  }
  for (const o of old.values()) changes.push({ flag: o.name, changed: ['removed'], before: summarize(o), after: undefined })
  return changes
}

/** The strategies without what the named changes already cover. */
function stripKnown (f: FeatureInterface): unknown {
  return (f.strategies ?? []).map((s) => {
    const params: Record<string, unknown> = { ...s.parameters }
    delete params.rollout
    delete params.percentage
    return { name: s.name, params }
  })
}
