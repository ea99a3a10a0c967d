/**
 * The configuration as the rest of the proxy sees it: validated, defaulted, frozen.
 * Durations are milliseconds and sizes bytes.
 */

export interface Timeouts {
  readonly connect: number
  readonly headers: number
  readonly bodyIdle: number
}

export interface BackendConfig {
  readonly name: string
  /** scheme://host:port, what the pool connects to. */
  readonly origin: string
  /** Path prefix from the backend URL, '' when the URL has none. */
  readonly basePath: string
  /** host[:port] as a Host header would carry it. */
  readonly host: string
  readonly timeouts: Timeouts
  readonly pool: { readonly connections: number, readonly keepAliveTimeout: number }
  readonly preserveHost: boolean
  /** Marks the app being replaced: the migration ledger counts every other backend as new. */
  readonly legacy: boolean
}

export interface RouteMatch {
  readonly path: string
  readonly methods?: readonly string[]
  readonly host?: string
  readonly headers?: Readonly<Record<string, string | true>>
}

export type ValueSource = { readonly header: string } | { readonly cookie: string } | { readonly jwt: string } | { readonly identity: string }

export interface JwtConfig {
  readonly header: string
  readonly cookie: string | undefined
  /** Name of the environment variable holding the HMAC secret. */
  readonly secretEnv: string | undefined
  readonly publicKeyFile: string | undefined
  readonly algorithms: readonly string[]
  readonly issuer: string | undefined
  readonly audience: string | undefined
  /** Tokens without an expiry are refused (default): they would identify a cohort forever. */
  readonly requireExp: boolean
}

export interface CohortConfig {
  readonly userId: readonly ValueSource[]
  readonly sessionId: readonly ValueSource[]
  readonly properties: Readonly<Record<string, readonly ValueSource[]>>
  readonly jwt: JwtConfig | undefined
  /** The proxy-issued cookie that makes anonymous visitors sticky; undefined when disabled. */
  readonly sessionCookie: { readonly name: string, readonly maxAge: number, readonly secure: boolean, readonly sameSite: 'lax' | 'strict' | 'none' } | undefined
}

export interface UnleashConfig {
  readonly url: string
  readonly appName: string
  readonly environment: string
  readonly projectName: string | undefined
  readonly refreshInterval: number
  readonly timeout: number
  /** Registration and usage metrics sent to Unleash, as its SDKs do (docs/flags-and-cohorts.md). */
  readonly metrics: { readonly enabled: boolean, readonly interval: number }
}

export interface FlagsConfig {
  /** Absolute path: the flag source itself, or Unleash's bootstrap when unleash is set. */
  readonly file: string | undefined
  readonly unleash: UnleashConfig | undefined
}

/** Shadow traffic and comparison rules for one route (see shadow.ts). */
export interface ShadowConfig {
  /** Compared with the primary; when the primary is this backend, the route's baseline is the shadow. */
  readonly backend: string
  readonly sampleRate: number
  readonly methods: readonly string[]
  readonly maxBodySize: number
  readonly maxConcurrent: number
  readonly timeout: number
  readonly learnNoise: boolean
  /** Keep mismatching values in /parity samples as they are (default: type, size, short hash). */
  readonly recordValues: boolean
  readonly compare: {
    readonly headers: readonly string[]
    readonly ignore: ReadonlySet<string>
    readonly unordered: ReadonlySet<string>
    readonly text: 'exact' | 'whitespace'
    /** Compare the bodies of two error answers of the same status (default: the same status is the same answer). */
    readonly errorBodies: boolean
  }
}

/** The rollback guard's settings for one flagged route (see guard.ts). */
export interface GuardConfig {
  readonly window: number
  readonly minRequests: number
  readonly maxErrorRatioIncrease: number
  readonly maxLatencyRatio: number
  /** Milliseconds a p99 must also grow by, so 1 ms → 3 ms is not a regression. */
  readonly minLatencyIncrease: number
  readonly cooldown: number
  readonly probeFraction: number
  readonly probeRequests: number
  /** A trip needs failures from at least this many client addresses in the window. */
  readonly minClients: number
  /** One client address's errors count for at most this share of the window's requests. */
  readonly maxClientShare: number
  /** Also switch the flag off in Unleash when a trip holds (needs UNLEASH_ADMIN_TOKEN and flags.unleash). */
  readonly disableFlag: boolean
}

export interface RouteFlag {
  readonly name: string
  readonly backend: string | undefined
  readonly variants: Readonly<Record<string, string>> | undefined
}

export interface RouteConfig {
  readonly name: string
  /** Position in the file, the last tie-breaker between equally specific routes. */
  readonly index: number
  readonly line: number
  readonly match: RouteMatch
  readonly backend: string
  readonly rewrite?: { readonly stripPrefix?: string, readonly addPrefix?: string }
  readonly maxBodySize: number
  readonly websocket: boolean
  readonly flag: RouteFlag | undefined
  /** Serve from the baseline when the flag-selected backend cannot be connected to (idempotent, bodyless requests). */
  readonly failover: boolean
  /** Legacy's answers on this route say it is going away (Deprecation, Sunset, Link). */
  readonly retire?: RetireConfig
  /** The new backend may decline a request ("not mine yet"): it is replayed to the baseline. */
  readonly decline?: { readonly status: ReadonlySet<number>, readonly header: string, /** Request bodies up to this are held whole, so a declined one can be replayed. */ readonly maxBodySize: number }
  /** Undefined for routes without a flag, or with guard: false. */
  readonly guard: GuardConfig | undefined
  readonly shadow: ShadowConfig | undefined
  /** Only on routes with flag.backend. */
  readonly ramp: RampConfig | undefined
}

/** A ramp plan: the rollout percentages a route's flag climbs, and what each step must show. */
export interface RampConfig {
  /** Strictly increasing percentages in (0, 100]. */
  readonly steps: readonly number[]
  /** Least time at a step before it may advance (ms). */
  readonly hold: number
  /** Least requests on the new backend in the step's window before it is judged. */
  readonly minRequests: number
  /** Least distinct (user, endpoint) pairs compared before parity is judged (routes with shadow:). */
  readonly minComparisons: number
  /** Least distinct users, and client addresses, on each side before any verdict. */
  readonly minUsers: number
  readonly minAddresses: number
  /** A failed error gate needs 5xx from at least this many users and addresses. */
  readonly minFailingClients: number
  readonly gates: {
    readonly maxErrorRatioIncrease: number
    /** 4xx ratio increase, judged apart from 5xx. */
    readonly maxClientErrorRatioIncrease: number
    readonly maxLatencyRatio: number
    /** A p99 past the ratio fails only when it is also this much slower (ms): a ratio of a few milliseconds is noise. */
    readonly minLatencyIncrease: number
    /** Judged only on routes with shadow:. */
    readonly minParity: number
    /** PromQL gates: a team's own figures (docs/ramp-plans.md). */
    readonly queries: readonly QueryGate[]
    /** HTTP checks called before a step is judged passed. */
    readonly checks: readonly HttpCheck[]
  }
  /** Steps that wait for a person before they are entered. */
  readonly approve: ReadonlySet<number>
  /** Steps that need more than one operator's approval, and how many. */
  readonly approvers: ReadonlyMap<number, number>
  /** When the ramp may move forward; empty: always. */
  readonly windows: readonly ChangeWindow[]
  readonly onFail: 'stepBack' | 'abort'
  /** Gate failures in one ramp after which it aborts to 0. */
  readonly maxFailures: number
  /** Judge and record every transition, write nothing: the flag keeps its rollout. */
  readonly dryRun: boolean
}

export interface ClientLimits {
  readonly headersTimeout: number
  readonly requestTimeout: number
  readonly keepAliveTimeout: number
  readonly maxHeaderSize: number
  readonly maxUrlLength: number
  readonly maxBodySize: number
  /** More request header lines than this is a 431, like too many bytes. */
  readonly maxHeaderCount: number
  /** A client that takes nothing of a response for this long is cut (0: never). */
  readonly sendTimeout: number
  readonly trustedProxies: readonly string[]
  /** Header (lower case) set to the client address for the backend; undefined: none. */
  readonly realIpHeader: string | undefined
}

export interface Config {
  readonly file: string
  /** Content hash of the file: the route table's version. */
  readonly version: string
  readonly listen: { readonly host: string, readonly port: number }
  readonly admin: {
    readonly host: string
    readonly port: number
    /** Host names the admin port answers to besides IP literals and localhost (DNS rebinding). */
    readonly allowedHosts: readonly string[]
    /** Named people with a role; each token kept as its SHA-256 in an environment variable. */
    readonly operators: readonly OperatorConfig[]
  }
  readonly client: ClientLimits
  readonly shutdown: { readonly timeout: number }
  /** Where state kept across restarts lives: state.dir, else flags.unleash.backupDir (the older key); undefined for the default. */
  readonly state: { readonly dir: string | undefined }
  readonly backends: ReadonlyMap<string, BackendConfig>
  readonly routes: readonly RouteConfig[]
  readonly flags: FlagsConfig | undefined
  readonly cohort: CohortConfig
  readonly override: { readonly header: string, readonly cookie: string }
  readonly ramps: RampsConfig
  readonly evidence: EvidenceConfig
  readonly timeline: TimelineConfig
  readonly retirement: RetirementConfig
  /** routes.yaml's tracing:, under the OTEL_* variables (tracing.ts). */
  readonly tracing: TracingConfig | undefined
  readonly inventory: { readonly maxTemplates: number }
  readonly coverage: CoverageConfig | undefined
  readonly notify: readonly NotifyTarget[]
  readonly identity: IdentityConfig | undefined
}

/** An HTTP check of a ramp plan: a smoke test the step must pass. */
export interface HttpCheck {
  readonly name: string
  readonly url: string
  readonly method: string
  readonly headers: Readonly<Record<string, string>>
  readonly timeout: number
  readonly expect: {
    /** Accepted statuses; empty: any 2xx. */
    readonly status: readonly number[]
    readonly bodyContains: string | undefined
    /** "$.a.b[0]" → the value it must hold. */
    readonly json: Readonly<Record<string, unknown>>
  }
  /** next-cohort: sent with an override token for the route's new backend, as a user of the next step is routed. */
  readonly as: 'next-cohort' | undefined
  /** after: once a step's other gates pass, before it is judged passed; before: before the ramp enters the next step. */
  readonly when: 'before' | 'after'
}

/** A PromQL gate of a ramp plan: the query's template, and what its value must stay within. */
export interface QueryGate {
  readonly name: string
  /** With {{route}}, {{backend}}, {{baseline}} inside double-quoted strings, {{window}} as a range. */
  readonly query: string
  /** baseline: the new backend's value over the baseline's (a ratio); absolute: the new backend's value. */
  readonly compare: 'baseline' | 'absolute'
  readonly max: number | undefined
  readonly min: number | undefined
  /** The range {{window}} stands for; undefined: the step's window so far. */
  readonly window: number | undefined
}

/** Where each backend's declared routes come from (docs/coverage.md). */
export interface DeclaredSource {
  readonly kind: 'openapi' | 'list'
  /** A file path (resolved against routes.yaml's folder) or, for OpenAPI, an http(s) URL. */
  readonly location: string
}

export interface CoverageConfig {
  readonly declared: ReadonlyMap<string, DeclaredSource>
  /** A declared endpoint with no traffic for this long is "unused". */
  readonly unusedAfter: number
}

/** The identity bridge: legacy's session resolved once, handed to new backends as a signed token (docs/identity.md). */
export interface IdentityConfig {
  readonly resolve: {
    /** Legacy's "who is this" endpoint, called with the request's session credentials. */
    readonly url: string
    readonly timeout: number
    /** Request headers sent along (lower case). */
    readonly forward: readonly string[]
    /** Fields of the answer kept (and put in the token); the subject among them. */
    readonly fields: readonly string[]
    readonly subject: string
  }
  /** What identifies a session: its values key the cache; none present is an anonymous request. */
  readonly session: readonly ValueSource[]
  readonly cache: { readonly ttl: number, readonly anonymousTtl: number, readonly maxEntries: number, readonly maxBytes: number }
  readonly token: {
    readonly header: string
    /** PEM private key (Ed25519 or RSA), absolute. */
    readonly keyFile: string
    /** Create an Ed25519 key at keyFile when none is there (one instance, a demo); a fleet shares one key. */
    readonly createKey: boolean
    readonly issuer: string
    readonly ttl: number
    /** Backends that get the token (each its own audience). */
    readonly backends: ReadonlySet<string>
  }
  /** The resolver failed: serve from the route's baseline (legacy), or answer 503. */
  readonly onFailure: 'legacy' | 'deny'
}

export interface TracingConfig {
  /** Query parameters whose values spans never carry, on top of the built-in list. */
  readonly redactQuery?: readonly string[]
  readonly endpoint?: string
  readonly sampler?: string
  readonly ratio?: number
  readonly serviceName?: string
  readonly maxQueueSize?: number
}

/** When a migrated route's legacy side may be switched off (the status page's readiness verdict). */
export interface RetirementConfig {
  /** Least time at 100 % on the new backend (ms). */
  readonly after: number
  /** No request served by legacy on the route for this long (ms), overrides aside. */
  readonly legacyQuietFor: number
  /** Shadow parity over the time at 100 %, on routes that shadow. */
  readonly minParity: number
  /** The new backend's 5xx ratio may exceed legacy's last known one by at most this. */
  readonly maxErrorRatioIncrease: number
  /** The new backend's p99 over legacy's last known one. */
  readonly maxLatencyRatio: number
}

export interface TimelineConfig {
  /** How long after an event its impact is measured, and how far back the comparison looks (ms). */
  readonly impactDelay: number
  /** The events file is rotated past this size (bytes); one older file is kept. */
  readonly maxFileSize: number
  /** Shadow parity below this is a parity_low event (recovered at or above it). */
  readonly parityThreshold: number
}

export type Role = 'viewer' | 'operator' | 'admin'

/** When a route's legacy side is deprecated and goes away (epoch ms), and where to read about it. */
export interface RetireConfig {
  readonly deprecation: number | undefined
  readonly sunset: number | undefined
  readonly link: string | undefined
}

/** Days and hours, in a named time zone, when a ramp may move forward. */
export interface ChangeWindow {
  readonly days: ReadonlyArray<'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun'>
  /** Minutes after local midnight: from inclusive, to exclusive. */
  readonly from: number
  readonly to: number
  readonly timeZone: string
}

export interface OperatorConfig {
  readonly name: string
  readonly role: Role
  /** Environment variable holding the hex SHA-256 of the operator's token. */
  readonly tokenHashEnv: string
}

/** A webhook receiving timeline events. */
export interface NotifyTarget {
  readonly url: string
  /** Only these kinds; undefined: every kind. */
  readonly kinds: ReadonlySet<string> | undefined
  /** Environment variable holding the HMAC-SHA256 key of the signature header. */
  readonly secretEnv: string | undefined
  readonly timeout: number
  /** At most one delivery per event kind and route in this many ms (0: every event); the rest fold into the next. */
  readonly damping: number
}

/** Who drives the ramp plans: each proxy its own, or one `strangler-proxy ramp run` for a fleet. */
export interface RampsConfig {
  readonly driver: 'proxy' | 'fleet'
  /** The fleet driver's Prometheus (its HTTP API base URL). */
  readonly prometheus: string | undefined
  /** How often ramps are judged (ms). */
  readonly interval: number
  /** Least time a Prometheus or Unleash call may take before it counts as failed (ms); below the interval. */
  readonly timeout: number
  /** A ramp waiting this long without usable evidence is stalled (ms): StranglerRampStalled. */
  readonly stallAfter: number
  /** Alert name → what a firing alert does to the ramp of the route in its `route` label (POST /alerts). */
  readonly alerts: Readonly<Record<string, AlertAction>>
  /** Where the control plane finds replicas besides Prometheus's targets; undefined: Prometheus's alone. */
  readonly replicas: ReplicaDiscovery | undefined
}

/** A static list of admin host:port, or a DNS name resolved to every address with the admin port. */
export type ReplicaDiscovery =
  | { readonly static: readonly string[] }
  | { readonly dns: { readonly host: string, readonly port: number } }

export type AlertAction = 'pause' | 'stepBack' | 'abort'

/** How much of the evidence one client may be: per period, per route and backend. */
export interface EvidenceConfig {
  readonly period: number
  readonly perAddress: number
  readonly perUser: number
}
