/**
 * The raw shape (raw.ts) → Config: defaults from defaults.ts, units parsed, and the
 * checks the schema cannot express (backend references, duplicate names, URL
 * contents, patterns, CIDRs, cross-field rules), each reported with its position.
 */
import { dirname, resolve as resolvePath } from 'node:path'
import { createHash } from 'node:crypto'
import { isIP } from 'node:net'
import { METHODS } from 'node:http'
import type { Document, LineCounter, Node as YamlNode } from 'yaml'
import proxyAddr from 'proxy-addr'
import { parseDuration, parseSize } from './units.js'
import { normalizeIdentity } from './identity.js'
import { normalizeCoverage } from './coverage.js'
import { knownTimeZone } from './time-zone.js'
import { parsePathPattern, parseHostPattern } from './patterns.js'
import { DEFAULTS } from './defaults.js'
import type { Problems, Path } from './problems.js'
import type { RawConfig, RawGuard, RawRamp, RawRoute, RawSources } from './raw.js'
import type { BackendConfig, ClientLimits, CohortConfig, Config, FlagsConfig, GuardConfig, HttpCheck, QueryGate, RampConfig, RampsConfig, RetireConfig, RouteConfig, ValueSource } from './types.js'
import { templateProblem } from './promql-template.js'

/** Headers never compared by shadow traffic: their values would be kept in /parity samples. */
const CREDENTIAL_HEADERS = new Set(['set-cookie', 'cookie', 'authorization', 'proxy-authorization'])

// Only what Node's HTTP parser accepts can ever arrive to be matched.
const KNOWN_METHODS = new Set(METHODS)

export function normalize (raw: RawConfig, file: string, text: string, problems: Problems, doc: Document, lines: LineCounter): Config {
  const dur = (value: string | undefined, fallback: number): number => value === undefined ? fallback : (parseDuration(value) as number)
  const sz = (path: Path, value: string | number | undefined, fallback: number): number => {
    if (value === undefined) return fallback
    const n = parseSize(value)
    if (n === undefined) {
      problems.add(path, 'must be a size, e.g. 1048576, 512kb, 10mb')
      return fallback
    }
    return n
  }

  const backends = new Map<string, BackendConfig>()
  for (const [name, b] of Object.entries(raw.backends)) {
    const at = ['backends', name]
    let url: URL | undefined
    try {
      url = new URL(b.url)
    } catch {
      problems.add([...at, 'url'], `"${b.url}" is not a valid URL`)
    }
    if (url !== undefined) {
      if (url.protocol !== 'http:' && url.protocol !== 'https:') problems.add([...at, 'url'], `scheme must be http or https, got "${url.protocol.slice(0, -1)}"`)
      if (url.username !== '' || url.password !== '') problems.add([...at, 'url'], 'must not carry credentials; routes.yaml holds no secrets')
      if (url.search !== '' || url.hash !== '') problems.add([...at, 'url'], 'must not have a query or fragment')
    }
    if (b.timeout !== undefined && b.timeouts?.headers !== undefined) {
      problems.add([...at, 'timeout'], 'set either timeout or timeouts.headers, not both')
    }
    const basePath = url === undefined || url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '')
    backends.set(name, Object.freeze({
      name,
      origin: url?.origin ?? 'http://invalid',
      basePath,
      host: url?.host ?? '',
      timeouts: Object.freeze({
        connect: dur(b.timeouts?.connect, DEFAULTS.timeouts.connect),
        headers: dur(b.timeouts?.headers ?? b.timeout, DEFAULTS.timeouts.headers),
        bodyIdle: dur(b.timeouts?.bodyIdle, DEFAULTS.timeouts.bodyIdle)
      }),
      pool: Object.freeze({
        connections: b.pool?.connections ?? DEFAULTS.pool.connections,
        keepAliveTimeout: dur(b.pool?.keepAliveTimeout, DEFAULTS.pool.keepAliveTimeout)
      }),
      preserveHost: b.preserveHost ?? DEFAULTS.backend.preserveHost,
      legacy: b.legacy ?? DEFAULTS.backend.legacy
    }))
  }

  const c = raw.client ?? {}
  const trustedProxies = c.trustedProxies ?? []
  trustedProxies.forEach((cidr, i) => {
    try {
      proxyAddr.compile(cidr)
      if (!/^(loopback|linklocal|uniquelocal)$/.test(cidr) && isIP(cidr.split('/')[0] as string) === 0) throw new Error('not an address')
    } catch {
      problems.add(['client', 'trustedProxies', i], `"${cidr}" is not an IP address, a CIDR range, or one of loopback, linklocal, uniquelocal`)
    }
  })
  const client: ClientLimits = Object.freeze({
    headersTimeout: dur(c.headersTimeout, DEFAULTS.client.headersTimeout),
    requestTimeout: dur(c.requestTimeout, DEFAULTS.client.requestTimeout),
    keepAliveTimeout: dur(c.keepAliveTimeout, DEFAULTS.client.keepAliveTimeout),
    maxHeaderSize: sz(['client', 'maxHeaderSize'], c.maxHeaderSize, DEFAULTS.client.maxHeaderSize),
    maxUrlLength: sz(['client', 'maxUrlLength'], c.maxUrlLength, DEFAULTS.client.maxUrlLength),
    maxBodySize: sz(['client', 'maxBodySize'], c.maxBodySize, DEFAULTS.client.maxBodySize),
    maxHeaderCount: c.maxHeaderCount ?? DEFAULTS.client.maxHeaderCount,
    sendTimeout: dur(c.sendTimeout, DEFAULTS.client.sendTimeout),
    trustedProxies: Object.freeze([...trustedProxies]),
    realIpHeader: c.realIpHeader === false ? undefined : (c.realIpHeader ?? DEFAULTS.client.realIpHeader).toLowerCase()
  })
  if (client.requestTimeout !== 0 && client.headersTimeout > client.requestTimeout) {
    problems.add(['client', 'headersTimeout'], 'must not be longer than client.requestTimeout')
  }

  const names = new Map<string, number>()
  const routes = raw.routes.map((r, index): RouteConfig => {
    const at = ['routes', index]
    const first = names.get(r.name)
    if (first !== undefined) problems.add([...at, 'name'], `duplicate route name "${r.name}" (first used by routes[${first}])`)
    else names.set(r.name, index)
    if (!backends.has(r.backend)) problems.add([...at, 'backend'], `unknown backend "${r.backend}"; defined: ${[...backends.keys()].join(', ')}`)
    const pathError = parsePathPattern(r.match.path).error
    if (pathError !== undefined) problems.add([...at, 'match', 'path'], pathError)
    if (r.match.host !== undefined) {
      const hostError = parseHostPattern(r.match.host).error
      if (hostError !== undefined) problems.add([...at, 'match', 'host'], hostError)
    }
    const methods = r.match.methods?.map((m) => m.toUpperCase())
    methods?.forEach((m, i) => {
      if (!KNOWN_METHODS.has(m)) problems.add([...at, 'match', 'methods', i], `unknown HTTP method "${m}"`)
    })
    r.shadow?.methods?.forEach((m, i) => {
      if (!KNOWN_METHODS.has(m.toUpperCase())) problems.add([...at, 'shadow', 'methods', i], `unknown HTTP method "${m}"`)
    })
    if (r.rewrite?.stripPrefix !== undefined && !pathCoveredBy(r.match.path, r.rewrite.stripPrefix)) {
      problems.add([...at, 'rewrite', 'stripPrefix'], `"${r.rewrite.stripPrefix}" is not a prefix of every path matched by "${r.match.path}"`)
    }
    r.shadow?.compare?.headers?.forEach((h, i) => {
      // Credentials are never compared: their values would be kept in /parity samples.
      if (CREDENTIAL_HEADERS.has(h.toLowerCase())) problems.add([...at, 'shadow', 'compare', 'headers', i], `"${h}" carries credentials and cannot be compared`)
    })
    if (r.shadow !== undefined && !backends.has(r.shadow.backend)) problems.add([...at, 'shadow', 'backend'], `unknown backend "${r.shadow.backend}"; defined: ${[...backends.keys()].join(', ')}`)
    if (r.decline !== undefined && r.flag === undefined) problems.add([...at, 'decline'], 'needs a flag: only a new backend declines, to the route\'s baseline')
    if (r.flag !== undefined) {
      if (raw.flags === undefined) problems.add([...at, 'flag'], 'names a flag but no flags: source is configured')
      if (r.flag.backend === undefined && r.flag.variants === undefined) problems.add([...at, 'flag'], 'needs backend (used when the flag is on) or variants (variant name → backend)')
      if (r.flag.backend !== undefined && !backends.has(r.flag.backend)) problems.add([...at, 'flag', 'backend'], `unknown backend "${r.flag.backend}"; defined: ${[...backends.keys()].join(', ')}`)
      for (const [variant, b] of Object.entries(r.flag.variants ?? {})) {
        if (!backends.has(b)) problems.add([...at, 'flag', 'variants', variant], `unknown backend "${b}"; defined: ${[...backends.keys()].join(', ')}`)
      }
    }
    const headers = r.match.headers === undefined
      ? undefined
      : Object.freeze(Object.fromEntries(Object.entries(r.match.headers).map(([k, v]) => [k.toLowerCase(), v])))
    const keyNode = doc.getIn(['routes', index], true) as YamlNode | undefined
    return Object.freeze({
      name: r.name,
      index,
      line: lines.linePos(keyNode?.range?.[0] ?? 0).line,
      match: Object.freeze({
        path: r.match.path,
        ...(methods === undefined ? {} : { methods: Object.freeze(methods) }),
        ...(r.match.host === undefined ? {} : { host: r.match.host.toLowerCase() }),
        ...(headers === undefined ? {} : { headers })
      }),
      backend: r.backend,
      ...(r.rewrite === undefined ? {} : { rewrite: Object.freeze({ ...r.rewrite }) }),
      maxBodySize: sz([...at, 'maxBodySize'], r.maxBodySize, client.maxBodySize),
      websocket: r.websocket ?? DEFAULTS.route.websocket,
      failover: r.failover ?? DEFAULTS.route.failover,
      ...(r.retire === undefined ? {} : { retire: retireConfig(r.retire, [...at, 'retire'], problems) }),
      ...(r.decline === undefined ? {} : { decline: Object.freeze({ status: new Set(r.decline.status ?? [404]), header: (r.decline.header ?? 'x-strangler-decline').toLowerCase(), maxBodySize: sz([...at, 'decline', 'maxBodySize'], r.decline.maxBodySize, 1_048_576) }) }),
      shadow: r.shadow === undefined
        ? undefined
        : Object.freeze({
          backend: r.shadow.backend,
          sampleRate: r.shadow.sampleRate ?? DEFAULTS.shadow.sampleRate,
          methods: Object.freeze((r.shadow.methods ?? DEFAULTS.shadow.methods).map((m) => m.toUpperCase())),
          maxBodySize: sz([...at, 'shadow', 'maxBodySize'], r.shadow.maxBodySize, DEFAULTS.shadow.maxBodySize),
          maxConcurrent: r.shadow.maxConcurrent ?? DEFAULTS.shadow.maxConcurrent,
          timeout: dur(r.shadow.timeout, DEFAULTS.shadow.timeout),
          learnNoise: r.shadow.learnNoise ?? DEFAULTS.shadow.learnNoise,
          recordValues: r.shadow.recordValues ?? DEFAULTS.shadow.recordValues,
          compare: Object.freeze({
            headers: Object.freeze((r.shadow.compare?.headers ?? DEFAULTS.shadow.compareHeaders).map((h) => h.toLowerCase())),
            ignore: new Set(r.shadow.compare?.ignore ?? []),
            unordered: new Set(r.shadow.compare?.unorderedArrays ?? []),
            text: r.shadow.compare?.text ?? DEFAULTS.shadow.text,
            errorBodies: r.shadow.compare?.errorBodies ?? false
          })
        }),
      guard: r.flag === undefined || r.guard === false || raw.guard === false ? undefined : guardConfig(raw.guard, r.guard, dur),
      flag: r.flag === undefined
        ? undefined
        : Object.freeze({ name: r.flag.name, backend: r.flag.backend, variants: r.flag.variants === undefined ? undefined : Object.freeze({ ...r.flag.variants }) }),
      ramp: r.ramp === undefined ? undefined : rampConfig(withGateSet(r.ramp, raw.gateSets, [...at, 'ramp'], problems), r.flag?.backend !== undefined, [...at, 'ramp'], problems, dur)
    })
  })

  const baseDir = dirname(resolvePath(file))
  const flags = normalizeFlags(raw.flags, baseDir, dur, problems)
  routes.forEach((r, i) => {
    if (r.guard?.disableFlag === true && flags?.unleash === undefined) {
      problems.add(['routes', i, 'guard', 'disableFlag'], 'needs flags.unleash: the guard switches the flag off in Unleash')
    }
  })
  const cohort = normalizeCohort(raw.cohort, baseDir, dur, problems)
  if (raw.identity === undefined && [cohort.userId, cohort.sessionId, ...Object.values(cohort.properties)].some((list) => list.some((s) => 'identity' in s))) {
    problems.add(['cohort'], 'an identity: value source needs identity: (the identity bridge, docs/identity.md)')
  }

  return Object.freeze({
    file,
    version: createHash('sha256').update(text).digest('hex').slice(0, 12),
    listen: Object.freeze({ ...DEFAULTS.listen, ...raw.listen }),
    admin: Object.freeze({ ...DEFAULTS.admin, ...raw.admin, allowedHosts: Object.freeze((raw.admin?.allowedHosts ?? []).map((h) => h.toLowerCase())), operators: Object.freeze((raw.admin?.operators ?? []).map((o) => Object.freeze({ ...o }))) }),
    client,
    shutdown: Object.freeze({ timeout: dur(raw.shutdown?.timeout, DEFAULTS.shutdown.timeout) }),
    backends,
    routes: Object.freeze(routes),
    flags,
    cohort,
    override: Object.freeze({ ...DEFAULTS.override, ...raw.override }),
    ramps: normalizeRamps(raw, routes, dur, problems),
    evidence: Object.freeze({
      period: dur(raw.evidence?.period, DEFAULTS.evidence.period),
      perAddress: raw.evidence?.perAddress ?? DEFAULTS.evidence.perAddress,
      perUser: raw.evidence?.perUser ?? DEFAULTS.evidence.perUser
    }),
    tracing: raw.tracing === undefined ? undefined : Object.freeze({ ...raw.tracing, ...(raw.tracing.redactQuery === undefined ? {} : { redactQuery: Object.freeze([...raw.tracing.redactQuery]) }) }),
    retirement: Object.freeze({
      after: dur(raw.retirement?.after, DEFAULTS.retirement.after),
      legacyQuietFor: dur(raw.retirement?.legacyQuietFor, DEFAULTS.retirement.legacyQuietFor),
      minParity: raw.retirement?.minParity ?? DEFAULTS.retirement.minParity,
      maxErrorRatioIncrease: raw.retirement?.maxErrorRatioIncrease ?? DEFAULTS.retirement.maxErrorRatioIncrease,
      maxLatencyRatio: raw.retirement?.maxLatencyRatio ?? DEFAULTS.retirement.maxLatencyRatio
    }),
    inventory: Object.freeze({ maxTemplates: raw.inventory?.maxTemplates ?? DEFAULTS.inventory.maxTemplates }),
    coverage: raw.coverage === undefined ? undefined : normalizeCoverage(raw.coverage, backends, baseDir, dur, problems),
    timeline: Object.freeze({
      impactDelay: dur(raw.timeline?.impactDelay, DEFAULTS.timeline.impactDelay),
      maxFileSize: sz(['timeline', 'maxFileSize'], raw.timeline?.maxFileSize, DEFAULTS.timeline.maxFileSize),
      parityThreshold: raw.timeline?.parityThreshold ?? DEFAULTS.timeline.parityThreshold
    }),
    identity: raw.identity === undefined ? undefined : normalizeIdentity(raw.identity, backends, baseDir, dur, sz, problems),
    notify: Object.freeze((raw.notify ?? []).map((n, i) => {
      const url = URL.canParse(n.url) ? new URL(n.url) : undefined
      if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) problems.add(['notify', i, 'url'], `"${n.url}" is not an http(s) URL`)
      return Object.freeze({ url: n.url, kinds: n.kinds === undefined ? undefined : new Set(n.kinds), secretEnv: n.secretEnv, timeout: dur(n.timeout, DEFAULTS.notify.timeout), damping: dur(n.damping, DEFAULTS.notify.damping) })
    }))
  })
}

type Dur = (value: string | undefined, fallback: number) => number

function httpCheck (c: NonNullable<NonNullable<RawRamp['gates']>['checks']>[number], at: Path, problems: Problems, dur: Dur): HttpCheck {
  const url = URL.canParse(c.url) ? new URL(c.url) : undefined
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) problems.add([...at, 'url'], `"${c.url}" is not an http(s) URL`)
  for (const path of Object.keys(c.expect?.json ?? {})) {
    if (!/^\$(\.[A-Za-z_][\w-]*|\[\d+\])*$/.test(path)) problems.add([...at, 'expect', 'json', path], 'a path is $ followed by .field and [index] steps, as $.order.lines[0].sku')
  }
  const status = c.expect?.status
  return Object.freeze({
    name: c.name,
    url: c.url,
    method: (c.method ?? 'GET').toUpperCase(),
    headers: Object.freeze({ ...c.headers }),
    timeout: dur(c.timeout, 5_000),
    expect: Object.freeze({ status: Object.freeze(status === undefined ? [] : Array.isArray(status) ? [...status] : [status]), bodyContains: c.expect?.bodyContains, json: Object.freeze({ ...c.expect?.json }) }),
    as: c.as,
    when: c.when ?? 'after'
  })
}

function queryGate (q: NonNullable<NonNullable<RawRamp['gates']>['queries']>[number], at: Path, problems: Problems, dur: Dur): QueryGate {
  const problem = templateProblem(q.query)
  if (problem !== undefined) problems.add([...at, 'query'], problem)
  if (q.max === undefined && q.min === undefined) problems.add(at, 'name max, min or both: the limits the value must stay within')
  if (q.max !== undefined && q.min !== undefined && q.min > q.max) problems.add([...at, 'min'], `is above max (${q.max})`)
  return Object.freeze({ name: q.name, query: q.query, compare: q.compare ?? 'baseline', max: q.max, min: q.min, window: q.window === undefined ? undefined : dur(q.window, 0) })
}

function normalizeRamps (raw: RawConfig, routes: readonly RouteConfig[], dur: Dur, problems: Problems): RampsConfig {
  const r = raw.ramps
  const driver = r?.driver ?? DEFAULTS.ramps.driver
  if (r?.prometheus !== undefined) {
    const url = URL.canParse(r.prometheus) ? new URL(r.prometheus) : undefined
    if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) problems.add(['ramps', 'prometheus'], `"${r.prometheus}" is not an http(s) URL`)
  }
  routes.forEach((x, i) => {
    if ((x.ramp?.gates.queries.length ?? 0) > 0 && r?.prometheus === undefined) problems.add(['routes', i, 'ramp', 'gates', 'queries'], 'PromQL gates need ramps.prometheus: the Prometheus that scrapes the proxy and the backends')
  })
  if (driver === 'fleet' && routes.some((x) => x.ramp !== undefined)) {
    if (raw.flags?.unleash === undefined) problems.add(['ramps', 'driver'], 'fleet needs flags.unleash: the fleet driver writes each step into Unleash, where every replica reads it')
    if (r?.prometheus === undefined) problems.add(['ramps', 'driver'], 'fleet needs ramps.prometheus: the fleet driver reads the gates from the sums over all replicas')
  }
  const interval = dur(r?.interval, DEFAULTS.ramps.interval)
  if (interval < 100) problems.add(['ramps', 'interval'], 'must be at least 100ms')
  // Calls end before the next pass is due, so passes never pile up behind a hung peer.
  const timeout = dur(r?.timeout, Math.min(5_000, Math.max(100, Math.floor(interval * 0.8))))
  if (r?.timeout !== undefined && timeout >= interval) problems.add(['ramps', 'timeout'], `must be below ramps.interval (${interval} ms): a pass must end before the next is due`)
  return Object.freeze({ driver, prometheus: r?.prometheus, interval, timeout, stallAfter: dur(r?.stallAfter, DEFAULTS.ramps.stallAfter), alerts: Object.freeze({ ...r?.alerts }) })
}

/** A plan's gates over the named set's (gateSets): its own keys win; queries and checks add to the set's. */
function withGateSet (r: RawRamp, sets: RawConfig['gateSets'], at: Path, problems: Problems): RawRamp {
  if (r.gateSet === undefined) return r
  const set = sets?.[r.gateSet]
  if (set === undefined) {
    problems.add([...at, 'gateSet'], `unknown gate set "${r.gateSet}"; gateSets defines: ${Object.keys(sets ?? {}).join(', ') || 'none'}`)
    return r
  }
  return { ...r, gates: { ...set, ...r.gates, queries: [...(set.queries ?? []), ...(r.gates?.queries ?? [])], checks: [...(set.checks ?? []), ...(r.gates?.checks ?? [])] } }
}

function rampConfig (r: RawRamp, hasFlagBackend: boolean, at: Path, problems: Problems, dur: Dur): RampConfig {
  const d = DEFAULTS.ramp
  // A ramp moves one rollout percentage: variants split by weight, not by a rollout.
  if (!hasFlagBackend) problems.add(at, 'needs a route flag with backend: (a ramp moves the rollout of the flag that sends users to that backend)')
  r.steps.forEach((s, i) => {
    if (i > 0 && s <= (r.steps[i - 1] as number)) problems.add([...at, 'steps', i], `${s} is not above the step before it (${r.steps[i - 1] as number}); steps climb`)
  })
  const approvals = (r.approve ?? []).map((a) => typeof a === 'number' ? { step: a, approvers: 1 } : { step: a.step, approvers: a.approvers ?? 1 })
  approvals.forEach((a, i) => {
    if (!r.steps.includes(a.step)) problems.add([...at, 'approve', i], `${a.step} is not one of the steps (${r.steps.join(', ')})`)
  })
  const hold = dur(r.hold, d.hold)
  if (hold < 1000) problems.add([...at, 'hold'], 'must be at least 1s')
  const minutes = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3))
  const windows = (r.windows ?? []).map((w, i) => {
    if (!knownTimeZone(w.timeZone)) problems.add([...at, 'windows', i, 'timeZone'], `"${w.timeZone}" is not a time zone this runtime knows (an IANA name such as Europe/Berlin)`)
    if (minutes(w.to) <= minutes(w.from)) problems.add([...at, 'windows', i, 'to'], `${w.to} is not after ${w.from}; a window ends the day it starts`)
    return Object.freeze({ days: Object.freeze([...new Set(w.days)]), from: minutes(w.from), to: minutes(w.to), timeZone: w.timeZone })
  })
  return Object.freeze({
    steps: Object.freeze([...r.steps]),
    hold,
    minRequests: r.minRequests ?? d.minRequests,
    minComparisons: r.minComparisons ?? d.minComparisons,
    minUsers: r.minUsers ?? d.minUsers,
    minAddresses: r.minAddresses ?? d.minAddresses,
    minFailingClients: r.minFailingClients ?? d.minFailingClients,
    gates: Object.freeze({
      maxErrorRatioIncrease: r.gates?.maxErrorRatioIncrease ?? d.maxErrorRatioIncrease,
      maxClientErrorRatioIncrease: r.gates?.maxClientErrorRatioIncrease ?? d.maxClientErrorRatioIncrease,
      maxLatencyRatio: r.gates?.maxLatencyRatio ?? d.maxLatencyRatio,
      minLatencyIncrease: dur(r.gates?.minLatencyIncrease, d.minLatencyIncrease),
      minParity: r.gates?.minParity ?? d.minParity,
      queries: Object.freeze((r.gates?.queries ?? []).map((q, i) => queryGate(q, [...at, 'gates', 'queries', i], problems, dur))),
      checks: Object.freeze((r.gates?.checks ?? []).map((c, i) => httpCheck(c, [...at, 'gates', 'checks', i], problems, dur)))
    }),
    approve: new Set(approvals.map((a) => a.step)),
    approvers: new Map(approvals.filter((a) => a.approvers > 1).map((a) => [a.step, a.approvers])),
    windows: Object.freeze(windows),
    onFail: r.onFail ?? d.onFail,
    maxFailures: r.maxFailures ?? d.maxFailures,
    dryRun: r.dryRun ?? false
  })
}

/** Defaults, then the top-level guard:, then the route's own guard:. */
function guardConfig (top: RawGuard | undefined, route: RawGuard | undefined, dur: Dur): GuardConfig {
  const d = DEFAULTS.guard
  const g = { ...top, ...route }
  return Object.freeze({
    window: dur(g.window, d.window),
    minRequests: g.minRequests ?? d.minRequests,
    maxErrorRatioIncrease: g.maxErrorRatioIncrease ?? d.maxErrorRatioIncrease,
    maxLatencyRatio: g.maxLatencyRatio ?? d.maxLatencyRatio,
    minLatencyIncrease: dur(g.minLatencyIncrease, d.minLatencyIncrease),
    cooldown: dur(g.cooldown, d.cooldown),
    probeFraction: g.probeFraction ?? d.probeFraction,
    probeRequests: g.probeRequests ?? d.probeRequests,
    minClients: g.minClients ?? d.minClients,
    maxClientShare: g.maxClientShare ?? d.maxClientShare,
    disableFlag: g.disableFlag ?? d.disableFlag
  })
}

function normalizeFlags (raw: RawConfig['flags'], baseDir: string, dur: Dur, problems: Problems): FlagsConfig | undefined {
  if (raw === undefined) return undefined
  const u = raw.unleash
  if (u !== undefined) {
    // unleash-client retries a fetch twice with at least 1 s between tries; a
    // shorter timeout makes its HTTP layer refuse every request.
    if (u.timeout !== undefined && dur(u.timeout, 0) < 1000) problems.add(['flags', 'unleash', 'timeout'], 'must be at least 1s')
    if (u.metrics?.interval !== undefined && dur(u.metrics.interval, 0) < 1000) problems.add(['flags', 'unleash', 'metrics', 'interval'], 'must be at least 1s')
    try {
      const url = new URL(u.url)
      if (url.protocol !== 'http:' && url.protocol !== 'https:') problems.add(['flags', 'unleash', 'url'], 'scheme must be http or https')
      if (url.username !== '' || url.password !== '') problems.add(['flags', 'unleash', 'url'], 'must not carry credentials; the token comes from UNLEASH_API_TOKEN')
    } catch {
      problems.add(['flags', 'unleash', 'url'], `"${u.url}" is not a valid URL`)
    }
  }
  return Object.freeze({
    file: raw.file === undefined ? undefined : resolvePath(baseDir, raw.file),
    unleash: u === undefined
      ? undefined
      : Object.freeze({
        url: u.url,
        appName: u.appName ?? DEFAULTS.unleash.appName,
        environment: u.environment ?? DEFAULTS.unleash.environment,
        projectName: u.projectName,
        refreshInterval: dur(u.refreshInterval, DEFAULTS.unleash.refreshInterval),
        timeout: dur(u.timeout, DEFAULTS.unleash.timeout),
        backupDir: u.backupDir === undefined ? undefined : resolvePath(baseDir, u.backupDir),
        metrics: Object.freeze({ enabled: u.metrics?.enabled ?? DEFAULTS.unleash.metrics.enabled, interval: dur(u.metrics?.interval, DEFAULTS.unleash.metrics.interval) })
      })
  })
}

function sourcesOf (v: RawSources | undefined): readonly ValueSource[] {
  return Object.freeze(v === undefined ? [] : (Array.isArray(v) ? v : [v]).map((s) => Object.freeze({ ...s })))
}

function normalizeCohort (raw: RawConfig['cohort'], baseDir: string, dur: Dur, problems: Problems): CohortConfig {
  const c = raw ?? {}
  const userId = sourcesOf(c.userId)
  const sessionId = sourcesOf(c.sessionId)
  const properties = Object.freeze(Object.fromEntries(Object.entries(c.properties ?? {}).map(([k, v]) => [k, sourcesOf(v)])))
  const usesJwt = [userId, sessionId, ...Object.values(properties)].some((list) => list.some((s) => 'jwt' in s))
  const j = c.jwt
  if (usesJwt && j === undefined) problems.add(['cohort'], 'a jwt: value source needs cohort.jwt with secretEnv or publicKeyFile to verify tokens')
  // Checked whether or not a source uses it: the proxy builds the verifier it describes.
  if (j !== undefined && j.secretEnv === undefined && j.publicKeyFile === undefined) problems.add(['cohort', 'jwt'], 'needs secretEnv or publicKeyFile to verify tokens')
  if (j?.secretEnv !== undefined && j.publicKeyFile !== undefined) problems.add(['cohort', 'jwt'], 'set either secretEnv or publicKeyFile, not both')
  const sc = c.sessionCookie
  return Object.freeze({
    userId,
    sessionId,
    properties,
    jwt: j === undefined
      ? undefined
      : Object.freeze({
        header: j.header ?? DEFAULTS.jwt.header,
        cookie: j.cookie,
        secretEnv: j.secretEnv,
        publicKeyFile: j.publicKeyFile === undefined ? undefined : resolvePath(baseDir, j.publicKeyFile),
        algorithms: Object.freeze(j.algorithms ?? (j.publicKeyFile === undefined ? DEFAULTS.jwt.hmacAlgorithms : DEFAULTS.jwt.keyAlgorithms)),
        issuer: j.issuer,
        audience: j.audience,
        requireExp: j.requireExp ?? DEFAULTS.jwt.requireExp
      }),
    sessionCookie: sc === false
      ? undefined
      : Object.freeze({
        name: sc?.name ?? DEFAULTS.sessionCookie.name,
        maxAge: dur(sc?.maxAge, DEFAULTS.sessionCookie.maxAge),
        secure: sc?.secure ?? DEFAULTS.sessionCookie.secure,
        sameSite: sc?.sameSite ?? DEFAULTS.sessionCookie.sameSite
      })
  })
}

/** True when every path the pattern can match starts with `prefix` on a segment boundary. */
function pathCoveredBy (pattern: string, prefix: string): boolean {
  const literal = pattern.replace(/\/?\*$/, '').split('/:')[0] as string
  const p = prefix.replace(/\/$/, '')
  return literal === p || literal.startsWith(p + '/')
}

/** routes[].retire: dates as ISO 8601, the sunset not before the deprecation, the link an http(s) URL. */
function retireConfig (r: NonNullable<RawRoute['retire']>, at: Path, problems: Problems): RetireConfig {
  const date = (key: 'deprecation' | 'sunset'): number | undefined => {
    const text = r[key]
    if (text === undefined) return undefined
    const ms = /^\d{4}-\d\d-\d\d(T.*)?$/.test(text) ? Date.parse(text) : NaN
    if (Number.isNaN(ms)) problems.add([...at, key], `"${text}" is not a date such as 2027-03-31 or 2027-03-31T00:00:00Z`)
    return Number.isNaN(ms) ? undefined : ms
  }
  const deprecation = date('deprecation')
  const sunset = date('sunset')
  if (deprecation !== undefined && sunset !== undefined && sunset < deprecation) problems.add([...at, 'sunset'], 'is before the deprecation')
  const url = r.link === undefined || !URL.canParse(r.link) ? undefined : new URL(r.link)
  if (r.link !== undefined && (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:'))) problems.add([...at, 'link'], `"${r.link}" is not an http(s) URL`)
  return Object.freeze({ deprecation, sunset, link: r.link })
}
