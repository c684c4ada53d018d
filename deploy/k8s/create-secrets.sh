#!/usr/bin/env bash
# Creates the Secrets the Pinit manifests expect, in namespace pinit. Never replaces a Secret that exists:
# passwords already in PostgreSQL and keys that signed live tokens must not change behind your back (key
# rotation: docs/deploy.md).
#
#   deploy/k8s/create-secrets.sh k3s
#       random passwords for the bundled PostgreSQL (one role per context) and RabbitMQ, the URLs built from
#       them, the JWT and VAPID keys.
#   AUTH_DATABASE_URL=postgres://… TASK_DATABASE_URL=… NOTIFICATION_DATABASE_URL=… AMQP_URL=amqp://… \
#       deploy/k8s/create-secrets.sh production
#       the URLs of your external PostgreSQL databases and RabbitMQ vhost, the JWT and VAPID keys.
#
# Options:
#   --dry-run      print the Secret manifests instead of applying them (needs no cluster)
#   --keys DIR     take the key files from DIR instead of generating them (jwt-private.pem, jwt-public.pem,
#                  during a rotation jwt-previous-private.pem and jwt-rotation.json, vapid-private.pem,
#                  vapid-public.txt)
#   --namespace NS default pinit
#
# Keys are generated with `pinit keys generate` ($PINIT, else `pinit` on PATH; e.g.
# PINIT=target/release/pinit). The private keys only ever exist in a temporary directory, removed on exit.
set -euo pipefail
KUBECTL="${KUBECTL:-kubectl}"

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

dry_run=false
keys_dir=""
namespace=pinit
overlay=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry_run=true ;;
    --keys) keys_dir="${2:?--keys needs a directory}"; shift ;;
    --namespace) namespace="${2:?--namespace needs a name}"; shift ;;
    -h|--help) usage ;;
    k3s|production) overlay="$1" ;;
    *) echo "create-secrets: unknown argument $1" >&2; usage ;;
  esac
  shift
done
[ -n "$overlay" ] || usage

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
chmod 700 "$work"

# 48 hex characters: URL-safe, no quoting needed anywhere.
password() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }

exists() {
  if $dry_run; then return 1; fi
  "$KUBECTL" -n "$namespace" get secret "$1" >/dev/null 2>&1
}

# A group of Secrets that must be created together (e.g. a password and the URL that carries it).
# Prints "create", "keep" (all exist) or fails when only some exist.
group_state() {
  local present=0 name
  for name in "$@"; do
    if exists "$name"; then present=$((present + 1)); fi
  done
  if [ "$present" -eq 0 ]; then echo create
  elif [ "$present" -eq $# ]; then echo keep
  else
    echo "create-secrets: only some of $* exist in namespace $namespace; delete them all or create the rest by hand" >&2
    return 1
  fi
}

first=true
emit() { # emit NAME ARGS... : kubectl create secret generic NAME ARGS
  local name="$1"; shift
  local manifest
  manifest="$("$KUBECTL" create secret generic "$name" --namespace "$namespace" "$@" --dry-run=client -o yaml)"
  manifest="$(printf '%s\n' "$manifest" | grep -v '^  creationTimestamp: null$')"
  manifest="$(printf '%s\n' "$manifest" | sed 's/^metadata:$/metadata:\n  labels:\n    app.kubernetes.io\/part-of: pinit/')"
  if $dry_run; then
    $first || echo '---'
    first=false
    printf '%s\n' "$manifest"
  else
    printf '%s\n' "$manifest" | "$KUBECTL" apply -f - >&2
  fi
}

say() { echo "create-secrets: $*" >&2; }

# --- keys ------------------------------------------------------------------------------------------------------
if [ -z "$keys_dir" ]; then
  keys_dir="$work/keys"
  pinit="${PINIT:-pinit}"
  if ! command -v "$pinit" >/dev/null 2>&1; then
    say "no pinit binary: set PINIT=path/to/pinit (cargo build --release -p pinit) or pass --keys DIR"
    exit 1
  fi
  state="$(group_state pinit-jwt-keys pinit-vapid-keys || echo partial)"
  if [ "$state" != keep ]; then
    "$pinit" keys generate --dir "$keys_dir" >&2
  fi
fi

state="$(group_state pinit-jwt-keys)"
if [ "$state" = create ]; then
  args=(--from-file="jwt-private.pem=$keys_dir/jwt-private.pem" --from-file="jwt-public.pem=$keys_dir/jwt-public.pem")
  for rotation in jwt-previous-private.pem jwt-rotation.json; do  # `pinit keys rotate`
    if [ -f "$keys_dir/$rotation" ]; then
      args+=(--from-file="$rotation=$keys_dir/$rotation")
    fi
  done
  emit pinit-jwt-keys "${args[@]}"
else
  say "pinit-jwt-keys exists, kept"
fi
state="$(group_state pinit-vapid-keys)"
if [ "$state" = create ]; then
  emit pinit-vapid-keys --from-file="vapid-private.pem=$keys_dir/vapid-private.pem" \
    --from-file="vapid-public.txt=$keys_dir/vapid-public.txt"
else
  say "pinit-vapid-keys exists, kept"
fi

# --- databases and broker ---------------------------------------------------------------------------------------
case "$overlay" in
  k3s)
    state="$(group_state pinit-postgres pinit-auth-database pinit-task-database pinit-notification-database)"
    if [ "$state" = create ]; then
      admin="$(password)"; auth="$(password)"; task="$(password)"; notification="$(password)"
      emit pinit-postgres --from-literal=postgres-password="$admin" --from-literal=auth-password="$auth" \
        --from-literal=task-password="$task" --from-literal=notification-password="$notification"
      emit pinit-auth-database --from-literal=url="postgres://pinit_auth:$auth@postgres:5432/pinit_auth"
      emit pinit-task-database --from-literal=url="postgres://pinit_task:$task@postgres:5432/pinit_task"
      emit pinit-notification-database \
        --from-literal=url="postgres://pinit_notification:$notification@postgres:5432/pinit_notification"
    else
      say "PostgreSQL secrets exist, kept"
    fi
    state="$(group_state pinit-rabbitmq pinit-amqp)"
    if [ "$state" = create ]; then
      broker="$(password)"
      emit pinit-rabbitmq --from-literal=username=pinit --from-literal=password="$broker"
      emit pinit-amqp --from-literal=url="amqp://pinit:$broker@rabbitmq:5672/pinit"
    else
      say "RabbitMQ secrets exist, kept"
    fi
    ;;
  production)
    for pair in auth-database:AUTH_DATABASE_URL task-database:TASK_DATABASE_URL \
                notification-database:NOTIFICATION_DATABASE_URL amqp:AMQP_URL; do
      name="pinit-${pair%%:*}"; var="${pair#*:}"
      state="$(group_state "$name")"
      if [ "$state" = keep ]; then say "$name exists, kept"; continue; fi
      url="${!var:-}"
      if [ -z "$url" ]; then say "set $var (the URL for $name)"; exit 1; fi
      emit "$name" --from-literal=url="$url"
    done
    ;;
esac
