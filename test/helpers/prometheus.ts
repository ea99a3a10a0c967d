/** A real Prometheus (Debian's package) scraping the given admin ports every second. */
import { spawn, spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { request } from 'undici'
import { freePort } from './free-port.js'
import { tempDir, sleep, type T } from './proxy.js'

/** Why Prometheus cannot run here, or undefined. */
export function prometheusMissing (): string | undefined {
  return spawnSync('prometheus', ['--version']).error === undefined ? undefined : 'prometheus is not installed (apt-get install prometheus)'
}

export interface Prometheus {
  /** Base URL of the HTTP API. */
  readonly api: string
  query (expr: string): Promise<{ status: string, error?: string, data?: { result: Array<{ metric: Record<string, string>, value: [number, string] }> } }>
}

/** Starts Prometheus on `port` (a free one when omitted) and waits until it is ready. */
export async function startPrometheus (t: T, targets: readonly string[], opts: { port?: number, ruleFiles?: readonly string[], args?: readonly string[], alertmanager?: string } = {}): Promise<Prometheus> {
  const dir = tempDir(t)
  const port = opts.port ?? await freePort()
  writeFileSync(join(dir, 'prometheus.yml'), `global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: ${JSON.stringify(opts.ruleFiles ?? [])}
${opts.alertmanager === undefined ? '' : `alerting: { alertmanagers: [ { static_configs: [ { targets: ["${opts.alertmanager}"] } ] } ] }`}
scrape_configs:
  - job_name: strangler-proxy
    static_configs: [ { targets: ${JSON.stringify(targets)} } ]
`)
  const prom = spawn('prometheus', [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    ...(opts.args ?? [])
  ], { stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  prom.stderr.on('data', (c: Buffer) => { log = (log + c.toString()).slice(-4000) })
  t.teardown(() => { prom.kill('SIGKILL') })
  const api = `http://127.0.0.1:${port}`
  for (let i = 0; ; i++) {
    try {
      const res = await request(`${api}/-/ready`)
      await res.body.dump()
      if (res.statusCode === 200) break
    } catch {
      // Not listening yet.
    }
    if (i > 100) throw new Error(`prometheus did not start: ${log}`)
    await sleep(100)
  }
  return {
    api,
    query: async (expr) => {
      const res = await request(`${api}/api/v1/query?query=${encodeURIComponent(expr)}`)
      return await res.body.json() as Awaited<ReturnType<Prometheus['query']>>
    }
  }
}

/** Why Alertmanager cannot run here, or undefined. */
export function alertmanagerMissing (): string | undefined {
  return spawnSync('prometheus-alertmanager', ['--version']).error === undefined ? undefined : 'alertmanager is not installed (apt-get install prometheus-alertmanager)'
}

/** A real Alertmanager (Debian's package) with `config` (YAML); its host:port for Prometheus. */
export async function startAlertmanager (t: T, config: string): Promise<string> {
  const dir = tempDir(t)
  const port = await freePort()
  writeFileSync(join(dir, 'alertmanager.yml'), config)
  const am = spawn('prometheus-alertmanager', [
    `--config.file=${join(dir, 'alertmanager.yml')}`,
    `--storage.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    '--cluster.listen-address='
  ], { stdio: ['ignore', 'ignore', 'pipe'] })
  let log = ''
  am.stderr.on('data', (c: Buffer) => { log = (log + c.toString()).slice(-4000) })
  t.teardown(() => { am.kill('SIGKILL') })
  for (let i = 0; ; i++) {
    try {
      const res = await request(`http://127.0.0.1:${port}/-/ready`)
      await res.body.dump()
      if (res.statusCode === 200) break
    } catch {
      // Not listening yet.
    }
    if (i > 100) throw new Error(`alertmanager did not start: ${log}`)
    await sleep(100)
  }
  return `127.0.0.1:${port}`
}
