/** Reading named cookies from a Cookie header, and writing one Set-Cookie value. */

export function readCookie (header: string | string[] | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  for (const line of Array.isArray(header) ? header : [header]) {
    for (const part of line.split(';')) {
      const eq = part.indexOf('=')
      if (eq === -1 || part.slice(0, eq).trim() !== name) continue
      let value = part.slice(eq + 1).trim()
      if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1)
      try {
        return decodeURIComponent(value)
      } catch {
        return value
      }
    }
  }
  return undefined
}

export interface CookieOptions {
  maxAge: number
  secure: boolean
  sameSite: 'lax' | 'strict' | 'none'
}

export function serializeCookie (name: string, value: string, o: CookieOptions): string {
  const sameSite = o.sameSite[0]?.toUpperCase() + o.sameSite.slice(1)
  return `${name}=${encodeURIComponent(value)}; Path=/; Max-Age=${Math.floor(o.maxAge / 1000)}; HttpOnly; SameSite=${sameSite}` +
    (o.secure || o.sameSite === 'none' ? '; Secure' : '')
}
