/**
 * Durations and sizes as humans write them in routes.yaml ("5s", "250ms", "10mb").
 * Pure parsing; validation messages are produced by config.ts.
 */

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/
const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** Milliseconds, or undefined when the text is not a duration with a unit. */
export function parseDuration (text: string): number | undefined {
  const m = DURATION.exec(text.trim())
  if (m === null) return undefined
  return Math.round(Number(m[1]) * (DURATION_MS[m[2] as string] as number))
}

const UNITS_DOWN = (['d', 'h', 'm', 's'] as const).map((u) => [u, DURATION_MS[u] as number] as const)

/** Milliseconds as routes.yaml writes them, parseDuration's inverse: the largest unit that divides them ("30s", "7d", "250ms"). */
export function formatDuration (ms: number): string {
  for (const [unit, size] of UNITS_DOWN) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`
  return `${ms}ms`
}

const SIZE = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|kib|mib|gib)?$/i
const SIZE_BYTES: Record<string, number> = {
  b: 1, kb: 1000, mb: 1000 ** 2, gb: 1000 ** 3, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3
}

/** Bytes, or undefined when the value is not a size. A bare number means bytes. */
export function parseSize (value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined
  const m = SIZE.exec(value.trim())
  if (m === null) return undefined
  return Math.floor(Number(m[1]) * (SIZE_BYTES[(m[2] ?? 'b').toLowerCase()] as number))
}

export const DURATION_PATTERN = DURATION.source
