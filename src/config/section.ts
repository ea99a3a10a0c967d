/**
 * What every section of normalisation (normalize.ts) reads: where problems go, how
 * durations and sizes are read, and the directory relative paths start from.
 */
import { parseDuration, parseSize } from './units.js'
import type { Path, Problems } from './problems.js'

/** A duration the schema already held to its pattern, or the fallback. */
export type Dur = (value: string | undefined, fallback: number) => number
/** A size, or the fallback with a problem at `path` when it is not one. */
export type Sz = (path: Path, value: string | number | undefined, fallback: number) => number

export interface Section {
  readonly problems: Problems
  readonly dur: Dur
  readonly sz: Sz
  readonly baseDir: string
}

export function section (problems: Problems, baseDir: string): Section {
  const dur: Dur = (value, fallback) => value === undefined ? fallback : (parseDuration(value) as number)
  const sz: Sz = (path, value, fallback) => {
    if (value === undefined) return fallback
    const n = parseSize(value)
    if (n === undefined) {
      problems.add(path, 'must be a size, e.g. 1048576, 512kb, 10mb')
      return fallback
    }
    return n
  }
  return { problems, dur, sz, baseDir }
}

/** An http(s) URL, or a problem at `path`. */
export function httpUrl (text: string, path: Path, problems: Problems): URL | undefined {
  const url = URL.canParse(text) ? new URL(text) : undefined
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    problems.add(path, `"${text}" is not an http(s) URL`)
    return undefined
  }
  return url
}
