#!/usr/bin/env node
/**
 * strangler-proxy start | validate | explain.
 * The only file that reads argv and the environment, handles signals, or exits.
 */
import { parseArgs } from 'node:util'
import { version } from './version.js'
import { loadConfigFile, type Config } from './config/config.js'
import { ConfigError, Errors, ProxyError, formatProblem } from './errors.js'
import { createLogger } from './observe/log.js'
import type { Runtime } from './lifecycle/runtime.js'
import { MIN_SECRET_BYTES } from './config/secrets.js'
import { overrideToken, MAX_LIFETIME_SECONDS } from './decision/override.js'
import { parseDuration } from './config/units.js'
import { callAdmin, coverageText, inventoryText, problemText, rampTable, statusText, timelineRows, type AdminTarget } from './admin/client.js'
import { RAMP_ACTIONS } from './ramp/machine.js'
import { COMMAND_USAGE, USAGE } from './cli-usage.js'

// Each command loads what it needs when it runs, so `validate`, `status` or `--version`
// never pay for loading the proxy, OpenTelemetry and the Unleash client.

const HELP = { help: { type: 'boolean', short: 'h' } } as const
/** The control plane's options: `control` and `ramp run`. */
const CONTROL_OPTIONS = { config: { type: 'string', short: 'c' }, listen: { type: 'string' }, prometheus: { type: 'string' }, 'insecure-admin': { type: 'boolean' } } as const

/** True (after printing the command's usage) when --help was asked for. */
function helpAsked (command: string, values: { help?: boolean | undefined }): boolean {
  if (values.help !== true) return false
  process.stdout.write(COMMAND_USAGE[command] ?? USAGE)
  return true
}

function usageError (message: string): never {
  process.stderr.write(`${Errors.USAGE.code}: ${message}\n\n${USAGE}`)
  process.exit(2)
}

/** Node majors with security support, which production should run (the Docker image ships the newest). */
const SUPPORTED_NODE = [22, 24]

function warnOnUnsupportedNode (logger: { warn: (obj: object, msg: string) => void }): void {
  const major = Number(process.versions.node.split('.')[0])
  if (SUPPORTED_NODE.includes(major)) return
  logger.warn({ node: process.versions.node, supported: SUPPORTED_NODE }, `Node ${major} gets no security fixes${major === 20 ? ' since April 2026' : ''}; run production on Node 22 or 24`)
}

function configPath (flag: string | undefined): string {
  return flag ?? process.env.STRANGLER_CONFIG ?? 'routes.yaml'
}

function envPort (name: string): number | undefined {
  const v = process.env[name]
  if (v === undefined || v === '') return undefined
  const n = Number(v)
  if (!Number.isInteger(n) || n < 0 || n > 65535) usageError(`${name}=${v} is not a port number`)
  return n
}

/** Prints config problems one per line as file:line:column: field: message. */
function reportConfigFailure (err: unknown): never {
  if (err instanceof ConfigError) {
    for (const p of err.problems) process.stderr.write(formatProblem(p) + '\n')
    process.stderr.write(`${err.code}: ${err.problems.length} problem(s)\n`)
    process.exit(1)
  }
  if (err instanceof ProxyError) {
    process.stderr.write(`${err.message}\n`)
    process.exit(1)
  }
  throw err
}

async function cmdStart (args: string[], role: 'single' | 'worker' = 'single'): Promise<void> {
  const { values } = parseArgs({ args, options: { ...HELP, config: { type: 'string', short: 'c' }, workers: { type: 'string', short: 'w' }, 'insecure-admin': { type: 'boolean' } }, strict: true })
  if (helpAsked('start', values)) return
  const workers = Number(values.workers ?? process.env.STRANGLER_WORKERS ?? 1)
  if (!Number.isInteger(workers) || workers < 1 || workers > 64) usageError(`--workers ${String(values.workers)} is not a number of workers (1–64)`)
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'info', pretty: process.env.LOG_FORMAT === 'pretty' })
  warnOnUnsupportedNode(logger)
  const port = envPort('PORT')
  const adminPort = envPort('ADMIN_PORT')
  const token = process.env.STRANGLER_ADMIN_TOKEN
  // An empty token must not quietly mean "no authentication".
  if (token === '') usageError('STRANGLER_ADMIN_TOKEN is set but empty; set a token, or unset the variable to run the admin port without one')
  const options = {
    configFile: configPath(values.config),
    logger,
    ...(port === undefined ? {} : { port }),
    ...(adminPort === undefined ? {} : { adminPort }),
    ...(token === undefined ? {} : { adminToken: token }),
    insecureAdmin: values['insecure-admin'] === true,
    env: process.env
  }
  let instance: { reload: (trigger: string) => unknown, shutdown: (reason: string) => Promise<void> }
  try {
    const { runPrimary, runWorker } = await import('./lifecycle/cluster.js')
    const { startInstance } = await import('./lifecycle/instance.js')
    instance = role === 'worker'
      ? await runWorker(options)
      : workers > 1 ? await runPrimary({ ...options, workers }) : await startInstance(options)
  } catch (err) {
    if (err instanceof ConfigError || err instanceof ProxyError) reportConfigFailure(err)
    logger.fatal({ err }, 'could not start')
    process.exit(1)
  }
  const running = instance
  process.on('SIGHUP', () => { running.reload('SIGHUP') })
  let signals = 0
  const stop = (signal: string): void => {
    if (++signals > 1) {
      logger.warn({ signal }, 'second signal: exiting without draining')
      process.exit(1)
    }
    running.shutdown(signal).then(() => process.exit(0), (err: unknown) => {
      logger.fatal({ err }, 'shutdown failed')
      process.exit(1)
    })
  }
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('SIGINT', () => stop('SIGINT'))
}

async function cmdValidate (args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, strict: true, options: HELP })
  if (helpAsked('validate', values)) return
  if (positionals.length > 1) usageError('validate takes one file')
  const file = configPath(positionals[0])
  let config: Config
  try {
    config = loadConfigFile(file)
  } catch (err) {
    reportConfigFailure(err)
  }
  // Warnings do not fail validation: the proxy runs such a file; a person should look.
  const { coverageWarnings } = await import('./coverage/warnings.js')
  for (const warning of await coverageWarnings(config)) process.stderr.write(`${file}: warning: ${warning}\n`)
  process.stdout.write(`${file}: OK (${config.routes.length} routes, ${config.backends.size} backends, version ${config.version})\n`)
}

/** The running proxy's admin address: --admin, else the config's admin: (ADMIN_PORT overrides its port). */
function adminTarget (values: { admin?: string | undefined, config?: string | undefined }): AdminTarget {
  // An operator's own token names them in what they do; the shared admin token is the fallback.
  const token = process.env.STRANGLER_TOKEN || process.env.STRANGLER_ADMIN_TOKEN || undefined
  if (values.admin !== undefined) return { url: values.admin, token }
  let admin: { host: string, port: number }
  try {
    admin = loadConfigFile(configPath(values.config)).admin
  } catch (err) {
    reportConfigFailure(err)
  }
  const host = admin.host === '0.0.0.0' ? '127.0.0.1' : admin.host === '::' ? '[::1]' : admin.host.includes(':') ? `[${admin.host}]` : admin.host
  return { url: `http://${host}:${envPort('ADMIN_PORT') ?? admin.port}`, token }
}

async function cmdRamp (args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, strict: true, options: { ...HELP, ...CONTROL_OPTIONS, admin: { type: 'string' }, reason: { type: 'string' }, until: { type: 'string' } } })
  if (helpAsked('ramp', values)) return
  const [action, route, ...extra] = positionals
  if (extra.length > 0) usageError('ramp takes one route')
  if (action === 'run') return await cmdRampRun(values)
  const target = adminTarget(values)
  if (action === 'status') {
    const answer = await callAdmin(target, 'GET', '/ramp')
    if (answer.status !== 200) fail(problemText(answer))
    const routes = (answer.body as { routes: Parameters<typeof rampTable>[0] }).routes.filter((r) => route === undefined || r.route === route)
    if (route !== undefined && routes.length === 0) fail(`route "${route}" has no ramp plan`)
    process.stdout.write(rampTable(routes))
    return
  }
  if (action === 'freeze' || action === 'unfreeze') return await cmdFreeze(target, action, route, values)
  if (action === undefined || !(RAMP_ACTIONS as readonly string[]).includes(action)) usageError(`ramp needs status, freeze, unfreeze or one of ${RAMP_ACTIONS.join(', ')}`)
  if (route === undefined) usageError(`ramp ${action} needs ROUTE`)
  const answer = await callAdmin(target, 'POST', `/ramp/${encodeURIComponent(route)}/${action}`, values.reason === undefined ? {} : { reason: values.reason })
  if (answer.status !== 200) fail(problemText(answer))
  process.stdout.write(rampTable([answer.body as Parameters<typeof rampTable>[0][number]]))
}

/** ramp freeze [ROUTE] --until T, ramp unfreeze [ROUTE]: every route without ROUTE. */
async function cmdFreeze (target: AdminTarget, action: 'freeze' | 'unfreeze', route: string | undefined, values: { until?: string | undefined, reason?: string | undefined }): Promise<void> {
  if (action === 'freeze' && values.until === undefined) usageError('ramp freeze needs --until (a time such as 2026-12-27T08:00:00Z, or a duration such as 48h)')
  const body = { ...(route === undefined ? {} : { route }), ...(values.until === undefined ? {} : { until: values.until }), ...(values.reason === undefined ? {} : { reason: values.reason }) }
  const answer = await callAdmin(target, 'POST', `/ramp/${action}`, body)
  if (answer.status !== 200) fail(problemText(answer))
  const a = answer.body as { freeze?: { until: string, by: string }, routes: Parameters<typeof rampTable>[0] }
  process.stdout.write((a.freeze === undefined ? `${route ?? 'every route'} unfrozen\n` : `${route ?? 'every route'} frozen until ${a.freeze.until} by ${a.freeze.by}\n`) + rampTable(a.routes))
}

/** `control`: the fleet's control plane, the process `ramp run` starts. */
async function cmdControl (args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, strict: true, options: { ...HELP, ...CONTROL_OPTIONS } })
  if (helpAsked('control', values)) return
  if (positionals.length > 0) usageError('control takes no arguments besides its options')
  await cmdRampRun(values)
}

async function cmdRampRun (values: { config?: string | undefined, listen?: string | undefined, prometheus?: string | undefined, 'insecure-admin'?: boolean | undefined }): Promise<void> {
  const listen = values.listen ?? '127.0.0.1:8082'
  const i = listen.lastIndexOf(':')
  const port = Number(listen.slice(i + 1))
  if (i <= 0 || !Number.isInteger(port) || port < 0 || port > 65535) usageError(`--listen ${listen} is not HOST:PORT`)
  const token = process.env.STRANGLER_ADMIN_TOKEN
  if (token === '') usageError('STRANGLER_ADMIN_TOKEN is set but empty; set a token, or unset the variable')
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'info', pretty: process.env.LOG_FORMAT === 'pretty' })
  const { runRampDriver } = await import('./lifecycle/ramp-runner.js')
  let runner: Awaited<ReturnType<typeof runRampDriver>>
  try {
    runner = await runRampDriver({
      configFile: configPath(values.config),
      logger,
      host: listen.slice(0, i).replace(/^\[|\]$/g, ''),
      port,
      ...(token === undefined ? {} : { adminToken: token }),
      ...(values.prometheus === undefined ? {} : { prometheus: values.prometheus }),
      insecureAdmin: values['insecure-admin'] === true,
      env: process.env
    })
  } catch (err) {
    if (err instanceof ConfigError || err instanceof ProxyError) reportConfigFailure(err)
    fail(`ramp run: ${(err as Error).message}`)
  }
  process.on('SIGHUP', () => runner.reload('SIGHUP'))
  const stop = (): void => { void runner.stop().then(() => process.exit(0)) }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
}

async function cmdTimeline (args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, strict: true, options: { ...HELP, config: { type: 'string', short: 'c' }, admin: { type: 'string' }, route: { type: 'string' }, kind: { type: 'string' }, since: { type: 'string' }, limit: { type: 'string' }, follow: { type: 'boolean', short: 'f' } } })
  if (helpAsked('timeline', values)) return
  if (positionals.length > 0) usageError('timeline takes no positional arguments')
  const target = adminTarget(values)
  const query = (since: string | undefined): string => {
    const q = new URLSearchParams()
    if (values.route !== undefined) q.set('route', values.route)
    if (values.kind !== undefined) q.set('kind', values.kind)
    if (since !== undefined) q.set('since', since)
    if (values.limit !== undefined) q.set('limit', values.limit)
    return `/timeline?${q.toString()}`
  }
  type Row = Parameters<typeof timelineRows>[0][number]
  const fetchEvents = async (since: string | undefined): Promise<Row[]> => {
    const answer = await callAdmin(target, 'GET', query(since))
    if (answer.status !== 200) fail(problemText(answer))
    return (answer.body as { events: Row[] }).events
  }
  const first = await fetchEvents(values.since)
  process.stdout.write(timelineRows(first, true))
  if (values.follow !== true) return
  const seen = new Set(first.map((e) => e.id))
  let since = first.at(-1)?.time ?? new Date().toISOString()
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 2000))
    const fresh = (await fetchEvents(since)).filter((e) => !seen.has(e.id))
    for (const e of fresh) seen.add(e.id)
    process.stdout.write(timelineRows(fresh, false))
    since = fresh.at(-1)?.time ?? since
  }
}

/** status and inventory: one GET on the admin port, printed as a table or as JSON. */
async function cmdReport<T> (args: string[], command: string, path: string, text: (body: T) => string): Promise<void> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, strict: true, options: { ...HELP, config: { type: 'string', short: 'c' }, admin: { type: 'string' }, json: { type: 'boolean' } } })
  if (helpAsked(command, values)) return
  if (positionals.length > 0) usageError(`${command} takes no positional arguments`)
  const answer = await callAdmin(adminTarget(values), 'GET', path)
  if (answer.status !== 200) fail(problemText(answer))
  process.stdout.write(values.json === true ? JSON.stringify(answer.body, null, 2) + '\n' : text(answer.body as T))
}

/** A refusal from the running proxy: its reason, exit 1. */
function fail (message: string): never {
  process.stderr.write(message + '\n')
  process.exit(1)
}

async function cmdSchema (args: string[]): Promise<void> {
  const { values } = parseArgs({ args, strict: true, options: HELP })
  if (helpAsked('schema', values)) return
  const { publishedSchema } = await import('./config/published-schema.js')
  process.stdout.write(JSON.stringify(publishedSchema(), null, 2) + '\n')
}

async function cmdExplain (args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      ...HELP,
      config: { type: 'string', short: 'c' },
      header: { type: 'string', short: 'H', multiple: true },
      cookie: { type: 'string', multiple: true },
      ip: { type: 'string' }
    }
  })
  if (helpAsked('explain', values)) return
  if (positionals.length !== 2) usageError('explain needs METHOD and PATH')
  const headers: Record<string, string> = {}
  for (const h of values.header ?? []) {
    const i = h.indexOf(':')
    if (i <= 0) usageError(`--header "${h}" is not name:value`)
    headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim()
  }
  if (values.cookie !== undefined) {
    for (const c of values.cookie) if (!c.includes('=')) usageError(`--cookie "${c}" is not name=value`)
    headers.cookie = [headers.cookie, ...values.cookie].filter((x) => x !== undefined).join('; ')
  }
  const { Runtime } = await import('./lifecycle/runtime.js')
  const { explainRequest } = await import('./admin/explain.js')
  let runtime: Runtime | undefined
  try {
    // Logs go to stderr so stdout stays one JSON document.
    const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'warn', destination: process.stderr })
    runtime = new Runtime(loadConfigFile(configPath(values.config)), { logger, env: process.env, watchFlags: false })
  } catch (err) {
    reportConfigFailure(err)
  }
  await runtime.startFlags(5000)
  const [method, path] = positionals as [string, string]
  const result = await explainRequest(runtime.snapshot, { method, path, headers, ...(values.ip === undefined ? {} : { clientIp: values.ip }) })
  process.stdout.write(JSON.stringify(result, null, 2) + '\n')
  await runtime.close(0)
}

function cmdOverrideToken (args: string[]): void {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, strict: true, options: { ...HELP, route: { type: 'string' }, ttl: { type: 'string' } } })
  if (helpAsked('override-token', values)) return
  if (positionals.length !== 1) usageError('override-token needs BACKEND')
  const secret = process.env.STRANGLER_OVERRIDE_SECRET
  if (secret === undefined || secret === '') usageError('STRANGLER_OVERRIDE_SECRET is not set')
  if (Buffer.byteLength(secret) < MIN_SECRET_BYTES) usageError(`STRANGLER_OVERRIDE_SECRET holds ${Buffer.byteLength(secret)} bytes; a signing secret needs at least ${MIN_SECRET_BYTES}`)
  const ttl = parseDuration(values.ttl ?? '8h')
  if (ttl === undefined || ttl <= 0 || ttl > MAX_LIFETIME_SECONDS * 1000) usageError(`--ttl ${values.ttl ?? ''} is not a duration up to 30d`)
  const expires = Math.floor((Date.now() + ttl) / 1000)
  process.stdout.write(overrideToken(secret, positionals[0] as string, expires, values.route) + '\n')
}

async function main (argv: string[]): Promise<void> {
  const [command, ...rest] = argv
  try {
    switch (command) {
      case 'start': return await cmdStart(rest)
      // Internal: started by `start --workers N` through node:cluster.
      case 'worker': return await cmdStart(rest, 'worker')
      case 'validate': return await cmdValidate(rest)
      case 'explain': return await cmdExplain(rest)
      case 'override-token': return cmdOverrideToken(rest)
      case 'schema': return await cmdSchema(rest)
      case 'ramp': return await cmdRamp(rest)
      case 'control': return await cmdControl(rest)
      case 'timeline': return await cmdTimeline(rest)
      case 'status': return await cmdReport(rest, 'status', '/status.json', statusText)
      case 'inventory': return await cmdReport(rest, 'inventory', '/inventory', inventoryText)
      case 'coverage': return await cmdReport(rest, 'coverage', '/coverage', coverageText)
      case '--version': case '-v': process.stdout.write(version() + '\n'); return
      case undefined: case '--help': case '-h': case 'help': process.stdout.write(USAGE); return
      default: usageError(`unknown command "${command}"`)
    }
  } catch (err) {
    if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true) usageError((err as Error).message)
    throw err
  }
}

await main(process.argv.slice(2))
