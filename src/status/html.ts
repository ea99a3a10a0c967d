/**
 * The status page: one self-contained HTML document (no scripts or assets from
 * anywhere, readable without JavaScript, refreshed by a meta tag), built from the
 * same report as /status.json. States are words and symbols, never colour alone.
 */
import type { BackendFigures, RouteStatus, StatusReport } from './report.js'
import type { CoverageState } from '../coverage/reconcile.js'

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }
export const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => ESCAPES[c] as string)

export const pct = (x: number | null, digits = 1): string => x === null ? '–' : `${(x * 100).toFixed(digits)} %`
const ms = (s: number | null): string => s === null ? '–' : `${(s * 1000).toFixed(s < 0.01 ? 1 : 0)} ms`

/** Badge colours: every pair has a contrast ratio above 7:1 (checked in the browser test). */
const BADGES: Record<RouteStatus['state'], { symbol: string, label: (r: Pick<RouteStatus, 'rollout'>) => string }> = {
  legacy: { symbol: '○', label: () => 'Legacy' },
  migrating: { symbol: '◐', label: (r) => r.rollout === null ? 'Migrating' : `Migrating · ${r.rollout} %` },
  migrated: { symbol: '●', label: () => 'Migrated' },
  ready: { symbol: '✓', label: () => 'Ready to retire' }
}

export const STYLE = `
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1a202c;background:#fff}
header,main,footer{max-width:1280px;margin:0 auto;padding:0 20px}
h1{font-size:26px;margin:20px 0 4px}h2{font-size:20px;margin:28px 0 8px}h3{font-size:16px;margin:16px 0 4px}
.summary{display:flex;flex-wrap:wrap;gap:28px;margin:8px 0}.figure{font-size:30px;font-weight:700}.figure small{display:block;font-size:13px;font-weight:400;color:#2d3748}
progress{width:320px;height:14px}
table{border-collapse:collapse;width:100%;font-size:14px}caption{text-align:left;color:#2d3748;padding:4px 0}
th,td{border-bottom:1px solid #cbd5e0;padding:6px 8px;text-align:left;vertical-align:top}thead th{background:#edf2f7}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.badge{display:inline-block;border-radius:4px;padding:1px 8px;font-weight:600;white-space:nowrap}
.badge-legacy{background:#e2e8f0;color:#1a202c}.badge-migrating{background:#fefcbf;color:#5f370e}
.badge-migrated{background:#c6f6d5;color:#1c4532}.badge-ready{background:#bee3f8;color:#1a365d}
.verdict-ready{color:#1c4532}.verdict-not{color:#742a2a}
ul.checks{margin:4px 0 12px;padding-left:20px}ul.events{margin:0;padding-left:16px;font-size:13px}
a{color:#2b6cb0}footer{color:#2d3748;font-size:13px;margin:24px auto}`

export function badge (r: Pick<RouteStatus, 'state' | 'rollout'>): string {
  const b = BADGES[r.state]
  return `<span class="badge badge-${r.state}" data-state="${r.state}"><span aria-hidden="true">${b.symbol}</span> ${esc(b.label(r))}</span>`
}

function figures (list: readonly BackendFigures[]): string {
  if (list.length === 0) return '<td>–</td>'
  return `<td>${list.map((b) => `${esc(b.backend)}: ${b.requests} req · ${pct(b.errorRatio, 2)} 5xx · p99 ${ms(b.p99)}`).join('<br>')}</td>`
}

function routeRow (r: RouteStatus): string {
  const ramp = r.ramp === null ? '–' : `${r.ramp.percent} % → ${r.ramp.next === null ? 'done' : `${r.ramp.next} %`} (${esc(r.ramp.state.replace('_', ' '))})<br><small>${esc(r.ramp.reason)}</small>`
  const parity = r.parity === null ? '–' : `<a href="/parity#${encodeURIComponent(r.name)}">${pct(r.parity, 2)}</a>`
  const events = r.events.length === 0 ? '–' : `<ul class="events">${r.events.map((e) => `<li><time datetime="${esc(e.time)}">${esc(e.time.slice(5, 16).replace('T', ' '))}</time> ${esc(e.summary)}</li>`).join('')}</ul>`
  return `<tr data-route="${esc(r.name)}"><th scope="row">${esc(r.name)}<br><small>${esc((r.host ?? '') + r.path)}</small></th>` +
    `<td>${badge(r)}${r.retire?.sunset == null ? '' : `<br><small class="sunset">legacy sunset ${esc(r.retire.sunset.slice(0, 10))}</small>`}</td><td class="num">${r.rollout === null ? '–' : `${r.rollout} %`}</td><td class="num">${pct(r.liveSplit)}</td>` +
    `<td>${ramp}</td><td>${r.guard === null ? '–' : esc(r.guard)}</td><td class="num">${parity}</td>` +
    figures(r.backends.filter((b) => b.role === 'legacy')) + figures(r.backends.filter((b) => b.role === 'new')) + `<td>${events}</td></tr>`
}

function readinessBlock (r: RouteStatus): string {
  if (r.readiness === null) return ''
  const verdict = r.readiness.ready ? '<span class="verdict-ready">READY</span>' : '<span class="verdict-not">NOT READY</span>'
  const mark = (pass: boolean | undefined): string => pass === true ? '<span aria-label="passed">✓</span>' : pass === false ? '<span aria-label="failed">✗</span>' : '<span aria-label="no evidence">–</span>'
  return `<section class="readiness" data-route="${esc(r.name)}" aria-labelledby="ready-${esc(r.name)}"><h3 id="ready-${esc(r.name)}">${esc(r.name)}: ${verdict}</h3>` +
    `<ul class="checks">${r.readiness.checks.map((c) => `<li>${mark(c.pass)} ${esc(c.detail)}</li>`).join('')}</ul></section>`
}

const COVERAGE_LABELS: ReadonlyArray<readonly [CoverageState, string]> = [
  ['routed-not-implemented', 'routed, not implemented'], ['no-route', 'no route'], ['ported-not-routed', 'ported, not routed'], ['legacy-only', 'legacy only'],
  ['unused', 'unused'], ['migrating', 'migrating'], ['migrated', 'migrated'], ['ready', 'ready to retire']
]

function coverageBlock (c: NonNullable<StatusReport['coverage']>): string {
  const errors = c.sourceErrors.length === 0 ? '' : `<p class="verdict-not" role="alert">Not read: ${c.sourceErrors.map((e) => `${esc(e.backend)} (${esc(e.error)})`).join('; ')}. Those backends count as declaring nothing known.</p>`
  const warning = c.counts['routed-not-implemented'] === 0 ? '' : `<p class="verdict-not" id="not-implemented"><span aria-hidden="true">✗</span> ${c.counts['routed-not-implemented']} endpoint${c.counts['routed-not-implemented'] === 1 ? ' is' : 's are'} routed to a backend that does not declare ${c.counts['routed-not-implemented'] === 1 ? 'it' : 'them'}.</p>`
  return `<div class="summary"><div class="figure" id="declared-migrated">${pct(c.migratedShare)}<small>of ${c.endpoints} declared endpoints migrated</small></div></div>${warning}${errors}` +
    `<table id="coverage-counts"><caption>Declared endpoints by state; traffic counted since ${esc(c.since.slice(0, 10))}. Every row: <a href="/coverage">/coverage</a>.</caption>` +
    `<thead><tr><th scope="col">State</th><th scope="col">Endpoints</th></tr></thead><tbody>${COVERAGE_LABELS.map(([state, label]) => `<tr data-state="${state}"><th scope="row">${label}</th><td class="num">${c.counts[state]}</td></tr>`).join('')}</tbody></table>`
}

/** `operator`: who is signed in, shown with a sign-out button (undefined on an open port). */
export function statusPage (s: StatusReport, refreshSeconds = 15, operator?: string): string {
  const windowMin = Math.max(1, Math.round(s.windowMs / 60_000))
  const migratedRoutes = s.routes.filter((r) => r.readiness !== null)
  const inventory = s.inventory.entries.length === 0
    ? '<p>Legacy served nothing through catch-all routes since the proxy started.</p>'
    : `<table><caption>Requests legacy served through catch-all routes since the proxy started, most first${s.inventory.other > 0 ? `; ${s.inventory.other} more requests beyond the template limits` : ''}${s.inventory.notFound + s.inventory.failed > 0 ? `; not listed: ${s.inventory.notFound} answered 404, ${s.inventory.failed} failed` : ''}.</caption>` +
      '<thead><tr><th scope="col">Method</th><th scope="col">Path template</th><th scope="col">Route</th><th scope="col">Requests</th><th scope="col">Share of traffic</th><th scope="col">Last seen</th></tr></thead><tbody>' +
      s.inventory.entries.slice(0, 100).map((e) => `<tr><td>${esc(e.method)}</td><th scope="row">${esc(e.template)}</th><td>${esc(e.route)}</td><td class="num">${e.requests}</td><td class="num">${pct(e.share, 2)}</td><td><time datetime="${esc(e.lastSeen)}">${esc(e.lastSeen.replace('T', ' ').slice(0, 19))}</time></td></tr>`).join('') +
      '</tbody></table>'
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="refresh" content="${refreshSeconds}">
<title>Migration status · strangler-proxy</title><style>${STYLE}</style></head>
<body><header><h1>Migration status</h1><p>strangler-proxy · config ${esc(s.configVersion)} · figures over the last ${windowMin} min · refreshes every ${refreshSeconds} s</p>${operator === undefined ? '' : `<form method="post" action="/status/logout" class="signed-in">Signed in as <strong>${esc(operator)}</strong> <button type="submit">Sign out</button></form>`}</header>
<main>
<section aria-labelledby="overall"><h2 id="overall">Overall</h2><div class="summary">
<div class="figure" id="new-share">${pct(s.overall.newShare)}<small>of requests on new backends (last ${windowMin} min, ${s.overall.requests} requests)</small></div>
<div class="figure" id="routes-migrated">${s.overall.migrated} of ${s.overall.routes}<small>routes migrated</small></div>
<div class="figure" id="routes-ready">${s.overall.ready}<small>ready to retire</small></div>
</div><label for="progress">Routes migrated</label> <progress id="progress" max="${s.overall.routes}" value="${s.overall.migrated}">${s.overall.migrated} of ${s.overall.routes}</progress></section>
<section aria-labelledby="routes"><h2 id="routes">Routes</h2><table>
<caption>Each route's state, rollout and the live split; both backends' requests, 5xx ratio and p99 over the last ${windowMin} min.</caption>
<thead><tr><th scope="col">Route</th><th scope="col">State</th><th scope="col">Rollout</th><th scope="col">Live split</th><th scope="col">Ramp</th><th scope="col">Guard</th><th scope="col">Parity</th><th scope="col">Legacy</th><th scope="col">New backend</th><th scope="col">Latest events</th></tr></thead>
<tbody>${s.routes.map(routeRow).join('\n')}</tbody></table></section>
<section aria-labelledby="readiness"><h2 id="readiness">Retirement readiness</h2>${migratedRoutes.length === 0 ? '<p>No route is at 100 % on a new backend yet.</p>' : migratedRoutes.map(readinessBlock).join('\n')}</section>
<section aria-labelledby="inventory"><h2 id="inventory">What is left to migrate</h2>${inventory}</section>
${s.coverage === null ? '' : `<section aria-labelledby="coverage"><h2 id="coverage">Declared endpoints</h2>${coverageBlock(s.coverage)}</section>`}
</main><footer>Generated ${esc(s.generatedAt)} · <a href="/status.json">status.json</a> · <a href="/inventory">inventory</a> ·${s.coverage === null ? '' : ' <a href="/coverage">coverage</a> ·'} <a href="/timeline">timeline</a> · <a href="/parity">parity</a></footer></body></html>
`
}

/** The page a person gets when the admin port needs a token: exchange it once for a session cookie. */
export function loginPage (failed: boolean, why = 'That token was not accepted.'): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>Sign in · strangler-proxy</title><style>${STYLE}</style></head>
<body><main><h1>Migration status</h1><p>This admin port needs an operator's token (or STRANGLER_ADMIN_TOKEN). It is exchanged once for a session cookie that only reads.</p>
${failed ? `<p role="alert" class="verdict-not">${esc(why)}</p>` : ''}
<form method="post" action="/status/login"><label for="token">Operator token</label> <input id="token" name="token" type="password" autocomplete="current-password" required> <button type="submit">Sign in</button></form></main></body></html>
`
}
