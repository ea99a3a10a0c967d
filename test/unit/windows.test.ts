/** Change windows: local days and hours in a named zone, daylight saving included, and how they read. */
import t from 'tap'
import { describeWindows, inWindow } from '../../src/ramp/windows.js'

const berlin = { days: ['mon', 'tue', 'wed', 'thu'] as const, from: 9 * 60, to: 16 * 60, timeZone: 'Europe/Berlin' }

t.test('in or out, by the zone\'s own clock', async (t) => {
  const at = (iso: string): boolean => inWindow([berlin], Date.parse(iso))
  t.ok(at('2026-12-01T08:00:00Z'), 'Tue 09:00 in Berlin (UTC+1) opens it')
  t.notOk(at('2026-12-01T07:59:00Z'), 'Tue 08:59 in Berlin')
  t.notOk(at('2026-12-01T15:00:00Z'), 'Tue 16:00 in Berlin closes it')
  t.ok(at('2026-07-07T07:00:00Z'), 'Tue 09:00 in Berlin in summer (UTC+2)')
  t.notOk(at('2026-07-07T14:30:00Z'), 'Tue 16:30 in Berlin in summer')
  t.notOk(at('2026-12-04T10:00:00Z'), 'a Friday')
  t.ok(at('2026-12-03T22:30:00Z') === false, 'Thu 23:30 in Berlin')
  t.ok(inWindow([], 0), 'no windows: always')
  t.ok(inWindow([berlin, { days: ['fri'], from: 0, to: 24 * 60, timeZone: 'UTC' }], Date.parse('2026-12-04T10:00:00Z')), 'any window will do')
})

t.test('how a window reads', async (t) => {
  t.equal(describeWindows([berlin]), 'Mon–Thu 09:00–16:00 Europe/Berlin')
  t.equal(describeWindows([{ days: ['sat', 'mon', 'tue'], from: 30, to: 24 * 60, timeZone: 'UTC' }]), 'Mon, Tue, Sat 00:30–24:00 UTC')
})
