/**
 * The fleet's status page (GET /status on `strangler-proxy control`): the share on new
 * backends summed over every replica by Prometheus, each route's state and live split,
 * each replica's guard, and every replica with whether it answered and what drifts.
 * A replica that does not answer is shown as such, never left out. A --workers primary
 * shows its workers on the same page, their figures summed by the primary.
 */
import { badge, esc, pct, STYLE } from './html.js'
import type { FleetStatus } from './fleet.js'
import type { InventoryEntry } from './inventory.js'

/** Whose page it is: the control plane's replicas, or one process's workers. */
export type FleetPageKind = 'control' | 'workers'

const WORDS: Record<FleetPageKind, { title: string, by: string, unit: string, summed: string, listed: string, links: string }> = {
  control: {
    title: 'Fleet migration status',
    by: 'strangler-proxy control',
    unit: 'replica',
    summed: 'last 5 min, {n} requests, summed by Prometheus',
    listed: 'Every replica Prometheus scrapes or ramps.replicas lists: down, not answering this control plane, drifted (its routes.yaml or flag definitions differ from the rest), not scraped by Prometheus, or in step.',
    links: '<a href="/fleet">fleet</a> · <a href="/ramp">ramp</a>'
  },
  workers: {
    title: 'Migration status',
    by: 'strangler-proxy --workers',
    unit: 'worker',
    summed: "{n} requests over the workers' figures window, summed by the primary",
    listed: 'Every worker of this process: not answering the primary (or being started again), drifted (its routes.yaml or flag definitions differ from the rest), or in step.',
    links: '<a href="/metrics">metrics</a>'
  }
}

function guards (g: Readonly<Record<string, string | null>>, unit: string): string {
  const open = Object.entries(g).filter(([, state]) => state !== null && state !== 'closed')
  if (Object.keys(g).length === 0) return '–'
  return open.length === 0 ? `closed on every ${unit}` : open.map(([replica, state]) => `${esc(replica)}: ${esc(state as string)}`).join('<br>')
}

function replicaRow (r: FleetStatus['replicas'][number]): string {
  const state = !r.answered
    ? (r.up ? 'not answering' : 'down')
    : !r.up ? (r.scraped ? 'answers, but Prometheus does not reach it' : 'answers, but Prometheus does not scrape it') : r.drift.length > 0 ? `drifted: ${r.drift.join(', ')}` : 'in step'
  return `<tr data-replica="${esc(r.replica)}"><th scope="row">${esc(r.replica)}</th><td class="${state === 'in step' ? '' : 'verdict-not'}">${esc(state)}</td><td>${esc(r.error ?? '')}</td></tr>`
}

export function fleetStatusPage (s: FleetStatus, inventory: readonly InventoryEntry[], refreshSeconds = 15, operator?: string, kind: FleetPageKind = 'control'): string {
  const w = WORDS[kind]
  const answered = s.replicas.filter((r) => r.answered).length
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="refresh" content="${refreshSeconds}">
<title>${w.title} · strangler-proxy</title><style>${STYLE}</style></head>
<body><header><h1>${w.title}</h1><p>${w.by} · config ${esc(s.configVersion ?? 'unknown')} · ${answered} of ${s.replicas.length} ${w.unit}s answered · refreshes every ${refreshSeconds} s</p>${operator === undefined ? '' : `<form method="post" action="/status/logout" class="signed-in">Signed in as <strong>${esc(operator)}</strong> <button type="submit">Sign out</button></form>`}</header>
<main>
<section aria-labelledby="overall"><h2 id="overall">Overall</h2><div class="summary">
<div class="figure" id="new-share">${pct(s.overall.newShare)}<small>of requests on new backends, every ${w.unit} (${w.summed.replace('{n}', String(s.overall.requests))})</small></div>
</div></section>
<section aria-labelledby="replicas"><h2 id="replicas">${capital(w.unit)}s</h2><table>
<caption>${w.listed}</caption>
<thead><tr><th scope="col">${capital(w.unit)}</th><th scope="col">State</th><th scope="col">Why</th></tr></thead>
<tbody>${s.replicas.map(replicaRow).join('\n')}</tbody></table></section>
<section aria-labelledby="routes"><h2 id="routes">Routes</h2><table>
<caption>Each route's state and rollout as the ${w.unit}s' routes.yaml and flags say, the live split over every ${w.unit}, and the guard of each ${w.unit}.</caption>
<thead><tr><th scope="col">Route</th><th scope="col">State</th><th scope="col">Live split</th><th scope="col">Guard</th></tr></thead>
<tbody>${s.routes.map((r) => `<tr data-route="${esc(r.name)}"><th scope="row">${esc(r.name)}<br><small>${esc(r.path)}</small></th><td>${badge(r)}</td><td class="num">${pct(r.liveSplit)}</td><td>${guards(r.guards, w.unit)}</td></tr>`).join('\n')}</tbody></table></section>
<section aria-labelledby="inventory"><h2 id="inventory">What is left to migrate</h2>${inventory.length === 0
    ? `<p>No ${w.unit} that answered has seen legacy serve anything through catch-all routes.</p>`
    : `<table><caption>Requests legacy served through catch-all routes, summed over the ${w.unit}s that answered, most first.</caption><thead><tr><th scope="col">Method</th><th scope="col">Path template</th><th scope="col">Route</th><th scope="col">Requests</th></tr></thead><tbody>` +
      inventory.slice(0, 100).map((e) => `<tr><td>${esc(e.method)}</td><th scope="row">${esc(e.template)}</th><td>${esc(e.route)}</td><td class="num">${e.requests}</td></tr>`).join('') + '</tbody></table>'}</section>
</main><footer>Generated ${esc(s.generatedAt)} · <a href="/status.json">status.json</a> · <a href="/inventory">inventory</a> · <a href="/timeline">timeline</a> · ${w.links}</footer></body></html>
`
}

function capital (word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1)
}
