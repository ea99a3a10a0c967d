/** Credentials in a URL (user:password@) never reach a log line, an error or an admin answer. */
export function redactUrl (url: string): string {
  if (!URL.canParse(url)) return url.replace(/\/\/[^/@]*@/, '//***@')
  const u = new URL(url)
  if (u.username === '' && u.password === '') return url
  u.username = '***'
  u.password = ''
  return u.toString()
}
