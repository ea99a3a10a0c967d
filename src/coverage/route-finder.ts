/** Which route routes.yaml picks for a declared endpoint: a sample path, no host or header conditions. */
import type { RouteConfig } from '../config/config.js'
import { routingSegments } from '../config/patterns.js'
import type { RouteTable } from '../routing/table.js'

export function routeFinder (table: RouteTable): (method: string, path: string) => RouteConfig | undefined {
  return (method, path) => {
    const { segs } = routingSegments(path)
    return segs === undefined ? undefined : table.match({ method, host: undefined, segs, headers: {} })?.config
  }
}
