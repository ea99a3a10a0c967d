/** client: limits on what clients send and how long they take, and which proxies are trusted. */
import { isIP } from 'node:net'
import proxyAddr from 'proxy-addr'
import { DEFAULTS } from './defaults.js'
import type { RawConfig } from './raw.js'
import type { Section } from './section.js'
import type { ClientLimits } from './types.js'

export function normalizeClient (raw: RawConfig['client'], s: Section): ClientLimits {
  const c = raw ?? {}
  const d = DEFAULTS.client
  const trustedProxies = c.trustedProxies ?? []
  trustedProxies.forEach((cidr, i) => {
    if (!isTrustable(cidr)) s.problems.add(['client', 'trustedProxies', i], `"${cidr}" is not an IP address, a CIDR range, or one of loopback, linklocal, uniquelocal`)
  })
  const client: ClientLimits = Object.freeze({
    headersTimeout: s.dur(c.headersTimeout, d.headersTimeout),
    requestTimeout: s.dur(c.requestTimeout, d.requestTimeout),
    keepAliveTimeout: s.dur(c.keepAliveTimeout, d.keepAliveTimeout),
    maxHeaderSize: s.sz(['client', 'maxHeaderSize'], c.maxHeaderSize, d.maxHeaderSize),
    maxUrlLength: s.sz(['client', 'maxUrlLength'], c.maxUrlLength, d.maxUrlLength),
    maxBodySize: s.sz(['client', 'maxBodySize'], c.maxBodySize, d.maxBodySize),
    maxHeaderCount: c.maxHeaderCount ?? d.maxHeaderCount,
    sendTimeout: s.dur(c.sendTimeout, d.sendTimeout),
    trustedProxies: Object.freeze([...trustedProxies]),
    realIpHeader: c.realIpHeader === false ? undefined : (c.realIpHeader ?? d.realIpHeader).toLowerCase()
  })
  if (client.requestTimeout !== 0 && client.headersTimeout > client.requestTimeout) {
    s.problems.add(['client', 'headersTimeout'], 'must not be longer than client.requestTimeout')
  }
  return client
}

function isTrustable (cidr: string): boolean {
  try {
    proxyAddr.compile(cidr)
  } catch {
    return false
  }
  return /^(loopback|linklocal|uniquelocal)$/.test(cidr) || isIP(cidr.split('/')[0] as string) !== 0
}
