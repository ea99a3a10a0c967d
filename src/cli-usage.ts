/** What `strangler-proxy --help` and `COMMAND --help` print: each command's usage, and the overview built from them. */

/** Each command's own usage, for `COMMAND --help`. */
export const COMMAND_USAGE: Record<string, string> = {
  start: `Usage: strangler-proxy start [--config routes.yaml] [--workers N]

Runs the proxy: traffic on listen (PORT), admin endpoints on admin (ADMIN_PORT).
  -c, --config FILE   routes.yaml to serve (default $STRANGLER_CONFIG, else ./routes.yaml)
  -w, --workers N     worker processes sharing the port (default $STRANGLER_WORKERS, else 1)
Signals: SIGHUP reloads routes.yaml, SIGTERM/SIGINT drain and exit.
`,
  validate: `Usage: strangler-proxy validate [routes.yaml]

Checks a config file; prints every problem as file:line:column: field: message and
exits 1 when there is any, 0 when the file is valid.
`,
  explain: `Usage: strangler-proxy explain [--config routes.yaml] METHOD PATH [--header name:value]... [--cookie name=value]... [--ip addr]

Prints, as JSON, the route, backend and reason a request would get, with the flag's
working (context, strategies, bucket), without forwarding anything.
`,
  ramp: `Usage: strangler-proxy ramp status|pause|resume|approve|abort|skip [ROUTE] [--reason TEXT] [--config routes.yaml] [--admin URL]
       strangler-proxy ramp freeze [ROUTE] --until TIME|DURATION [--reason TEXT]
       strangler-proxy ramp unfreeze [ROUTE]
       strangler-proxy ramp run [--config routes.yaml] [--listen 127.0.0.1:8082] [--prometheus URL]

Shows or steers the ramp plans of a running proxy through its admin port (the
address from the config's admin:, or --admin). The token is STRANGLER_TOKEN (an
operator's own, which names them in the timeline) or STRANGLER_ADMIN_TOKEN; --reason
is recorded with the action.
  status [ROUTE]   each ramp's step, state and the reason for its last decision
  pause ROUTE      stop moving; the rollout stays where it is
  resume ROUTE     continue a paused ramp (or restart an aborted one from its first step)
  approve ROUTE    enter the step that waits for approval
  abort ROUTE      set the rollout to 0 and stop
  skip ROUTE       enter the next step now, without judging the gates
  freeze [ROUTE]   hold every ramp (or one) until --until; skip and approve are refused
  unfreeze [ROUTE] lift that freeze
  run              the fleet's control plane (also \`strangler-proxy control\`): the
                   single ramp driver (ramps.driver: fleet), gates from Prometheus sums
                   over every replica, steps written into Unleash (UNLEASH_ADMIN_TOKEN);
                   /ramp, /fleet, /timeline, /status.json, /metrics, /healthz on --listen
Exit 0 when done, 1 when the proxy refuses (with its reason), 2 on usage errors.
`,
  control: `Usage: strangler-proxy control [--config routes.yaml] [--listen 127.0.0.1:8082] [--prometheus URL]

The fleet's control plane (also started as \`ramp run\`): the single ramp driver
(ramps.driver: fleet; steps written into Unleash with UNLEASH_ADMIN_TOKEN) and one view
of every replica Prometheus scrapes, asked with STRANGLER_ADMIN_TOKEN:
  /fleet         each replica's routes.yaml version and flags hash, drift and since when
  /timeline      the replicas' timelines merged: a change all saw is one event
  /status.json   shares summed by Prometheus, each replica's guard, who answered
  /ramp, /metrics, /healthz as for ramp run
`,
  timeline: `Usage: strangler-proxy timeline [--route R] [--kind K] [--since 2h] [--limit N] [--follow] [--config routes.yaml] [--admin URL]

Prints the migration timeline of a running proxy: every change to where traffic goes
(config, flags, guard, failover, parity, ramps) with its cause, oldest first.
  --since     a duration back from now (2h, 30m) or a time (2026-11-30T08:00:00Z)
  --follow    keep printing new events as they happen
`,
  status: `Usage: strangler-proxy status [--json] [--config routes.yaml] [--admin URL]

Prints how far the migration is: the share of traffic on new backends, routes migrated,
and per route its state, rollout, live split, ramp, guard, parity and readiness to
retire. The same data as GET /status.json (--json prints that).
`,
  inventory: `Usage: strangler-proxy inventory [--json] [--config routes.yaml] [--admin URL]

Prints what legacy still serves through catch-all routes, as path templates by method,
most traffic first: what is left to migrate.
`,
  coverage: `Usage: strangler-proxy coverage [--json] [--config routes.yaml] [--admin URL]

Prints every endpoint the backends declare (coverage: in routes.yaml) with where it
stands: legacy only, ported but not routed, routed but not implemented, migrating,
migrated, ready to retire, unused; with its route, requests and last request.
`,
  schema: `Usage: strangler-proxy schema

Prints the JSON Schema of routes.yaml, with a description and an example for every
key, for editors (the repository ships it as schema/routes.schema.json).
`,
  'override-token': `Usage: strangler-proxy override-token BACKEND [--route NAME] [--ttl 8h]

Prints a tester override token for BACKEND, signed with STRANGLER_OVERRIDE_SECRET,
valid for --ttl (at most 30d) and, with --route, on that route only. Send it as the
x-strangler-override header or the spx_override cookie.
`
}

/** The overview: each command's usage line, taken from its own usage. */
export const USAGE = `strangler-proxy: route by route, cohort by cohort migration proxy

Usage:
${Object.values(COMMAND_USAGE).map((u) => '  ' + (u.split('\n')[0] as string).replace('Usage: ', '')).join('\n')}
  strangler-proxy --version

Environment: STRANGLER_CONFIG, PORT, ADMIN_PORT, LOG_LEVEL, LOG_FORMAT=pretty, STRANGLER_ADMIN_TOKEN,
             UNLEASH_URL, UNLEASH_API_TOKEN, STRANGLER_OVERRIDE_SECRET
`
