/**
 * The fleet's status page (GET /status on `strangler-proxy control`): the share on new
 * backends summed over every replica by Prometheus, each route's state and live split,
 * each replica's guard, and every replica with whether it answered and what drifts.
 * A replica that does not answer is shown as such, never left out.
 */
import { badge, esc, pct, STYLE } from './html.js'
import type { FleetStatus } from './fleet.js'
import type { InventoryEntry } from './inventory.js'

function guards (g: Readonly<Record<string, string | null>>): string {
  const open = Object.entries(g).filter(([, state]) => state !== null && state !== 'closed')
  if (Object.keys(g).length === 0) return '–'
  return open.length === 0 ? 'closed on every replica' : open.map(([replica, state]) => `${esc(replica)}: ${esc(state as string)}`).join('<br>')
}

function replicaRow (r: FleetStatus['replicas'][number]): string {
  const state = !r.answered
    ? (r.up ? 'not answering' : 'down')
    : !r.up ? (r.scraped ? 'answers, but Prometheus does not reach it' : 'answers, but Prometheus does not scrape it') : r.drift.length > 0 ? `drifted: ${r.drift.join(', ')}` : 'in step'
  return `<tr data-replica="${esc(r.replica)}"><th scope="row">${esc(r.replica)}</th><td class="${state === 'in step' ? '' : 'verdict-not'}">${esc(state)}</td><td>${esc(r.error ?? '')}</td></tr>`
}

export function fleetStatusPage (s: FleetStatus, inventory: readonly InventoryEntry[], refreshSeconds = 15, operator?: string): string {
  const answered = s.replicas.filter((r) => r.answered).length
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="refresh" content="${refreshSeconds}">
<title>Fleet migration status · strangler-proxy</title><style>${STYLE}</style></head>
<body><header><h1>Fleet migration status</h1><p>strangler-proxy control · config ${esc(s.configVersion ?? 'unknown')} · ${answered} of ${s.replicas.length} replicas answered · refreshes every ${refreshSeconds} s</p>${operator === undefined ? '' : `<form method="post" action="/status/logout" class="signed-in">Signed in as <strong>${esc(operator)}</strong> <button type="submit">Sign out</button></form>`}</header>
<main>
<section aria-labelledby="overall"><h2 id="overall">Overall</h2><div class="summary">
<div class="figure" id="new-share">${pct(s.overall.newShare)}<small>of requests on new backends, every replica (last 5 min, ${s.overall.requests} requests, summed by Prometheus)</small></div>
</div></section>
<section aria-labelledby="replicas"><h2 id="replicas">Replicas</h2><table>
<caption>Every replica Prometheus scrapes or ramps.replicas lists: down, not answering this control plane, drifted (its routes.yaml or flag definitions differ from the rest), not scraped by Prometheus, or in step.</caption>
<thead><tr><th scope="col">Replica</th><th scope="col">State</th><th scope="col">Why</th></tr></thead>
<tbody>${s.replicas.map(replicaRow).join('\n')}</tbody></table></section>
<section aria-labelledby="routes"><h2 id="routes">Routes</h2><table>
<caption>Each route's state and rollout as the replicas' routes.yaml and flags say, the live split over every replica, and the guard of each replica.</caption>
<thead><tr><th scope="col">Route</th><th scope="col">State</th><th scope="col">Live split</th><th scope="col">Guard</th></tr></thead>
<tbody>${s.routes.map((r) => `<tr data-route="${esc(r.name)}"><th scope="row">${esc(r.name)}<br><small>${esc(r.path)}</small></th><td>${badge(r)}</td><td class="num">${pct(r.liveSplit)}</td><td>${guards(r.guards)}</td></tr>`).join('\n')}</tbody></table></section>
<section aria-labelledby="inventory"><h2 id="inventory">What is left to migrate</h2>${inventory.length === 0
    ? '<p>No replica that answered has seen legacy serve anything through catch-all routes.</p>'
    : '<table><caption>Requests legacy served through catch-all routes, summed over the replicas that answered, most first.</caption><thead><tr><th scope="col">Method</th><th scope="col">Path template</th><th scope="col">Route</th><th scope="col">Requests</th></tr></thead><tbody>' +
      inventory.slice(0, 100).map((e) => `<tr><td>${esc(e.method)}</td><th scope="row">${esc(e.template)}</th><td>${esc(e.route)}</td><td class="num">${e.requests}</td></tr>`).join('') + '</tbody></table>'}</section>
</main><footer>Generated ${esc(s.generatedAt)} · <a href="/status.json">status.json</a> · <a href="/inventory">inventory</a> · <a href="/timeline">timeline</a> · <a href="/fleet">fleet</a> · <a href="/ramp">ramp</a></footer></body></html>
`
}
