/** Every default of routes.yaml in one table, in the range of Envoy and NGINX; documented in docs/routes-yaml.md. */
export const DEFAULTS = Object.freeze({
  listen: { host: '0.0.0.0', port: 8080 },
  admin: { host: '127.0.0.1', port: 8081 },
  client: {
    headersTimeout: 10_000,
    requestTimeout: 60_000,
    keepAliveTimeout: 5_000,
    maxHeaderSize: 16 * 1024,
    maxUrlLength: 8 * 1024,
    maxBodySize: 10 * 1024 * 1024,
    maxHeaderCount: 200,
    sendTimeout: 30_000,
    realIpHeader: 'x-real-ip'
  },
  shutdown: { timeout: 30_000 },
  timeouts: { connect: 5_000, headers: 30_000, bodyIdle: 30_000 },
  pool: { connections: 128, keepAliveTimeout: 4_000 },
  unleash: { appName: 'strangler-proxy', environment: 'default', refreshInterval: 10_000, timeout: 5_000 },
  sessionCookie: { name: 'spx_sid', maxAge: 365 * 24 * 3_600_000, secure: false, sameSite: 'lax' as const },
  guard: { window: 60_000, minRequests: 20, maxErrorRatioIncrease: 0.05, maxLatencyRatio: 2, minLatencyIncrease: 50, cooldown: 60_000, probeFraction: 0.1, probeRequests: 20, minClients: 5, maxClientShare: 0.2, disableFlag: false },
  override: { header: 'x-strangler-override', cookie: 'spx_override' },
  retirement: { after: 7 * 86_400_000, legacyQuietFor: 86_400_000, minParity: 0.999, maxErrorRatioIncrease: 0.005, maxLatencyRatio: 1.2 },
  inventory: { maxTemplates: 500 },
  timeline: { impactDelay: 5 * 60_000, maxFileSize: 10 * 1024 * 1024, parityThreshold: 0.99 },
  notify: { timeout: 5_000, damping: 60_000 },
  ramps: { driver: 'proxy' as const, interval: 1_000, stallAfter: 15 * 60_000 },
  ramp: { hold: 30 * 60_000, minRequests: 500, minComparisons: 50, minUsers: 10, minAddresses: 3, minFailingClients: 3, maxErrorRatioIncrease: 0.01, maxClientErrorRatioIncrease: 0.05, maxLatencyRatio: 1.5, minParity: 0.995, onFail: 'stepBack' as const, maxFailures: 3 },
  evidence: { period: 60_000, perAddress: 60, perUser: 30 },
  route: { websocket: true, failover: true },
  backend: { preserveHost: true, legacy: false },
  shadow: {
    sampleRate: 1,
    methods: ['GET', 'HEAD'],
    maxBodySize: 256 * 1024,
    maxConcurrent: 32,
    timeout: 5_000,
    learnNoise: false,
    recordValues: false,
    compareHeaders: ['content-type'],
    text: 'exact' as const
  },
  jwt: { header: 'authorization', hmacAlgorithms: ['HS256'], keyAlgorithms: ['RS256', 'ES256'], requireExp: true }
})
