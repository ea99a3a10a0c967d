/**
 * The JSON Schema of routes.yaml. Shape only: cross-references (backend names,
 * duplicate routes, URL contents) are checked in config.ts, which has the positions.
 */
import { DURATION_PATTERN } from './units.js'

const duration = { $ref: '#/$defs/duration' }
const size = { $ref: '#/$defs/size' }
const port = { type: 'integer', minimum: 0, maximum: 65535 }
const name = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' }

export const configSchema = {
  $defs: {
    duration: { type: 'string', pattern: DURATION_PATTERN },
    size: { anyOf: [{ type: 'integer', minimum: 0 }, { type: 'string', pattern: '^\\d+(\\.\\d+)?\\s*([kKmMgG][iI]?)?[bB]?$' }] }
  },
  type: 'object',
  additionalProperties: false,
  required: ['backends', 'routes'],
  properties: {
    listen: {
      type: 'object',
      additionalProperties: false,
      properties: { host: { type: 'string', minLength: 1 }, port }
    },
    admin: {
      type: 'object',
      additionalProperties: false,
      properties: { host: { type: 'string', minLength: 1 }, port }
    },
    client: {
      type: 'object',
      additionalProperties: false,
      properties: {
        headersTimeout: duration,
        requestTimeout: duration,
        keepAliveTimeout: duration,
        maxHeaderSize: size,
        maxUrlLength: size,
        maxBodySize: size,
        trustedProxies: { type: 'array', items: { type: 'string', minLength: 1 } }
      }
    },
    shutdown: {
      type: 'object',
      additionalProperties: false,
      properties: { timeout: duration }
    },
    backends: {
      type: 'object',
      minProperties: 1,
      propertyNames: name,
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['url'],
        properties: {
          url: { type: 'string', minLength: 1 },
          timeout: duration,
          timeouts: {
            type: 'object',
            additionalProperties: false,
            properties: { connect: duration, headers: duration, bodyIdle: duration }
          },
          pool: {
            type: 'object',
            additionalProperties: false,
            properties: {
              connections: { type: 'integer', minimum: 1, maximum: 65535 },
              keepAliveTimeout: duration
            }
          },
          preserveHost: { type: 'boolean' }
        }
      }
    },
    routes: {
      type: 'array',
      minItems: 1,
      items: {
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
              methods: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[A-Za-z]+$' } },
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
          websocket: { type: 'boolean' }
        }
      }
    }
  }
} as const
