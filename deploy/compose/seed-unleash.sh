#!/bin/sh
# Creates the demo's flag in Unleash (idempotent): orders-on-django, on in
# "development" for tenant acme and 30 % of other users. Needs curl.
#   UNLEASH_URL=http://unleash:4242 UNLEASH_ADMIN_TOKEN='*:*.token' sh seed-unleash.sh
set -eu
: "${UNLEASH_URL:?}" "${UNLEASH_ADMIN_TOKEN:?}"
FLAG=orders-on-django
ENV=development
api() {
  # Prints the HTTP status; 409 (exists) counts as done.
  curl -sS -o /dev/null -w '%{http_code}' -X "$1" "$UNLEASH_URL/api/admin$2" \
    -H "Authorization: $UNLEASH_ADMIN_TOKEN" -H 'Content-Type: application/json' ${3:+-d "$3"}
}
ok() { case "$1" in 2*|409) ;; *) echo "seed-unleash: $2 failed with HTTP $1" >&2; exit 1 ;; esac; }

ok "$(api POST /context '{"name":"tenant","stickiness":false}')" "context field tenant"
ok "$(api POST /projects/default/features "{\"name\":\"$FLAG\",\"type\":\"release\"}")" "flag $FLAG"
existing=$(curl -sS "$UNLEASH_URL/api/admin/projects/default/features/$FLAG/environments/$ENV/strategies" -H "Authorization: $UNLEASH_ADMIN_TOKEN")
if [ "$existing" = "[]" ]; then
  ok "$(api POST "/projects/default/features/$FLAG/environments/$ENV/strategies" '{"name":"flexibleRollout","parameters":{"rollout":"100","stickiness":"default","groupId":"orders-on-django"},"constraints":[{"contextName":"tenant","operator":"IN","values":["acme"]}]}')" "acme strategy"
  ok "$(api POST "/projects/default/features/$FLAG/environments/$ENV/strategies" '{"name":"flexibleRollout","parameters":{"rollout":"30","stickiness":"default","groupId":"orders-on-django"},"constraints":[]}')" "30 % rollout"
fi
ok "$(api POST "/projects/default/features/$FLAG/environments/$ENV/on")" "enable $FLAG"
echo "seed-unleash: $FLAG ready in $ENV"
