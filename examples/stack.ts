/**
 * Starts the demo's two apps as child processes: the legacy app (Node) and the
 * Django service (Django's own server, on Debian's python3-django or any Python
 * with Django). Used by `npm run demo` and the end-to-end test.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { request } from 'undici'

export const EXAMPLES = dirname(fileURLToPath(import.meta.url))
/** Debian's python3-django is visible to /usr/bin/python3 only; DJANGO_PYTHON picks another. */
export const PYTHON = process.env.DJANGO_PYTHON ?? '/usr/bin/python3'
export const SESSION_SECRET = process.env.SESSION_SECRET ?? 'strangler-demo-secret'

export interface App {
  readonly name: string
  readonly url: string
  readonly child: ChildProcess
  output (): string
  stop (): Promise<void>
}

/** Why Django cannot run, or undefined when it can (PyJWT with cryptography verifies the proxy's identity token). */
export function djangoMissing (): string | undefined {
  const probe = spawnSync(PYTHON, ['-c', 'import django, jwt, cryptography'])
  if (probe.error !== undefined) return `${PYTHON} not found`
  return probe.status === 0 ? undefined : `${PYTHON} cannot import django, jwt or cryptography`
}

/**
 * Makes Django importable: as root with apt-get, installs Debian's python3-django;
 * otherwise returns the exact command to run.
 */
export function ensureDjango (log: (line: string) => void): string | undefined {
  const missing = djangoMissing()
  if (missing === undefined) return undefined
  const isRoot = process.getuid?.() === 0
  const hasApt = spawnSync('apt-get', ['--version']).error === undefined
  if (isRoot && hasApt && PYTHON === '/usr/bin/python3') {
    log(`${missing}; installing Debian's packages (apt-get install -y python3-django python3-jwt python3-cryptography)…`)
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env })
    const install = spawnSync('apt-get', ['install', '-y', '-qq', 'python3-django', 'python3-jwt', 'python3-cryptography'], { stdio: 'inherit', env })
    if (install.status === 0 && djangoMissing() === undefined) return undefined
  }
  return `${missing}. Install them with:\n  sudo apt-get install -y python3-django python3-jwt python3-cryptography\nor, for another Python:\n  pip install -r examples/django-service/requirements.txt && DJANGO_PYTHON=$(which python3) npm run demo`
}

async function waitHealthy (app: App, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs
  for (;;) {
    if (app.child.exitCode !== null || app.child.signalCode !== null) throw new Error(`${app.name} exited: ${app.output()}`)
    try {
      const res = await request(`${app.url}/healthz`)
      await res.body.dump()
      if (res.statusCode === 200) return
    } catch {
      // Not listening yet.
    }
    if (Date.now() > end) throw new Error(`${app.name} did not become healthy at ${app.url}: ${app.output()}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

function start (name: string, command: string, args: string[], cwd: string, env: Record<string, string>, url: string): App {
  const child = spawn(command, args, { cwd, env: { ...process.env, SESSION_SECRET, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  const keep = (c: Buffer): void => { out = (out + c.toString()).slice(-4000) }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  return {
    name,
    url,
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }
  }
}

export async function startLegacy (port: number): Promise<App> {
  const app = start('legacy app', process.execPath, [join(EXAMPLES, 'legacy-app', 'server.js')], EXAMPLES, { PORT: String(port), HOST: '127.0.0.1' }, `http://127.0.0.1:${port}`)
  await waitHealthy(app)
  return app
}

/**
 * `env`: STRANGLER_JWKS_URL turns on the check of the proxy's identity token
 * (docs/identity.md); DJANGO_ADMIN=1 with DJANGO_DB adds Django's admin, its database
 * migrated first.
 */
export async function startDjango (port: number, env: Record<string, string> = {}): Promise<App> {
  const dir = join(EXAMPLES, 'django-service')
  if (env.DJANGO_ADMIN === '1') {
    const migrate = spawnSync(PYTHON, ['manage.py', 'migrate', '--noinput'], { cwd: dir, env: { ...process.env, ...env }, encoding: 'utf8' })
    if (migrate.status !== 0) throw new Error(`Django service: manage.py migrate failed: ${migrate.stderr}`)
  }
  const app = start('Django service', PYTHON, ['manage.py', 'runserver', `127.0.0.1:${port}`, '--noreload'], dir, env, `http://127.0.0.1:${port}`)
  await waitHealthy(app)
  return app
}
