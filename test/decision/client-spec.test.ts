/**
 * Unleash's client specification, run through the proxy's own request → context
 * mapping (headers and the client address) and its flag source. Cases whose
 * context cannot come from a request (appName, environment, currentTime, nested
 * or non-string properties) are skipped: the mapping does not apply to them.
 */
import t from 'tap'
import { createRequire } from 'node:module'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { IncomingHttpHeaders } from 'node:http'
import { parseConfig } from '../../src/config/config.js'
import { buildCohort } from '../../src/decision/cohort.js'
import { FileFlagSource } from '../../src/flags/file-source.js'
import type { Context } from '../../src/flags/unleash-internals.js'
import { createLogger } from '../../src/observe/log.js'
import { tempDir } from '../helpers/proxy.js'

const require = createRequire(import.meta.url)
const specDir = join(require.resolve('@unleash/client-specification/package.json'), '..', 'specifications')
const index = require(join(specDir, 'index.json')) as string[]

interface SpecContext { userId?: string, sessionId?: string, remoteAddress?: string, properties?: Record<string, unknown>, [k: string]: unknown }
interface Spec {
  name: string
  state: { features?: unknown[] }
  tests?: Array<{ description: string, context: SpecContext, toggleName: string, expectedResult: boolean }>
  variantTests?: Array<{ description: string, context: SpecContext, toggleName: string, expectedResult: { name: string, enabled: boolean, feature_enabled?: boolean } }>
}

/** Why a context cannot be expressed as a request, or undefined when it can. */
function unmappable (ctx: SpecContext): string | undefined {
  for (const key of Object.keys(ctx)) {
    if (!['userId', 'sessionId', 'remoteAddress', 'properties'].includes(key)) return `context.${key} does not come from a request`
  }
  for (const [k, v] of Object.entries(ctx.properties ?? {})) {
    if (typeof v !== 'string') return `property ${k} is not a string`
  }
  return undefined
}

function toRequest (ctx: SpecContext): { headers: IncomingHttpHeaders, clientIp: string } {
  const headers: IncomingHttpHeaders = {}
  if (ctx.userId !== undefined) headers['x-user-id'] = ctx.userId
  if (ctx.sessionId !== undefined) headers['x-session-id'] = ctx.sessionId
  for (const [k, v] of Object.entries(ctx.properties ?? {})) headers[`x-prop-${k.toLowerCase()}`] = String(v)
  return { headers, clientIp: ctx.remoteAddress ?? '' }
}

const logger = createLogger({ level: 'silent' })

for (const file of index) {
  const spec = require(join(specDir, file)) as Spec
  t.test(spec.name, async (t) => {
    if (!Array.isArray(spec.state.features)) {
      t.pass(spec.name, { skip: 'delta-format state: a flags file holds a full client-features response' })
      return
    }
    const dir = tempDir(t)
    writeFileSync(join(dir, 'flags.json'), JSON.stringify(spec.state))
    const source = new FileFlagSource(join(dir, 'flags.json'), logger, false)
    t.teardown(() => source.close())
    const names = new Set<string>()
    for (const c of [...(spec.tests ?? []), ...(spec.variantTests ?? [])]) for (const k of Object.keys(c.context.properties ?? {})) names.add(k)
    const props = [...names].map((n) => `    ${n}: { header: x-prop-${n.toLowerCase()} }`).join('\n')
    const config = parseConfig(`backends: { b: { url: "http://127.0.0.1:1" } }
routes: [ { name: r, match: { path: /* }, backend: b } ]
cohort:
  userId: { header: x-user-id }
  sessionId: { header: x-session-id }
  sessionCookie: false
${props === '' ? '' : `  properties:\n${props}`}
`, 'spec.yaml')

    /** The context the proxy builds from the request a case describes, or undefined (skipped) when none can. */
    const contextOf = async (c: { description: string, context: SpecContext }): Promise<Context | undefined> => {
      const why = unmappable(c.context)
      if (why !== undefined) {
        t.pass(c.description, { skip: why })
        return undefined
      }
      const { context } = await buildCohort(config.cohort, toRequest(c.context), undefined)
      if (c.context.remoteAddress === undefined) delete context.remoteAddress
      return context
    }

    for (const c of spec.tests ?? []) {
      const context = await contextOf(c)
      if (context !== undefined) t.equal(source.evaluate(c.toggleName, context, false).enabled, c.expectedResult, c.description)
    }
    for (const c of spec.variantTests ?? []) {
      const context = await contextOf(c)
      if (context === undefined) continue
      const result = source.evaluate(c.toggleName, context, true)
      t.equal(result.enabled, c.expectedResult.feature_enabled ?? c.expectedResult.enabled, `${c.description} (flag)`)
      t.equal(result.variant ?? 'disabled', c.expectedResult.enabled ? c.expectedResult.name : 'disabled', `${c.description} (variant)`)
    }
  })
}
