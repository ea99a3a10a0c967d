/**
 * The parts of unleash-client the flag sources build on: its evaluation engine
 * (UnleashClient with the default strategies), its Repository (fetching, backup,
 * bootstrap) and its own hashing. Loaded with require(): these files are CommonJS
 * default exports, which ESM loaders disagree about.
 */
import { createRequire } from 'node:module'
import type * as ClientModule from 'unleash-client/lib/client.js'
import type * as RepositoryModule from 'unleash-client/lib/repository/index.js'
import type { Strategy } from 'unleash-client/lib/strategy/strategy.js'
import type { Context as ContextType } from 'unleash-client/lib/context.js'

const require = createRequire(import.meta.url)

/**
 * The entry points the proxy uses, loaded from a copy of unleash-client: `pkg` is its
 * package name. One adapter for every version the tests run it against
 * (test/unit/unleash-internals.test.ts loads the previous minor too).
 */
export function unleashInternals (pkg = 'unleash-client'): {
  UnleashClient: typeof ClientModule.default.default
  Repository: typeof RepositoryModule.default.default
  defaultStrategies: Strategy[]
  normalizedStrategyValue: (id: string, groupId: string) => number
  safeName: (s?: string) => string
  resolveContextValue: (context: ContextType, field: string) => string | undefined
  parseApiResponse: (data: unknown) => unknown
} {
  const helpers = require(`${pkg}/lib/helpers.js`) as { safeName: (s?: string) => string, resolveContextValue: (context: ContextType, field: string) => string | undefined }
  return {
    UnleashClient: (require(`${pkg}/lib/client.js`) as { default: typeof ClientModule.default.default }).default,
    Repository: (require(`${pkg}/lib/repository/index.js`) as { default: typeof RepositoryModule.default.default }).default,
    defaultStrategies: (require(`${pkg}/lib/strategy/index.js`) as { defaultStrategies: Strategy[] }).defaultStrategies,
    normalizedStrategyValue: (require(`${pkg}/lib/strategy/util.js`) as { normalizedStrategyValue: (id: string, groupId: string) => number }).normalizedStrategyValue,
    safeName: helpers.safeName,
    resolveContextValue: helpers.resolveContextValue,
    parseApiResponse: (require(`${pkg}/lib/feature.js`) as { parseApiResponse: (data: unknown) => unknown }).parseApiResponse
  }
}

export const { UnleashClient, Repository, defaultStrategies, normalizedStrategyValue, safeName, resolveContextValue, parseApiResponse } = unleashInternals()

export type UnleashClientInstance = InstanceType<typeof UnleashClient>
export type { Context } from 'unleash-client/lib/context.js'
export type { FeatureInterface, ClientFeaturesResponse } from 'unleash-client/lib/feature.js'
export type { Segment } from 'unleash-client/lib/strategy/strategy.js'
export type { RepositoryInterface } from 'unleash-client/lib/repository/index.js'
