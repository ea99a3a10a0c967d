/**
 * routes.yaml as the schema (schema.ts) lets it through, before normalising:
 * durations and sizes still as written. Derived from the schema, so a key is
 * stated once: add it to schema.ts and these types have it.
 */
import type { FromSchema } from 'json-schema-to-ts'
import type { configSchema } from './schema.js'

export type RawConfig = FromSchema<typeof configSchema>
export type RawRoute = RawConfig['routes'][number]
export type RawRamp = NonNullable<RawRoute['ramp']>
export type RawGuard = Exclude<NonNullable<RawRoute['guard']>, false>
export type RawSources = NonNullable<NonNullable<RawConfig['cohort']>['userId']>
