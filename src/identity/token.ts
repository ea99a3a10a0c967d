/**
 * The identity handed to new backends: a short-lived JWT signed with the proxy's key
 * (Ed25519 → EdDSA, RSA → RS256), one audience per backend, and the public key as a
 * JWKS so a backend verifies without sharing a secret. The key is read when a config
 * goes live: a missing or weak key refuses the config.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type JsonWebKey, type KeyObject } from 'node:crypto'
import { SignJWT } from 'jose'
import { Errors, ProxyError } from '../errors.js'

export interface Signer {
  readonly kid: string
  readonly jwks: { readonly keys: readonly JsonWebKey[] }
  sign (claims: Readonly<Record<string, unknown>>, subject: string, audience: string, issuer: string, ttlMs: number, now: number): Promise<string>
}

/**
 * identity.token.createKey: an Ed25519 key written where none is. 'wx' creates the file
 * only if it is absent, so --workers starting together agree on the first one written.
 */
function createKeyIfMissing (keyFile: string): void {
  if (existsSync(keyFile)) return
  const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' })
  try {
    mkdirSync(dirname(keyFile), { recursive: true, mode: 0o700 })
    writeFileSync(keyFile, pem, { flag: 'wx', mode: 0o600 })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new ProxyError(Errors.CONFIG_INVALID, `identity.token.keyFile: cannot create ${keyFile} (${(err as Error).message})`)
  }
}

export function loadSigner (keyFile: string, create = false): Signer {
  if (create) createKeyIfMissing(keyFile)
  let key: KeyObject
  try {
    key = createPrivateKey(readFileSync(keyFile))
  } catch (err) {
    throw new ProxyError(Errors.CONFIG_INVALID, `identity.token.keyFile: ${keyFile} is not a readable PEM private key (${(err as Error).message})`)
  }
  const alg = key.asymmetricKeyType === 'ed25519' ? 'EdDSA' : key.asymmetricKeyType === 'rsa' ? 'RS256' : undefined
  if (alg === undefined) throw new ProxyError(Errors.CONFIG_INVALID, `identity.token.keyFile: ${keyFile} holds a ${key.asymmetricKeyType ?? 'unknown'} key; use Ed25519 (openssl genpkey -algorithm ed25519) or RSA`)
  if (alg === 'RS256' && (key.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw new ProxyError(Errors.CONFIG_INVALID, 'identity.token.keyFile: an RSA key needs at least 2048 bits')
  const jwk = createPublicKey(key).export({ format: 'jwk' })
  const kid = thumbprint(jwk)
  return {
    kid,
    jwks: Object.freeze({ keys: Object.freeze([{ ...jwk, kid, alg, use: 'sig' }]) }),
    sign: async (claims, subject, audience, issuer, ttlMs, now) => await new SignJWT({ ...claims })
      .setProtectedHeader({ alg, kid, typ: 'JWT' })
      .setSubject(subject)
      .setAudience(audience)
      .setIssuer(issuer)
      .setIssuedAt(Math.floor(now / 1000))
      .setExpirationTime(Math.floor((now + ttlMs) / 1000))
      .sign(key)
  }
}

/** RFC 7638: SHA-256 of the key's required members in lexicographic order. */
function thumbprint (jwk: JsonWebKey): string {
  const members = jwk.kty === 'OKP' ? { crv: jwk.crv, kty: jwk.kty, x: jwk.x } : { e: jwk.e, kty: jwk.kty, n: jwk.n }
  return createHash('sha256').update(JSON.stringify(members)).digest('base64url')
}
