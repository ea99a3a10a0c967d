/**
 * The pieces routes.yaml's schema (schema.ts, schema-route.ts) is built from: units,
 * names, value sources, the guard's and a ramp's gates. `as const` throughout, so
 * the raw types (raw.ts) can be derived from them.
 */
export const duration = { $ref: '#/$defs/duration' } as const
export const size = { $ref: '#/$defs/size' } as const
export const port = { type: 'integer', minimum: 0, maximum: 65535 } as const
export const name = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' } as const
export const headerName = { type: 'string', pattern: '^[!#$%&\'*+.^_`|~0-9A-Za-z-]+$' } as const
export const cookieName = { type: 'string', pattern: '^[!#$%&\'*+.^_`|~0-9A-Za-z-]+$' } as const
export const valueSource = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
  properties: { header: headerName, cookie: cookieName, jwt: { type: 'string', minLength: 1 }, identity: { type: 'string', minLength: 1 } }
} as const
export const valueSources = { anyOf: [valueSource, { type: 'array', minItems: 1, items: valueSource }] } as const
export const guard = {
  type: 'object',
  additionalProperties: false,
  properties: {
    window: { $ref: '#/$defs/duration' },
    minRequests: { type: 'integer', minimum: 1 },
    maxErrorRatioIncrease: { type: 'number', minimum: 0, maximum: 1 },
    maxLatencyRatio: { type: 'number', minimum: 1 },
    minLatencyIncrease: { $ref: '#/$defs/duration' },
    cooldown: { $ref: '#/$defs/duration' },
    probeFraction: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
    probeRequests: { type: 'integer', minimum: 1 },
    minClients: { type: 'integer', minimum: 1, maximum: 1000 },
    maxClientShare: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
    disableFlag: { type: 'boolean' }
  }
} as const

/** What a ramp step must show (routes[].ramp.gates), and a named set of it (gateSets). */
export const rampGates = {
  type: 'object',
  additionalProperties: false,
  properties: {
    maxErrorRatioIncrease: { type: 'number', minimum: 0, maximum: 1 },
    maxClientErrorRatioIncrease: { type: 'number', minimum: 0, maximum: 1 },
    maxLatencyRatio: { type: 'number', minimum: 1 },
    minLatencyIncrease: duration,
    minParity: { type: 'number', minimum: 0, maximum: 1 },
    queries: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'query'],
        properties: {
          name: { type: 'string', pattern: '^[a-z][a-z0-9_]*$', maxLength: 64 },
          query: { type: 'string', minLength: 1, maxLength: 4096 },
          compare: { enum: ['baseline', 'absolute'] },
          max: { type: 'number' },
          min: { type: 'number' },
          window: duration
        }
      }
    },
    checks: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'url'],
        properties: {
          name: { type: 'string', pattern: '^[a-z][a-z0-9_]*$', maxLength: 64 },
          url: { type: 'string', minLength: 1 },
          method: { enum: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'get', 'head', 'post', 'put', 'patch', 'delete'] },
          headers: { type: 'object', additionalProperties: { type: 'string' } },
          timeout: duration,
          expect: {
            type: 'object',
            additionalProperties: false,
            properties: {
              status: { anyOf: [{ type: 'integer', minimum: 100, maximum: 599 }, { type: 'array', minItems: 1, items: { type: 'integer', minimum: 100, maximum: 599 } }] },
              bodyContains: { type: 'string', minLength: 1 },
              json: { type: 'object', additionalProperties: {} }
            }
          },
          as: { enum: ['next-cohort'] },
          when: { enum: ['before', 'after'] }
        }
      }
    }
  }
} as const
