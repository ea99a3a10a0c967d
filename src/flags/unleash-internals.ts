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

export const UnleashClient = (require('unleash-client/lib/client.js') as { default: typeof ClientModule.default.default }).default
export const Repository = (require('unleash-client/lib/repository/index.js') as { default: typeof RepositoryModule.default.default }).default
export const defaultStrategies = (require('unleash-client/lib/strategy/index.js') as { defaultStrategies: Strategy[] }).defaultStrategies
export const { normalizedStrategyValue } = require('unleash-client/lib/strategy/util.js') as { normalizedStrategyValue: (id: string, groupId: string) => number }
export const { safeName, resolveContextValue } = require('unleash-client/lib/helpers.js') as {
  safeName: (s?: string) => string
  resolveContextValue: (context: ContextType, field: string) => string | undefined
}
export const { parseApiResponse } = require('unleash-client/lib/feature.js') as { parseApiResponse: (data: unknown) => unknown }

export type UnleashClientInstance = InstanceType<typeof UnleashClient>
export type { Context } from 'unleash-client/lib/context.js'
export type { FeatureInterface, ClientFeaturesResponse } from 'unleash-client/lib/feature.js'
export type { Segment } from 'unleash-client/lib/strategy/strategy.js'
export type { RepositoryInterface } from 'unleash-client/lib/repository/index.js'
