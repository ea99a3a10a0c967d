/**
 * Request target → route and the path the backend receives. Shared by traffic,
 * websocket upgrades and explain; never touches flags. The path reaches the backend
 * byte for byte, apart from the route's rewrite.
 */
import type { ClientLimits } from '../config/config.js'
import type { Route, RouteTable } from './table.js'
import { routingSegments } from '../config/patterns.js'
import { Errors, ProxyError } from '../errors.js'
import { requestHeadProblem } from './request-head.js'

export interface ResolvedTarget {
  readonly route: Route
  /** Path (after the route's rewrite) and query; the chosen backend's base path goes in front. */
  readonly path: string
  /** The request's path as the client sent it, without the query. */
  readonly rawPath: string
}

export type Resolution = ResolvedTarget | { readonly error: ProxyError }

/** What resolving needs of the live config: the request limits and the route table. */
export interface ResolveScope {
  readonly config: { readonly client: Pick<ClientLimits, 'maxHeaderCount' | 'maxHeaderSize' | 'maxUrlLength'> }
  readonly table: RouteTable
}

export function resolve (snap: ResolveScope, method: string, url: string, headers: Readonly<Record<string, string | string[] | undefined>>, rawHeaders?: readonly string[]): Resolution {
  const limits = snap.config.client
  if (rawHeaders !== undefined) {
    const problem = requestHeadProblem(rawHeaders, limits.maxHeaderCount, limits.maxHeaderSize)
    if (problem !== undefined) return { error: problem }
  }
  if (url.length > limits.maxUrlLength) return { error: new ProxyError(Errors.URI_TOO_LONG, `request target is longer than ${limits.maxUrlLength} bytes`) }
  if (url.charCodeAt(0) !== 47 /* / */) return { error: new ProxyError(Errors.BAD_REQUEST_TARGET, 'use origin-form: a path starting with "/"') }
  const q = url.indexOf('?')
  const rawPath = q === -1 ? url : url.slice(0, q)
  const { segs, error } = routingSegments(rawPath)
  if (segs === undefined) return { error: new ProxyError(Errors.BAD_PATH, error as string) }
  const host = headers.host
  const route = snap.table.match({ method, host: typeof host === 'string' ? host : undefined, segs, headers })
  if (route === undefined) return { error: new ProxyError(Errors.NO_ROUTE, `no route matches ${method} on this host and path`) }
  return { route, rawPath, path: rewritePath(rawPath, route.config.rewrite) + (q === -1 ? '' : url.slice(q)) }
}

/** The route's rewrite applied to a raw path. Pure. */
export function rewritePath (rawPath: string, rw: { readonly stripPrefix?: string | undefined, readonly addPrefix?: string | undefined } | undefined): string {
  if (rw === undefined) return rawPath
  let path = rawPath
  if (rw.stripPrefix !== undefined) {
    const prefix = rw.stripPrefix.replace(/\/$/, '')
    // Validation guarantees the routing path starts with the prefix; the raw path may
    // encode it differently ("%61pi"), in which case it is forwarded unchanged.
    if (path === prefix) path = '/'
    else if (path.startsWith(prefix + '/')) path = path.slice(prefix.length)
  }
  if (rw.addPrefix !== undefined) path = rw.addPrefix.replace(/\/$/, '') + path
  return path
}
