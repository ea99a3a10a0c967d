/**
 * The strangler-proxy configurations the benchmark measures: the header cohort, the
 * JWT cohort (HS256 and RS256, 1,000 users' tokens) and the largest realistic config
 * (50 routes, 5 flags with constraints, shadow on the measured route at 10 %).
 */
import { generateKeyPairSync } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { SignJWT } from 'jose'

export const JWT_SECRET = 'bench-jwt-secret-of-a-sensible-length-0123456789'
export const TOKEN_USERS = 1000

const rollout = (name: string, percent: number, constraints: unknown[] = []): unknown => ({
  name,
  enabled: true,
  strategies: [{ name: 'flexibleRollout', parameters: { rollout: String(percent), stickiness: 'default', groupId: name }, constraints }]
})

export function writeFlags (dir: string): void {
  const tenants = { contextName: 'tenant', operator: 'NOT_IN', values: ['blocked-1', 'blocked-2'] }
  const flags = [
    rollout('orders-on-new', 50),
    rollout('search-on-new', 30, [tenants]),
    rollout('cart-on-new', 10, [{ contextName: 'userId', operator: 'STR_STARTS_WITH', values: ['user-1'] }]),
    rollout('account-on-new', 70, [tenants]),
    rollout('reports-on-new', 90, [{ contextName: 'remoteAddress', operator: 'IN', values: ['127.0.0.1'] }])
  ]
  writeFileSync(join(dir, 'flags.json'), JSON.stringify({ version: 2, features: flags }))
}

function header (origin: string, cohort: string): string {
  return `listen: { host: 127.0.0.1 }
backends:
  legacy: { url: "${origin}", legacy: true }
  new: { url: "${origin}" }
flags: { file: flags.json }
${cohort}
routes:
`
}

const ORDERS = '  - { name: orders, match: { path: /api/orders/* }, backend: legacy, flag: { name: orders-on-new, backend: new } }\n'
const DEFAULT = '  - { name: default, match: { path: /* }, backend: legacy }\n'

export function headerCohort (origin: string): string {
  return header(origin, 'cohort: { userId: { header: x-user-id } }') + ORDERS + DEFAULT
}

export function jwtCohort (origin: string, key: { secretEnv: string } | { publicKeyFile: string }, alg: 'HS256' | 'RS256'): string {
  const source = 'secretEnv' in key ? `secretEnv: ${key.secretEnv}` : `publicKeyFile: ${key.publicKeyFile}`
  return header(origin, `cohort:\n  userId: [ { jwt: sub } ]\n  jwt: { ${source}, algorithms: [${alg}] }`) + ORDERS + DEFAULT
}

/**
 * The header cohort with the identity bridge: the session is the x-user-id header (so
 * 10,000 sessions, each looked up once and then cached), the origin is legacy's
 * resolve endpoint (its `id` names the user), and the new backend gets a signed token.
 */
export function identityBridge (origin: string, keyFile: string): string {
  return header(origin, `cohort: { userId: { header: x-user-id } }
identity:
  resolve: { url: "${origin}/whoami", fields: [id], subject: id }
  session: { header: x-user-id }
  cache: { ttl: 10m, maxEntries: 20000 }
  token: { keyFile: ${keyFile}, createKey: true, backends: [new] }`) + ORDERS + DEFAULT
}

/** The header cohort with declared endpoints counted per request: 50 templates, the measured path among them. */
export function declaredCoverage (origin: string, dir: string): string {
  const list = join(dir, 'declared-routes.txt')
  const lines = ['GET /api/orders/{id}', 'POST /api/orders']
  for (let i = 0; i < 48; i++) lines.push(`GET /area${i}/items/{id}`)
  writeFileSync(list, lines.join('\n') + '\n')
  return header(origin, `cohort: { userId: { header: x-user-id } }
coverage: { declared: { legacy: { list: ${list} }, new: { list: ${list} } } }`) + ORDERS + DEFAULT
}

/** The header cohort under a ramp plan the replica drives, with a custom HTTP check as a gate. */
export function rampWithGates (origin: string): string {
  return header(origin, 'cohort: { userId: { header: x-user-id } }') +
    `  - name: orders
    match: { path: /api/orders/* }
    backend: legacy
    flag: { name: orders-on-new, backend: new }
    ramp: { steps: [50, 100], hold: 1h, gates: { checks: [{ name: origin_up, url: "${origin}/health" }] } }
` + DEFAULT
}

/** 50 routes with host, method and header conditions, 5 flags, shadow at 10 % on the measured route (or none). */
export function largeConfig (origin: string, shadow = true): string {
  const areas = ['catalog', 'search', 'cart', 'account', 'reports', 'billing', 'shipping', 'returns', 'reviews', 'admin']
  const lines: string[] = []
  const flags = ['search-on-new', 'cart-on-new', 'account-on-new', 'reports-on-new']
  for (let i = 0; i < 48; i++) {
    const area = areas[i % areas.length] as string
    const flag = i % 6 === 0 ? `, flag: { name: ${flags[i % flags.length] as string}, backend: new }` : ''
    const extra = i % 5 === 0 ? ', methods: [GET, HEAD]' : i % 7 === 0 ? ', host: "*.shop.example"' : ''
    lines.push(`  - { name: ${area}-${i}, match: { path: /${area}/v${i}/:id/*${extra} }, backend: ${i % 3 === 0 ? 'new' : 'legacy'}${flag} }`)
  }
  return header(origin, 'cohort:\n  userId: { header: x-user-id }\n  properties: { tenant: { header: x-tenant-id } }') +
    '  - name: orders\n    match: { path: /api/orders/* }\n    backend: legacy\n    flag: { name: orders-on-new, backend: new }\n' +
    (shadow ? '    shadow: { backend: new, sampleRate: 0.1 }\n' : '') +
    lines.join('\n') + '\n' + DEFAULT
}

/** TOKEN_USERS tokens for users user-1…, valid for a day, one per line. */
export async function writeTokens (file: string, alg: 'HS256' | 'RS256', key: Uint8Array | import('node:crypto').KeyObject): Promise<void> {
  const now = Math.floor(Date.now() / 1000)
  const tokens: string[] = []
  for (let i = 1; i <= TOKEN_USERS; i++) {
    tokens.push(await new SignJWT({ sub: `user-${i}` }).setProtectedHeader({ alg }).setIssuedAt(now).setExpirationTime(now + 86_400).sign(key))
  }
  writeFileSync(file, tokens.join('\n') + '\n')
}

export function rsaKeys (dir: string): { privateKey: import('node:crypto').KeyObject, publicKeyFile: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const publicKeyFile = join(dir, 'jwt-public.pem')
  writeFileSync(publicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }))
  return { privateKey, publicKeyFile }
}
