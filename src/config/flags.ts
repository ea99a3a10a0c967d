/** flags: a flags file, an Unleash server, or both; Unleash's URL, timeouts and usage metrics. */
import { resolve as resolvePath } from 'node:path'
import { DEFAULTS } from './defaults.js'
import type { RawConfig } from './raw.js'
import type { Section } from './section.js'
import type { FlagsConfig } from './types.js'

type RawUnleash = NonNullable<NonNullable<RawConfig['flags']>['unleash']>

export function normalizeFlags (raw: RawConfig['flags'], s: Section): FlagsConfig | undefined {
  if (raw === undefined) return undefined
  const u = raw.unleash
  if (u !== undefined) checkUnleash(u, s)
  return Object.freeze({
    file: raw.file === undefined ? undefined : resolvePath(s.baseDir, raw.file),
    unleash: u === undefined
      ? undefined
      : Object.freeze({
        url: u.url,
        appName: u.appName ?? DEFAULTS.unleash.appName,
        environment: u.environment ?? DEFAULTS.unleash.environment,
        projectName: u.projectName,
        refreshInterval: s.dur(u.refreshInterval, DEFAULTS.unleash.refreshInterval),
        timeout: s.dur(u.timeout, DEFAULTS.unleash.timeout),
        metrics: Object.freeze({ enabled: u.metrics?.enabled ?? DEFAULTS.unleash.metrics.enabled, interval: s.dur(u.metrics?.interval, DEFAULTS.unleash.metrics.interval) })
      })
  })
}

function checkUnleash (u: RawUnleash, s: Section): void {
  const at = ['flags', 'unleash']
  // unleash-client retries a fetch twice with at least 1 s between tries; a
  // shorter timeout makes its HTTP layer refuse every request.
  if (u.timeout !== undefined && s.dur(u.timeout, 0) < 1000) s.problems.add([...at, 'timeout'], 'must be at least 1s')
  if (u.metrics?.interval !== undefined && s.dur(u.metrics.interval, 0) < 1000) s.problems.add([...at, 'metrics', 'interval'], 'must be at least 1s')
  let url: URL
  try {
    url = new URL(u.url)
  } catch {
    s.problems.add([...at, 'url'], `"${u.url}" is not a valid URL`)
    return
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') s.problems.add([...at, 'url'], 'scheme must be http or https')
  if (url.username !== '' || url.password !== '') s.problems.add([...at, 'url'], 'must not carry credentials; the token comes from UNLEASH_API_TOKEN')
}
