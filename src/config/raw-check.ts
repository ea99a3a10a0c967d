/**
 * Compile-time proof that the schema (schema.ts) and the raw types (raw.ts) name the
 * same keys at the same places: a key added to one and not the other fails
 * `tsc`, naming the key's path. Only the key structure is compared (leaf value types
 * are the schema's business at run time and normalize.ts's after it).
 */
import type { configSchema } from './schema.js'
import type { RawConfig } from './raw.js'

/** Every key path a schema allows: ".routes[].match.path", ".backends.*.url". */
type SchemaPaths<S, P extends string> =
  S extends { readonly anyOf: ReadonlyArray<infer A> } ? SchemaPaths<A, P>
    : S extends { readonly items: infer I } ? SchemaPaths<I, `${P}[]`>
      : S extends { readonly properties: infer Props }
        ? { [K in keyof Props & string]: `${P}.${K}` | SchemaPaths<Props[K], `${P}.${K}`> }[keyof Props & string] | MapPaths<S, P>
        : MapPaths<S, P>

/** Keys chosen by the file (backend names, header names): additionalProperties with a schema. */
type MapPaths<S, P extends string> =
  S extends { readonly additionalProperties: infer A } ? (A extends object ? `${P}.*` | SchemaPaths<A, `${P}.*`> : never) : never

/** Every key path a type allows, in the same notation. */
type RawPaths<T, P extends string> =
  T extends ReadonlyArray<infer E> ? RawPaths<E, `${P}[]`>
    : T extends object
      ? string extends keyof T
        ? `${P}.*` | RawPaths<T[string & keyof T], `${P}.*`>
        : { [K in keyof T & string]-?: `${P}.${K}` | RawPaths<NonNullable<T[K]>, `${P}.${K}`> }[keyof T & string]
      : never

type InSchema = SchemaPaths<typeof configSchema, ''>
type InRaw = RawPaths<RawConfig, ''>

/** Fails to compile when T is not never; the error shows T, the paths that differ. */
type None<T extends never> = T

export type SchemaKeysMissingFromRawConfig = None<Exclude<InSchema, InRaw>>
export type RawConfigKeysMissingFromSchema = None<Exclude<InRaw, InSchema>>
