/**
 * The JSON Schema of routes.yaml. Shape only: cross-references (backend names,
 * duplicate routes, URL contents) are checked in config.ts, which has the positions.
 */
import { DURATION_PATTERN } from './units.js'
import { duration, size, port, name, headerName, cookieName, valueSources, guard, rampGates } from './schema-parts.js'
import { routeSchema } from './schema-route.js'

/** Every kind of timeline event (src/timeline/). */
export const TIMELINE_KINDS = ['config_applied', 'config_rejected', 'flag_changed', 'guard_tripped', 'guard_recovered', 'failover_started', 'failover_ended', 'parity_low', 'parity_recovered', 'drain_started', 'ramp_transition', 'ramp_write_failed', 'ramp_freeze'] as const

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
      properties: {
        host: { type: 'string', minLength: 1 },
        port,
        allowedHosts: { type: 'array', items: { type: 'string', pattern: '^[A-Za-z0-9.-]+$' } },
        operators: {
          type: 'array',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'role', 'tokenHashEnv'],
            properties: {
              name: { type: 'string', pattern: '^[A-Za-z0-9._@-]{1,64}$' },
              role: { enum: ['viewer', 'operator', 'admin'] },
              tokenHashEnv: { type: 'string', pattern: '^[A-Z_][A-Z0-9_]*$' }
            }
          }
        }
      }
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
        maxHeaderCount: { type: 'integer', minimum: 1, maximum: 10000 },
        sendTimeout: duration,
        trustedProxies: { type: 'array', items: { type: 'string', minLength: 1 } },
        realIpHeader: { anyOf: [{ const: false }, { type: 'string', pattern: '^[A-Za-z0-9-]+$' }] }
      }
    },
    flags: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      properties: {
        file: { type: 'string', minLength: 1 },
        unleash: {
          type: 'object',
          additionalProperties: false,
          required: ['url'],
          properties: {
            url: { type: 'string', minLength: 1 },
            appName: { type: 'string', minLength: 1 },
            environment: { type: 'string', minLength: 1 },
            projectName: { type: 'string', minLength: 1 },
            refreshInterval: duration,
            timeout: duration,
            backupDir: { type: 'string', minLength: 1 },
            metrics: {
              type: 'object',
              additionalProperties: false,
              properties: { enabled: { type: 'boolean' }, interval: duration }
            }
          }
        }
      }
    },
    identity: {
      type: 'object',
      additionalProperties: false,
      required: ['resolve', 'session', 'token'],
      properties: {
        resolve: {
          type: 'object',
          additionalProperties: false,
          required: ['url'],
          properties: {
            url: { type: 'string', minLength: 1 },
            timeout: duration,
            forward: { type: 'array', items: headerName },
            fields: { type: 'array', items: { type: 'string', minLength: 1 } },
            subject: { type: 'string', minLength: 1 }
          }
        },
        session: valueSources,
        cache: {
          type: 'object',
          additionalProperties: false,
          properties: { ttl: duration, anonymousTtl: duration, maxEntries: { type: 'integer', minimum: 1 }, maxBytes: size }
        },
        token: {
          type: 'object',
          additionalProperties: false,
          required: ['keyFile', 'backends'],
          properties: {
            header: headerName,
            keyFile: { type: 'string', minLength: 1 },
            createKey: { type: 'boolean' },
            issuer: { type: 'string', minLength: 1 },
            ttl: duration,
            backends: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } }
          }
        },
        onFailure: { enum: ['legacy', 'deny'] }
      }
    },
    cohort: {
      type: 'object',
      additionalProperties: false,
      properties: {
        userId: valueSources,
        sessionId: valueSources,
        properties: { type: 'object', propertyNames: { pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }, additionalProperties: valueSources },
        jwt: {
          type: 'object',
          additionalProperties: false,
          properties: {
            header: headerName,
            cookie: cookieName,
            secretEnv: { type: 'string', pattern: '^[A-Z_][A-Z0-9_]*$' },
            publicKeyFile: { type: 'string', minLength: 1 },
            algorithms: { type: 'array', minItems: 1, items: { enum: ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] } },
            issuer: { type: 'string' },
            audience: { type: 'string' },
            requireExp: { type: 'boolean' }
          }
        },
        sessionCookie: {
          anyOf: [{ const: false }, {
            type: 'object',
            additionalProperties: false,
            properties: {
              name: cookieName,
              maxAge: duration,
              secure: { type: 'boolean' },
              sameSite: { enum: ['lax', 'strict', 'none'] }
            }
          }]
        }
      }
    },
    guard: { anyOf: [{ const: false }, guard] },
    tracing: {
      type: 'object',
      additionalProperties: false,
      properties: {
        endpoint: { type: 'string', minLength: 1 },
        sampler: { enum: ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'] },
        ratio: { type: 'number', minimum: 0, maximum: 1 },
        serviceName: { type: 'string', minLength: 1 },
        maxQueueSize: { type: 'integer', minimum: 1, maximum: 1000000 },
        redactQuery: { type: 'array', items: { type: 'string', minLength: 1 } }
      }
    },
    retirement: {
      type: 'object',
      additionalProperties: false,
      properties: {
        after: duration,
        legacyQuietFor: duration,
        minParity: { type: 'number', minimum: 0, maximum: 1 },
        maxErrorRatioIncrease: { type: 'number', minimum: 0, maximum: 1 },
        maxLatencyRatio: { type: 'number', minimum: 1 }
      }
    },
    inventory: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxTemplates: { type: 'integer', minimum: 10, maximum: 100000 }
      }
    },
    gateSets: { type: 'object', additionalProperties: rampGates },
    coverage: {
      type: 'object',
      additionalProperties: false,
      required: ['declared'],
      properties: {
        declared: {
          type: 'object',
          minProperties: 1,
          additionalProperties: {
            type: 'object',
            additionalProperties: false,
            properties: {
              openapi: { type: 'string', minLength: 1 },
              list: { type: 'string', minLength: 1 }
            }
          }
        },
        unusedAfter: duration
      }
    },
    timeline: {
      type: 'object',
      additionalProperties: false,
      properties: {
        impactDelay: duration,
        maxFileSize: size,
        parityThreshold: { type: 'number', exclusiveMinimum: 0, maximum: 1 }
      }
    },
    notify: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['url'],
        properties: {
          url: { type: 'string', minLength: 1 },
          kinds: { type: 'array', minItems: 1, items: { enum: TIMELINE_KINDS } },
          secretEnv: { type: 'string', pattern: '^[A-Z_][A-Z0-9_]*$' },
          timeout: duration,
          damping: duration
        }
      }
    },
    ramps: {
      type: 'object',
      additionalProperties: false,
      properties: {
        driver: { enum: ['proxy', 'fleet'] },
        prometheus: { type: 'string', minLength: 1 },
        interval: duration,
        timeout: duration,
        stallAfter: duration,
        alerts: { type: 'object', propertyNames: { pattern: '^[A-Za-z_:][A-Za-z0-9_:]*$' }, additionalProperties: { enum: ['pause', 'stepBack', 'abort'] } },
        replicas: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          maxProperties: 1,
          properties: {
            static: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[A-Za-z0-9.:\\[\\]-]+:[0-9]{1,5}$' } },
            dns: { type: 'string', pattern: '^[A-Za-z0-9.-]+:[0-9]{1,5}$' }
          }
        }
      }
    },
    evidence: {
      type: 'object',
      additionalProperties: false,
      properties: {
        period: duration,
        perAddress: { type: 'integer', minimum: 1 },
        perUser: { type: 'integer', minimum: 1 }
      }
    },
    override: {
      type: 'object',
      additionalProperties: false,
      properties: { header: headerName, cookie: cookieName }
    },
    shutdown: {
      type: 'object',
      additionalProperties: false,
      properties: { timeout: duration }
    },
    state: {
      type: 'object',
      additionalProperties: false,
      properties: { dir: { type: 'string', minLength: 1 } }
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
          preserveHost: { type: 'boolean' },
          legacy: { type: 'boolean' }
        }
      }
    },
    routes: {
      type: 'array',
      minItems: 1,
      items: routeSchema
    }
  }
} as const
