/**
 * The JSON Schema of routes.yaml. Shape only: cross-references (backend names,
 * duplicate routes, URL contents) are checked in config.ts, which has the positions.
 */
import { DURATION_PATTERN } from './units.js'

const duration = { $ref: '#/$defs/duration' } as const
const size = { $ref: '#/$defs/size' } as const
const port = { type: 'integer', minimum: 0, maximum: 65535 } as const
const name = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$' } as const
const headerName = { type: 'string', pattern: '^[!#$%&\'*+.^_`|~0-9A-Za-z-]+$' } as const
const cookieName = { type: 'string', pattern: '^[!#$%&\'*+.^_`|~0-9A-Za-z-]+$' } as const
const valueSource = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  maxProperties: 1,
  properties: { header: headerName, cookie: cookieName, jwt: { type: 'string', minLength: 1 }, identity: { type: 'string', minLength: 1 } }
} as const
const valueSources = { anyOf: [valueSource, { type: 'array', minItems: 1, items: valueSource }] } as const
const guard = {
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
const rampGates = {
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
        alerts: { type: 'object', propertyNames: { pattern: '^[A-Za-z_:][A-Za-z0-9_:]*$' }, additionalProperties: { enum: ['pause', 'stepBack', 'abort'] } }
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
      }
    }
  }
} as const
