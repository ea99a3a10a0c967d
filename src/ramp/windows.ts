/**
 * Change windows of a ramp plan: the days and hours, in a named time zone, when a ramp
 * may move forward. Outside them it holds; step-backs and aborts are never held.
 * Local time comes from Intl (the runtime's time-zone database), so daylight saving
 * is the zone's own.
 */
import type { ChangeWindow } from '../config/config.js'

export const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const
const NAMES = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']

const formats = new Map<string, Intl.DateTimeFormat>()

function format (timeZone: string): Intl.DateTimeFormat {
  let f = formats.get(timeZone)
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })
    formats.set(timeZone, f)
  }
  return f
}

/** The day (0 = Monday) and minute of the day at `now` in `timeZone`. */
function localTime (now: number, timeZone: string): { day: number, minute: number } {
  const parts = format(timeZone).formatToParts(now)
  const get = (type: string): string => parts.find((p) => p.type === type)?.value ?? ''
  return { day: NAMES.indexOf(get('weekday')), minute: Number(get('hour')) * 60 + Number(get('minute')) }
}

/** True when `now` lies in one of the windows (always, with none). */
export function inWindow (windows: readonly ChangeWindow[], now: number): boolean {
  if (windows.length === 0) return true
  return windows.some((w) => {
    const t = localTime(now, w.timeZone)
    return w.days.includes(DAYS[t.day] as typeof DAYS[number]) && t.minute >= w.from && t.minute < w.to
  })
}

const hhmm = (m: number): string => `${String(Math.floor(m / 60)).padStart(2, '0')}:${String(m % 60).padStart(2, '0')}`

/** "Mon–Thu 09:00–16:00 Europe/Berlin; Fri 09:00–12:00 Europe/Berlin" */
export function describeWindows (windows: readonly ChangeWindow[]): string {
  return windows.map((w) => `${days(w.days)} ${hhmm(w.from)}–${hhmm(w.to)} ${w.timeZone}`).join('; ')
}

/** Runs of consecutive days as ranges: mon, tue, wed, thu → Mon–Thu. */
function days (list: readonly string[]): string {
  const idx = [...new Set(list.map((d) => DAYS.indexOf(d as typeof DAYS[number])))].sort((a, b) => a - b)
  const runs: string[] = []
  for (let i = 0; i < idx.length; i++) {
    let j = i
    while (j + 1 < idx.length && idx[j + 1] === (idx[j] as number) + 1) j++
    runs.push(j - i >= 2 ? `${NAMES[idx[i] as number]}–${NAMES[idx[j] as number]}` : idx.slice(i, j + 1).map((d) => NAMES[d]).join(', '))
    i = j
  }
  return runs.join(', ')
}
