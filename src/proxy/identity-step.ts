/**
 * The identity bridge on the request path: who the user is, asked only on routes that
 * may send to a backend that gets the identity, a shadow copy included (or whose
 * cohort reads it), and what a
 * failed lookup does: never forward to such a backend without an identity.
 */
import type { Route } from '../routing/table.js'
import type { Resolved } from '../identity/bridge.js'
import type { Choice } from '../decision/choose.js'
import { routeBackends } from '../config/roles.js'
import type { ProxySnapshot } from './scope.js'

const needs = new WeakMap<Route, boolean>()

function needsIdentity (snap: ProxySnapshot, route: Route): boolean {
  let n = needs.get(route)
  if (n === undefined) {
    const c = snap.config
    const backends = c.identity?.token.backends ?? new Set<string>()
    const cohort = [...c.cohort.userId, ...c.cohort.sessionId, ...Object.values(c.cohort.properties).flat()]
    const shadow = route.config.shadow?.backend
    n = routeBackends(route.config).some((b) => backends.has(b)) || (shadow !== undefined && backends.has(shadow)) || (route.config.flag !== undefined && cohort.some((s) => 'identity' in s))
    needs.set(route, n)
  }
  return n
}

/** The request's identity, or undefined where the route has no use for it (nothing asked, nothing spent). */
export function identityFor (snap: ProxySnapshot, route: Route, headers: Readonly<Record<string, string | string[] | undefined>>): Resolved | Promise<Resolved> | undefined {
  if (snap.identity === undefined || !needsIdentity(snap, route)) return undefined
  return snap.identity.resolve(headers)
}

/**
 * What a failed lookup does to a choice that goes to a backend needing the identity:
 * onFailure: legacy serves it from the route's baseline; deny refuses it (undefined).
 * Any other choice stands.
 */
export function afterFailedIdentity (snap: ProxySnapshot, route: Route, choice: Choice): Choice | undefined {
  const c = snap.config.identity
  if (c === undefined || !c.token.backends.has(choice.decision.backend)) return choice
  if (c.onFailure === 'deny') return undefined
  return { ...choice, decision: { ...choice.decision, backend: route.backend, reason: 'identity_unavailable' } }
}

/** The identity for the route's shadow copy, signed for the backend the copy goes to (undefined when it gets none). */
export function shadowIdentityFor (snap: ProxySnapshot, route: Route, primary: string, identity: Resolved | undefined): { readonly backend: string, readonly token: string | Promise<string> } | undefined {
  const shadow = route.config.shadow
  if (shadow === undefined || identity?.kind !== 'user' || snap.identity === undefined) return undefined
  const backend = primary === shadow.backend ? route.backend : shadow.backend
  if (!snap.identity.config.token.backends.has(backend)) return undefined
  return { backend, token: snap.identity.token(identity, backend) }
}
