#!/usr/bin/env bash
# Measures what the Kubernetes resource requests/limits in deploy/k8s are based on: resident memory (RSS, from
# /proc/<pid>/status: VmRSS now, VmHWM = peak) and CPU time (/proc/<pid>/stat) of
#   1. `pinit serve` (everything in one process, SQLite), and
#   2. `pinit auth|task|notification|gateway` as four processes on PostgreSQL + RabbitMQ,
# idle and under a small load through the gateway: a burst of logins (argon2id), then wrk on an authenticated
# proxied GET, a task API call and the JWKS. Loopback only, every load bounded in time.
#
#   cargo build --release -p pinit && bash deploy/measure-rss.sh [serve|distributed|all]
#
# Needs wrk, python3, PostgreSQL at 127.0.0.1:5432 (trust auth, user postgres) and RabbitMQ at 127.0.0.1:5672
# (guest/guest, rabbitmqctl on this machine) for the distributed part. Creates and drops its own databases and
# vhost (pinit_rss_*). Rate limits are switched off so the load is not refused.
set -euo pipefail
cd "$(dirname "$0")/.."

PINIT="${PINIT:-target/release/pinit}"
WHAT="${1:-all}"
LOAD_SECONDS="${LOAD_SECONDS:-20}"
[ -x "$PINIT" ] || { echo "no $PINIT: cargo build --release -p pinit" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is missing (apt-get install wrk)" >&2; exit 1; }

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "${dbs_created:-}" = yes ]; then
    for c in auth task notification; do dropdb -h 127.0.0.1 -U postgres --if-exists "pinit_rss_$c" || true; done
    rabbitmqctl -q delete_vhost pinit_rss >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

export PINIT_LOG_LEVEL=warn
export PINIT_AUTH_RATE_LIMIT__ENABLED=false
export PINIT_GATEWAY_RATE_LIMIT__ENABLED=false
# The measurement runs on plain HTTP.
export PINIT_AUTH_COOKIE__SECURE=false

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
# utime + stime in clock ticks.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICKS="$(getconf CLK_TCK)"

wait_ready() { # URL
  for _ in $(seq 1 150); do
    if curl -fs -o /dev/null "$1"; then return 0; fi
    sleep 0.2
  done
  echo "not ready: $1" >&2
  return 1
}

# name -> pid of the processes being measured
declare -A PROC

report_header() {
  printf '\n%-14s %-34s %10s %10s %12s\n' "process" "phase" "RSS MiB" "peak MiB" "CPU (cores)"
}
declare -A LAST_TICKS
phase() { # PHASE SECONDS_ELAPSED
  local name pid ticks used
  for name in $(printf '%s\n' "${!PROC[@]}" | sort); do
    pid="${PROC[$name]}"
    ticks="$(cpu_ticks "$pid")"
    used="$(awk -v a="$ticks" -v b="${LAST_TICKS[$name]:-$ticks}" -v t="$TICKS" -v s="$2" \
      'BEGIN { if (s > 0) printf "%.3f", (a - b) / t / s; else print "-" }')"
    LAST_TICKS[$name]="$ticks"
    printf '%-14s %-34s %10.1f %10.1f %12s\n' "$name" "$1" \
      "$(awk -v k="$(rss_kib "$pid")" 'BEGIN{print k/1024}')" \
      "$(awk -v k="$(hwm_kib "$pid")" 'BEGIN{print k/1024}')" "$used"
  done
}

# Signs up one member, then logs in N times with C at once; prints the last access token.
logins() { # BASE_URL N C
  python3 - "$@" <<'PY'
import json, sys, threading, urllib.request, urllib.error
base, n, c = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def post(path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
user = {"username": "rssmeasure1", "password": "Measure-pass-123!", "nickname": "rss"}
status, body = post("/v0/signup", user)
if status not in (200, 409):
    sys.exit(f"signup: {status} {body[:200]!r}")
token, failures, lock = None, 0, threading.Lock()
def worker(k):
    global token, failures
    for _ in range(k):
        status, body = post("/v0/login", {"username": user["username"], "password": user["password"]})
        with lock:
            if status == 200:
                token = json.loads(body)["token"]
            else:
                failures += 1
threads = [threading.Thread(target=worker, args=(n // c,)) for _ in range(c)]
for t in threads: t.start()
for t in threads: t.join()
if failures or not token:
    sys.exit(f"{failures} logins failed")
print(token)
PY
}

load() { # BASE_URL
  local base="$1" token start
  start=$SECONDS
  token="$(logins "$base" 96 8)"
  phase "login burst (96, 8 at once)" $((SECONDS - start))
  wrk -t2 -c32 -d"${LOAD_SECONDS}s" -H "Authorization: Bearer $token" "$base/v0/me" > "$work/wrk-me.txt"
  phase "wrk GET /v0/me c32 ${LOAD_SECONDS}s" "$LOAD_SECONDS"
  wrk -t2 -c32 -d"${LOAD_SECONDS}s" -H "Authorization: Bearer $token" "$base/v2/tasks?page=0&size=20" > "$work/wrk-tasks.txt"
  phase "wrk GET /v2/tasks c32 ${LOAD_SECONDS}s" "$LOAD_SECONDS"
  wrk -t2 -c32 -d"${LOAD_SECONDS}s" "$base/.well-known/jwks.json" > "$work/wrk-jwks.txt"
  phase "wrk GET /.well-known/jwks.json c32" "$LOAD_SECONDS"
  for f in me tasks jwks; do
    printf '  wrk %-6s %s | %s\n' "$f" "$(grep -E 'Requests/sec' "$work/wrk-$f.txt" | tr -s ' ')" \
      "$(grep -E 'Non-2xx|Socket errors' "$work/wrk-$f.txt" | tr -s ' ' | tr '\n' ' ')"
  done
}

measure_serve() {
  echo "== pinit serve ($(uname -m), $(nproc) cores)"
  "$PINIT" serve --port 18180 --data-dir "$work/serve" 2>"$work/serve.log" &
  pids+=($!)
  PROC=([serve]=$!)
  LAST_TICKS=()
  wait_ready http://127.0.0.1:18180/health
  phase start 0 >/dev/null
  sleep 15
  report_header
  phase "idle 15s" 15
  load http://127.0.0.1:18180
}

measure_distributed() {
  echo "== pinit auth | task | notification | gateway on PostgreSQL + RabbitMQ"
  dbs_created=yes
  for c in auth task notification; do
    dropdb -h 127.0.0.1 -U postgres --if-exists "pinit_rss_$c"
    createdb -h 127.0.0.1 -U postgres "pinit_rss_$c"
  done
  rabbitmqctl -q add_vhost pinit_rss >/dev/null
  rabbitmqctl -q set_permissions -p pinit_rss guest '.*' '.*' '.*' >/dev/null
  "$PINIT" keys generate --dir "$work/keys" >/dev/null
  export PINIT_KEYS_DIR="$work/keys" PINIT_HTTP_HOST=127.0.0.1 PINIT_METRICS_HOST=127.0.0.1
  # The gateway-to-service identity key: the same in all four processes, which refuse to start without it.
  PINIT_INTERNAL_IDENTITY_KEY="$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
  export PINIT_INTERNAL_IDENTITY_KEY
  export PINIT_AMQP_URL="amqp://guest:guest@127.0.0.1:5672/pinit_rss"
  export PINIT_AUTH_DATABASE_URL="postgres://postgres@127.0.0.1:5432/pinit_rss_auth"
  export PINIT_TASK_DATABASE_URL="postgres://postgres@127.0.0.1:5432/pinit_rss_task"
  export PINIT_NOTIFICATION_DATABASE_URL="postgres://postgres@127.0.0.1:5432/pinit_rss_notification"
  export PINIT_TASK_GRPC_PORT=19190
  export PINIT_NOTIFICATION_TASK_GRPC_URL=http://127.0.0.1:19190
  export PINIT_GATEWAY_AUTH_URL=http://127.0.0.1:18181
  export PINIT_GATEWAY_TASK_URL=http://127.0.0.1:18182
  export PINIT_GATEWAY_NOTIFICATION_URL=http://127.0.0.1:18183
  PROC=()
  LAST_TICKS=()
  local name port
  for pair in auth:18181 task:18182 notification:18183 gateway:18180; do
    name="${pair%%:*}"; port="${pair#*:}"
    PINIT_HTTP_PORT="$port" PINIT_METRICS_PORT="$((port + 1000))" "$PINIT" "$name" 2>"$work/$name.log" &
    pids+=($!)
    PROC[$name]=$!
  done
  for port in 18181 18182 18183 18180; do wait_ready "http://127.0.0.1:$port/readyz"; done
  phase start 0 >/dev/null
  sleep 15
  report_header
  phase "idle 15s" 15
  load http://127.0.0.1:18180
}

case "$WHAT" in
  serve) measure_serve ;;
  distributed) measure_distributed ;;
  all) measure_serve; for pid in "${pids[@]}"; do kill -TERM "$pid"; wait "$pid" || true; done; pids=(); measure_distributed ;;
  *) echo "usage: $0 [serve|distributed|all]" >&2; exit 2 ;;
esac
