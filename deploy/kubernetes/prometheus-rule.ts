/**
 * Writes base/prometheusrule.yaml from deploy/prometheus/rules/strangler.rules.yml, so
 * the alerts have one source: npm run k8s:rules (a test checks they are equal).
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parse, stringify } from 'yaml'

const rules = fileURLToPath(new URL('../prometheus/rules/strangler.rules.yml', import.meta.url))
const out = fileURLToPath(new URL('base/prometheusrule.yaml', import.meta.url))
const doc = {
  apiVersion: 'monitoring.coreos.com/v1',
  kind: 'PrometheusRule',
  metadata: { name: 'strangler-proxy' },
  spec: parse(readFileSync(rules, 'utf8')) as unknown
}
writeFileSync(out, '# Generated from deploy/prometheus/rules/strangler.rules.yml by npm run k8s:rules; edit that file.\n' + stringify(doc, { lineWidth: 0 }))
