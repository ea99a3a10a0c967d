/** The schema of one route (routes[] in routes.yaml); schema.ts holds the rest of the file. */
import { duration, size, name, headerName, guard, rampGates } from './schema-parts.js'

/** One entry of routes: (routes[]). */
export const routeSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'match', 'backend'],
  properties: {
    name,
    match: {
      type: 'object',
      additionalProperties: false,
      required: ['path'],
      properties: {
        path: { type: 'string', minLength: 1 },
        methods: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[A-Za-z-]+$' } },
        host: { type: 'string', minLength: 1 },
        headers: {
          type: 'object',
          minProperties: 1,
          propertyNames: { pattern: '^[!#$%&\'*+.^_`|~0-9A-Za-z-]+$' },
          additionalProperties: { anyOf: [{ type: 'string' }, { const: true }] }
        }
      }
    },
    backend: { type: 'string', minLength: 1 },
    rewrite: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      properties: {
        stripPrefix: { type: 'string', pattern: '^/' },
        addPrefix: { type: 'string', pattern: '^/' }
      }
    },
    maxBodySize: size,
    websocket: { type: 'boolean' },
    failover: { type: 'boolean' },
    decline: {
      type: 'object',
      additionalProperties: false,
      properties: {
        status: { type: 'array', minItems: 1, items: { type: 'integer', minimum: 400, maximum: 599 } },
        header: headerName,
        maxBodySize: size
      }
    },
    retire: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      properties: {
        deprecation: { type: 'string', minLength: 1 },
        sunset: { type: 'string', minLength: 1 },
        link: { type: 'string', minLength: 1 }
      }
    },
    shadow: {
      type: 'object',
      additionalProperties: false,
      required: ['backend'],
      properties: {
        backend: { type: 'string', minLength: 1 },
        sampleRate: { type: 'number', minimum: 0, maximum: 1 },
        methods: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[A-Za-z-]+$' } },
        maxBodySize: size,
        maxConcurrent: { type: 'integer', minimum: 1 },
        timeout: duration,
        learnNoise: { type: 'boolean' },
        recordValues: { type: 'boolean' },
        compare: {
          type: 'object',
          additionalProperties: false,
          properties: {
            headers: { type: 'array', items: { type: 'string', minLength: 1 } },
            errorBodies: { type: 'boolean' },
            ignore: { type: 'array', items: { type: 'string', pattern: '^\\$' } },
            unorderedArrays: { type: 'array', items: { type: 'string', pattern: '^\\$' } },
            text: { enum: ['exact', 'whitespace'] }
          }
        }
      }
    },
    guard: { anyOf: [{ const: false }, guard] },
    ramp: {
      type: 'object',
      additionalProperties: false,
      required: ['steps'],
      properties: {
        steps: { type: 'array', minItems: 1, maxItems: 20, items: { type: 'number', exclusiveMinimum: 0, maximum: 100 } },
        hold: duration,
        minRequests: { type: 'integer', minimum: 1 },
        minComparisons: { type: 'integer', minimum: 1 },
        minUsers: { type: 'integer', minimum: 1 },
        minAddresses: { type: 'integer', minimum: 1 },
        minFailingClients: { type: 'integer', minimum: 1 },
        gateSet: { type: 'string', minLength: 1 },
        gates: rampGates,
        windows: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['days', 'from', 'to', 'timeZone'],
            properties: {
              days: { type: 'array', minItems: 1, items: { enum: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] } },
              from: { type: 'string', pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' },
              to: { type: 'string', pattern: '^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$' },
              timeZone: { type: 'string', minLength: 1 }
            }
          }
        },
        approve: {
          type: 'array',
          items: {
            anyOf: [
              { type: 'number', exclusiveMinimum: 0, maximum: 100 },
              { type: 'object', additionalProperties: false, required: ['step'], properties: { step: { type: 'number', exclusiveMinimum: 0, maximum: 100 }, approvers: { type: 'integer', minimum: 1, maximum: 5 } } }
            ]
          }
        },
        onFail: { enum: ['stepBack', 'abort'] },
        dryRun: { type: 'boolean' },
        maxFailures: { type: 'integer', minimum: 1, maximum: 100 }
      }
    },
    flag: {
      type: 'object',
      additionalProperties: false,
      required: ['name'],
      properties: {
        name: { type: 'string', minLength: 1 },
        backend: { type: 'string', minLength: 1 },
        variants: { type: 'object', minProperties: 1, additionalProperties: { type: 'string', minLength: 1 } }
      }
    }
  }
} as const
