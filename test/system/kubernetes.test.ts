/**
 * The Kubernetes manifests, checked without a cluster: each overlay rendered by the
 * real `kubectl kustomize`, every object validated against the Kubernetes OpenAPI
 * schemas and the Prometheus operator's CRDs (kubernetes-models), and the policy a
 * reviewer would hold them to.
 */
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseAllDocuments, parse } from 'yaml'
import { ROOT } from '../helpers/proxy.js'
import { parseConfig } from '../../src/config/config.js'
import { parseFlags } from '../../src/flags/features-file.js'

type Obj = { apiVersion: string, kind: string, metadata: { name: string }, spec?: Record<string, unknown>, data?: Record<string, string> }
interface Container { name: string, image: string, readinessProbe?: unknown, livenessProbe?: unknown, resources?: { requests?: Record<string, string>, limits?: Record<string, string> }, securityContext?: { readOnlyRootFilesystem?: boolean, allowPrivilegeEscalation?: boolean }, lifecycle?: { preStop?: { sleep?: { seconds: number } } } }
interface PodSpec { containers: Container[], securityContext?: { runAsNonRoot?: boolean }, terminationGracePeriodSeconds?: number }

const kubectlMissing = spawnSync('kubectl', ['version', '--client']).error !== undefined

function render (overlay: string): Obj[] {
  const out = spawnSync('kubectl', ['kustomize', join(ROOT, 'deploy/kubernetes/overlays', overlay)], { encoding: 'utf8' })
  if (out.status !== 0) throw new Error(out.stderr)
  return parseAllDocuments(out.stdout).map((d) => d.toJS() as Obj)
}

/** The kubernetes-models class for an object's apiVersion and kind. */
async function model (o: Obj): Promise<new (data: unknown) => { validate: () => void }> {
  const [group, version] = o.apiVersion.includes('/') ? o.apiVersion.split('/') as [string, string] : ['', o.apiVersion]
  const path = group === 'monitoring.coreos.com'
    ? `@kubernetes-models/prometheus-operator/${group}/${version}/${o.kind}`
    : `kubernetes-models/${group === '' ? '' : `${group}/`}${version}/${o.kind}`
  const mod = await import(path) as Record<string, new (data: unknown) => { validate: () => void }>
  return mod[o.kind] as new (data: unknown) => { validate: () => void }
}

const podSpec = (o: Obj): PodSpec => ((o.spec as { template: { spec: PodSpec } }).template.spec)

for (const overlay of ['dev', 'production']) {
  t.test(`overlay ${overlay}: renders, validates and holds the policy`, async (t) => {
    if (kubectlMissing) {
      if (process.env.STRANGLER_REQUIRE_KUBECTL === '1') throw new Error('kubectl is not installed (apt-get install kubectl)')
      t.pass('kubectl kustomize', { skip: 'kubectl not installed' })
      return
    }
    const objects = render(overlay)
    for (const o of objects) {
      const Model = await model(o)
      t.doesNotThrow(() => new Model(o).validate(), `${o.kind}/${o.metadata.name} is valid against its schema`)
    }
    const kinds = objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()
    const deployments = objects.filter((o) => o.kind === 'Deployment')
    for (const d of deployments) {
      const pod = podSpec(d)
      t.equal(pod.securityContext?.runAsNonRoot, true, `${d.metadata.name}: non-root`)
      for (const c of pod.containers) {
        t.match(c.image, /^[^:]+:(?!latest$)[\w.-]+$/, `${c.name}: a pinned tag, never latest (${c.image})`)
        t.ok(c.readinessProbe !== undefined && c.livenessProbe !== undefined, `${c.name}: probes`)
        t.ok(c.resources?.requests?.cpu !== undefined && c.resources.requests.memory !== undefined && c.resources.limits?.memory !== undefined, `${c.name}: requests and limits`)
        t.equal(c.securityContext?.readOnlyRootFilesystem, true, `${c.name}: read-only root filesystem`)
        t.equal(c.securityContext?.allowPrivilegeEscalation, false, `${c.name}: no privilege escalation`)
      }
    }
    const proxy = deployments.find((d) => d.metadata.name === 'strangler-proxy') as Obj
    const container = podSpec(proxy).containers[0] as Container
    const config = objects.find((o) => o.kind === 'ConfigMap') as Obj
    const routes = parseConfig(config.data?.['routes.yaml'] ?? '', 'routes.yaml')
    t.ok((podSpec(proxy).terminationGracePeriodSeconds ?? 30) * 1000 > routes.shutdown.timeout + (container.lifecycle?.preStop?.sleep?.seconds ?? 0) * 1000, 'the grace period covers the preStop pause and the drain')
    t.equal(routes.admin.host, '0.0.0.0', 'the admin port is reachable by the probes in the pod')
    t.doesNotThrow(() => parseFlags(config.data?.['flags.yaml'] ?? '', 'flags.yaml'), 'flags.yaml is a valid flags file')
    const rule = objects.find((o) => o.kind === 'PrometheusRule') as Obj
    t.same(rule.spec, parse(readFileSync(join(ROOT, 'deploy/prometheus/rules/strangler.rules.yml'), 'utf8')), 'the PrometheusRule is deploy/prometheus/rules, unchanged (npm run k8s:rules)')
    t.ok(objects.some((o) => o.kind === 'NetworkPolicy' && JSON.stringify(o.spec).includes('"port":"admin"')), 'the admin port is fenced by a NetworkPolicy')
    if (overlay === 'dev') {
      t.equal((proxy.spec as { replicas: number }).replicas, 1)
      t.equal(routes.flags?.unleash, undefined, 'file flags')
      t.notOk(kinds.some((k) => k.startsWith('HorizontalPodAutoscaler/')), 'no autoscaler for one replica')
    } else {
      t.equal((proxy.spec as { replicas: number }).replicas, 3)
      t.ok(routes.flags?.unleash !== undefined, 'flags from Unleash')
      t.equal(routes.ramps.driver, 'fleet', 'the replicas leave ramps to the driver')
      const driver = deployments.find((d) => d.metadata.name === 'strangler-ramp-driver') as Obj
      t.match(driver.spec, { replicas: 1, strategy: { type: 'Recreate' } }, 'exactly one ramp driver, even during a rollout')
      t.match(podSpec(driver).containers[0]?.image, /^strangler-proxy:0\.1\.0$/)
      for (const k of ['PodDisruptionBudget/strangler-proxy', 'HorizontalPodAutoscaler/strangler-proxy', 'ServiceMonitor/strangler-proxy', 'Service/strangler-ramp-driver']) t.ok(kinds.includes(k), k)
      t.same((podSpec(driver).containers[0] as Container & { args?: string[] }).args?.slice(0, 1), ['control'], 'the driver runs as the fleet\'s control plane')
      const fromControl = objects.find((o) => o.kind === 'NetworkPolicy' && o.metadata.name === 'strangler-proxy-from-control-plane')
      t.match(fromControl?.spec, { podSelector: { matchLabels: { 'app.kubernetes.io/component': 'proxy' } }, ingress: [{ ports: [{ port: 'admin' }], from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/component': 'ramp-driver' } } }] }] }, 'which may ask the replicas\' admin ports for their timelines and status')
    }
  })
}
