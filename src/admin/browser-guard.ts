/**
 * What a browser could be tricked into sending to the admin port, refused before any
 * handler runs. DNS rebinding: a page on evil.example whose name now resolves to
 * 127.0.0.1 reaches the admin port with Host: evil.example, so only IP literals,
 * localhost and configured names are answered. Cross-site requests: a form or fetch
 * from another site can POST text/plain without a preflight, so every mutating call
 * must be JSON and same-origin.
 */
import { isIP } from 'node:net'
import type { IncomingHttpHeaders } from 'node:http'

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/** "host:port", "[::1]:8081" → the name or address, lower case. */
function hostName (host: string): string {
  const h = host.toLowerCase()
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']'))
  const colon = h.lastIndexOf(':')
  return colon === -1 ? h : h.slice(0, colon)
}

export type AdminRefusal = { readonly status: 403 | 400, readonly detail: string } | undefined

/** `admin`: the name the port is bound to and the configured ones are answered, besides IPs and localhost. */
export function adminRequestRefusal (method: string, headers: IncomingHttpHeaders, admin: { readonly host: string, readonly allowedHosts: readonly string[] }, formAllowed = false): AdminRefusal {
  const host = headers.host
  if (host !== undefined) {
    const name = hostName(host)
    if (isIP(name) === 0 && name !== 'localhost' && name !== admin.host.toLowerCase() && !admin.allowedHosts.includes(name)) {
      return { status: 403, detail: `the admin port does not answer to host "${name}"; list it in admin.allowedHosts` }
    }
  }
  if (SAFE_METHODS.has(method)) return undefined
  const site = headers['sec-fetch-site']
  if (site !== undefined && site !== 'same-origin' && site !== 'none') return { status: 403, detail: 'cross-site requests to the admin port are refused' }
  const origin = headers.origin
  if (origin !== undefined && origin !== `http://${host ?? ''}` && origin !== `https://${host ?? ''}`) return { status: 403, detail: 'cross-origin requests to the admin port are refused' }
  const type = headers['content-type'] ?? ''
  // A DELETE with no body (the identity bridge's logout hook): no browser sends one
  // cross-origin without a CORS preflight, which the admin port never answers.
  if (method === 'DELETE' && type === '' && (headers['content-length'] ?? '0') === '0' && headers['transfer-encoding'] === undefined) return undefined
  // The sign-in form is same-origin (checked above) and only ever exchanges a token.
  if (formAllowed && /^application\/x-www-form-urlencoded\s*(;|$)/i.test(type)) return undefined
  if (!/^application\/json\s*(;|$)/i.test(type)) return { status: 400, detail: 'send Content-Type: application/json (with {} for no arguments)' }
  return undefined
}
