/**
 * Verified JWT claims for cohort values. A token that fails verification (bad
 * signature, wrong algorithm, expired, not yet valid, wrong issuer or audience) is
 * never used: the request is simply anonymous for that value.
 */
import { readFileSync } from 'node:fs'
import { createPublicKey, type KeyObject } from 'node:crypto'
import { jwtVerify, type JWTPayload } from 'jose'
import type { JwtConfig } from '../config/config.js'
import { readCookie } from '../routing/cookies.js'
import { Errors, ProxyError } from '../errors.js'
import { ClaimsCache } from './jwt-cache.js'

export interface JwtVerifier {
  /**
   * Claims of the request's token, or undefined when it has none or it does not
   * verify. Synchronous for a token verified before (jwt-cache.ts).
   */
  claims (headers: Readonly<Record<string, string | string[] | undefined>>): JWTPayload | undefined | Promise<JWTPayload | undefined>
}

/** RFC 7518 §3.2: an HMAC key at least as long as the hash (HS256: 32 bytes); shorter ones can be brute-forced from one token. */
export const MIN_HMAC_SECRET_BYTES = 32

export function createJwtVerifier (config: JwtConfig, env: Readonly<Record<string, string | undefined>>): JwtVerifier {
  let key: Uint8Array | KeyObject
  if (config.secretEnv !== undefined) {
    const secret = env[config.secretEnv]
    if (secret === undefined || secret === '') throw new ProxyError(Errors.CONFIG_INVALID, `cohort.jwt.secretEnv: environment variable ${config.secretEnv} is not set`)
    key = new TextEncoder().encode(secret)
    if (key.length < MIN_HMAC_SECRET_BYTES) throw new ProxyError(Errors.CONFIG_INVALID, `cohort.jwt.secretEnv: ${config.secretEnv} holds ${key.length} bytes; an HMAC secret needs at least ${MIN_HMAC_SECRET_BYTES}`)
  } else if (config.publicKeyFile !== undefined) {
    key = createPublicKey(readFileSync(config.publicKeyFile))
  } else {
    throw new Error('cohort.jwt needs secretEnv or publicKeyFile')
  }
  const options = {
    algorithms: [...config.algorithms],
    ...(config.issuer === undefined ? {} : { issuer: config.issuer }),
    ...(config.audience === undefined ? {} : { audience: config.audience }),
    ...(config.requireExp ? { requiredClaims: ['exp'] } : {})
  }
  const cache = new ClaimsCache()
  return {
    claims (headers) {
      let token: string | undefined
      if (config.cookie !== undefined) token = readCookie(headers.cookie, config.cookie)
      if (token === undefined) {
        const h = headers[config.header]
        const value = Array.isArray(h) ? h[0] : h
        if (value !== undefined) token = value.startsWith('Bearer ') ? value.slice(7) : value
      }
      if (token === undefined || token === '') return undefined
      const known = cache.get(token, Date.now())
      if (known !== undefined) return known
      const verified = token
      return jwtVerify(verified, key, options).then((r) => {
        cache.set(verified, r.payload, Date.now())
        return r.payload
      }, () => undefined)
    }
  }
}
