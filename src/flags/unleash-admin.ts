/** The one Unleash admin call the proxy makes: switching a flag off (the rollback guard). */
import { request } from 'undici'

export interface DisableFlag {
  /** flags.unleash.url, e.g. http://unleash:4242/api */
  readonly url: string
  readonly project: string
  readonly environment: string
  readonly flag: string
  /** An admin API token (UNLEASH_ADMIN_TOKEN), never the client token. */
  readonly token: string
}

export async function disableFlagInUnleash (d: DisableFlag): Promise<void> {
  const base = d.url.replace(/\/+$/, '')
  const path = `/admin/projects/${encodeURIComponent(d.project)}/features/${encodeURIComponent(d.flag)}/environments/${encodeURIComponent(d.environment)}/off`
  const res = await request(base + path, { method: 'POST', headers: { authorization: d.token }, headersTimeout: 5000, bodyTimeout: 5000 })
  const text = await res.body.text()
  if (res.statusCode >= 300) throw new Error(`POST ${path} → ${res.statusCode}: ${text.slice(0, 200)}`)
}
