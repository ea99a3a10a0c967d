/** Credentials in a URL (user:password@) never reach a log line, an error or an admin answer. */
export function redactUrl (url: string): string {
  if (!URL.canParse(url)) return url.replace(/\/\/[^/@]*@/, '//***@')
  const u = new URL(url)
  if (u.username === '' && u.password === '') return url
  u.username = '***'
  u.password = ''
  return u.toString()
}

/**
 * A URL with the values of `names` (lower-case parameter names) in its query replaced:
 * `?access_token=abc&page=2` → `?access_token=REDACTED&page=2`. The rest is left
 * byte for byte. Cheap when there is no query.
 */
export function redactQuery (url: string, names: ReadonlySet<string>): string {
  const q = url.indexOf('?')
  if (q === -1) return url
  const pairs = url.slice(q + 1).split('&').map((pair) => {
    const eq = pair.indexOf('=')
    const name = eq === -1 ? pair : pair.slice(0, eq)
    return eq !== -1 && names.has(safeDecode(name).toLowerCase()) ? `${name}=REDACTED` : pair
  })
  return `${url.slice(0, q + 1)}${pairs.join('&')}`
}

function safeDecode (s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '))
  } catch {
    return s
  }
}
