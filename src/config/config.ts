/**
 * The config module's public face: load (load.ts), the resulting types (types.ts) and
 * every default (defaults.ts). Watching the file lives in watch.ts.
 */
export * from './types.js'
export { DEFAULTS } from './defaults.js'
export { loadConfigFile, parseConfig, readConfigText } from './load.js'
