#!/usr/bin/env bash
# Fuzzes every operation of the merged OpenAPI document of a real `pinit serve` with schemathesis: positive and
# negative data, a fixed seed and a small example count. Fails on any 5xx and on any response that breaks the
# document (its schema or its content type).
#
#   run.sh [PINIT_BINARY]        (default: target/debug/pinit)
#   SCHEMATHESIS                 the executable (default: what `install.sh --check` finds; run install.sh first)
#   PINIT_SCHEMATHESIS_SEED      default 20261206
#   PINIT_SCHEMATHESIS_EXAMPLES  test cases per operation and phase, default 20
#   PINIT_SCHEMATHESIS_REPORT    a directory for a JUnit report and a cassette of every request (optional)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
pinit="${1:-$root/target/debug/pinit}"
schemathesis="${SCHEMATHESIS:-$("$here/install.sh" --check)}" || {
  echo "schemathesis is not installed: run bash $here/install.sh" >&2
  exit 2
}
seed="${PINIT_SCHEMATHESIS_SEED:-20261206}"
examples="${PINIT_SCHEMATHESIS_EXAMPLES:-20}"

work="$(mktemp -d)"
server=""
cleanup() {
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# A real server on a temporary data directory and a free port (the gateway logs where it listens). Only the
# gateway's per-IP rate limit is off: one client sends everything here.
(
  cd "$work"
  PINIT_LOG_FORMAT=json PINIT_LOG_LEVEL=warn,pinit=info PINIT_METRICS_PORT=0 \
    PINIT_GATEWAY_RATE_LIMIT__ENABLED=false \
    exec "$pinit" serve --port 0 --data-dir "$work/data" 2>"$work/pinit.log" >/dev/null
) &
server=$!
base=""
for _ in $(seq 1 600); do
  base="$(sed -n 's/.*"message":"Pinit is running".*"url":"\([^"]*\)".*/\1/p; s/.*"url":"\([^"]*\)".*"message":"Pinit is running".*/\1/p' "$work/pinit.log" | head -n1)"
  [ -n "$base" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$work/pinit.log" >&2; echo "pinit exited" >&2; exit 1; }
  sleep 0.1
done
[ -n "$base" ] || { cat "$work/pinit.log" >&2; echo "pinit did not start" >&2; exit 1; }
for _ in $(seq 1 600); do
  curl -fsS -o /dev/null "$base/health" && break
  sleep 0.1
done
curl -fsS -o /dev/null "$base/health"

# A member and an access token for the protected operations; the member's task-side record is created
# from member.created, so wait until /v2 knows them (503 USER_NOT_READY until then).
json() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
curl -fsS -o /dev/null -H 'content-type: application/json' \
  -d '{"username":"fuzzer","password":"password-123","nickname":"fuzzer","zoneId":"Asia/Seoul"}' "$base/v0/signup"
token="$(curl -fsS -H 'content-type: application/json' \
  -d '{"username":"fuzzer","password":"password-123"}' "$base/v0/login" | json token)"
for _ in $(seq 1 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $token" "$base/v2/members/zone-id")" = 200 ] && break
  sleep 0.1
done

report=()
if [ -n "${PINIT_SCHEMATHESIS_REPORT:-}" ]; then
  mkdir -p "$PINIT_SCHEMATHESIS_REPORT"
  report=(--report junit,vcr --report-dir "$(cd "$PINIT_SCHEMATHESIS_REPORT" && pwd)")
fi
# From the temporary directory: schemathesis keeps a cache of past crashes in ./.schemathesis, which would
# litter the tree and make one run depend on the last.
cd "$work"
status=0
"$schemathesis" run "$base/openapi.json" \
  --url "$base" \
  --header "Authorization: Bearer $token" \
  --checks not_a_server_error,response_schema_conformance,content_type_conformance \
  --mode all \
  --seed "$seed" \
  --max-examples "$examples" \
  --generation-database none \
  --workers 1 \
  --request-timeout 10 \
  --no-color \
  "${report[@]}" || status=$?
if [ "$status" -ne 0 ] && grep -q '"level":"ERROR"' "$work/pinit.log"; then
  echo "--- errors pinit logged ---" >&2
  grep '"level":"ERROR"' "$work/pinit.log" | tail -n 20 >&2
fi
exit "$status"
