/** True when the runtime knows the zone (an IANA name such as Europe/Berlin, or UTC). */
export function knownTimeZone (timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone })
    return true
  } catch {
    return false
  }
}
