/**
 * Flag results remembered per flag definition and request context, for definitions
 * whose result is a function of the context alone. unleash-client's evaluation of a
 * rollout (strategy lookups, constraint generators, hashing) costs microseconds per
 * request; a lookup here a fraction of that.
 *
 * Correct because flag updates replace definitions whole (a new object starts with an
 * empty cache) and because nothing that could change a result without a new
 * definition, or that is not decided by the context, is ever cached: dependencies on
 * other flags, segments, date constraints (they read the clock), random stickiness and
 * gradualRolloutRandom, variants sticky to a custom field (random when the field is
 * missing), and contexts with neither userId nor sessionId (default stickiness then
 * falls back to random).
 */
import type { Context, FeatureInterface } from './unleash-internals.js'
import type { FlagResult } from './source.js'

/** Per definition; the whole map is dropped when full (bounded memory, no LRU bookkeeping per hit). */
const MAX_ENTRIES = 16_384
/** Characters of keys per definition (2 bytes each): clients choose user ids, sessions and properties, so count their size too. */
const MAX_KEY_CHARS = 1_048_576
/** A context whose key is longer is evaluated every time rather than remembered. */
const MAX_KEY_LENGTH = 512

interface Entries {
  /** Context key → result. */
  readonly map: Map<string, FlagResult>
  /**
   * The commonest context, a user id and the client address alone, without a key
   * string built per lookup (building and hashing one was most of a lookup's cost):
   * [isEnabled, getVariant] → address → user id → result.
   */
  readonly users: readonly [Map<string | undefined, Map<string, FlagResult>>, Map<string | undefined, Map<string, FlagResult>>]
  size: number
  chars: number
}

interface Sticky { stickiness?: string }

interface StrategyShape {
  name: string
  parameters?: Record<string, unknown>
  constraints?: ReadonlyArray<{ operator?: string }>
  segments?: readonly number[]
  variants?: readonly Sticky[]
}

const defaultSticky = (s: unknown): boolean => s === undefined || s === '' || s === 'default'

/** Whether the definition's results depend on the context and nothing else. */
export function contextDecides (feature: FeatureInterface): boolean {
  if ((feature.dependencies?.length ?? 0) > 0) return false
  if (!(feature.variants ?? []).every((v: Sticky) => defaultSticky(v.stickiness))) return false
  return (feature.strategies as StrategyShape[] | undefined ?? []).every((s) =>
    s.name !== 'gradualRolloutRandom' &&
    (s.segments?.length ?? 0) === 0 &&
    !(s.constraints ?? []).some((c) => c.operator === 'DATE_AFTER' || c.operator === 'DATE_BEFORE') &&
    !(s.name === 'flexibleRollout' && s.parameters?.stickiness === 'random') &&
    (s.variants ?? []).every((v) => defaultSticky(v.stickiness)))
}

/** Length-prefixed, so no value can run into the next one. */
function part (value: string | undefined): string {
  return value === undefined ? '-' : value.length + ':' + value
}

/** Fields no key carries; the proxy's cohorts never set them. */
function unkeyed (context: Context): boolean {
  return context.currentTime !== undefined || context.environment !== undefined || context.appName !== undefined
}

function hasProperties (context: Context): boolean {
  for (const _ in context.properties) return true
  return false
}

function contextKey (context: Context, withVariant: boolean): string | undefined {
  if (context.userId === undefined && context.sessionId === undefined) return undefined
  if (unkeyed(context)) return undefined
  let key = (withVariant ? 'v' : 'e') + part(context.userId) + part(context.sessionId) + part(context.remoteAddress)
  const properties = context.properties as Record<string, string | undefined> | undefined
  for (const name in properties) key += part(name) + part(properties[name])
  return key
}

type Evaluate = (feature: FeatureInterface, context: Context, withVariant: boolean) => FlagResult

/** Counts one more entry of `chars` key characters, dropping every entry first when that would pass a bound. */
function room (entries: Entries, chars: number): void {
  if (entries.size >= MAX_ENTRIES || entries.chars + chars > MAX_KEY_CHARS) {
    entries.map.clear()
    entries.users[0].clear()
    entries.users[1].clear()
    entries.size = 0
    entries.chars = 0
  }
  entries.size++
  entries.chars += chars
}

/** The fast path of `get` for a context of a user id and a client address only. */
function userResult (entries: Entries, feature: FeatureInterface, context: Context, user: string, withVariant: boolean, evaluate: Evaluate): FlagResult {
  const address = context.remoteAddress
  if (user.length + (address?.length ?? 0) > MAX_KEY_LENGTH) return evaluate(feature, context, withVariant)
  const byAddress = entries.users[withVariant ? 1 : 0]
  let byUser = byAddress.get(address)
  let result = byUser?.get(user)
  if (result !== undefined) return result
  result = evaluate(feature, context, withVariant)
  room(entries, user.length)
  // room() may have dropped the address's map: looked up again.
  byUser = byAddress.get(address)
  if (byUser === undefined) {
    byAddress.set(address, byUser = new Map())
    entries.chars += address?.length ?? 0
  }
  byUser.set(user, result)
  return result
}

export class ResultCache {
  /** false: the definition's results are never cached. */
  readonly #byFeature = new WeakMap<FeatureInterface, Entries | false>()

  /** The result remembered for this definition and context, or the evaluation's, remembered if it may be. */
  get (feature: FeatureInterface, context: Context, withVariant: boolean, evaluate: Evaluate): FlagResult {
    let entries = this.#byFeature.get(feature)
    if (entries === undefined) {
      entries = contextDecides(feature) ? { map: new Map(), users: [new Map(), new Map()], size: 0, chars: 0 } : false
      this.#byFeature.set(feature, entries)
    }
    if (entries === false) return evaluate(feature, context, withVariant)
    const user = context.userId
    if (user !== undefined && context.sessionId === undefined && !unkeyed(context) && !hasProperties(context)) return userResult(entries, feature, context, user, withVariant, evaluate)
    const key = contextKey(context, withVariant)
    if (key === undefined || key.length > MAX_KEY_LENGTH) return evaluate(feature, context, withVariant)
    let result = entries.map.get(key)
    if (result === undefined) {
      result = evaluate(feature, context, withVariant)
      room(entries, key.length)
      entries.map.set(key, result)
    }
    return result
  }

  /** Entries and key characters held for a definition (for tests and debugging). */
  footprint (feature: FeatureInterface): { entries: number, chars: number } {
    const e = this.#byFeature.get(feature)
    return e === undefined || e === false ? { entries: 0, chars: 0 } : { entries: e.size, chars: e.chars }
  }
}
