#!/usr/bin/env bash
# Creates the Secrets the Pinit manifests expect, in namespace pinit. Never replaces a Secret that exists:
# passwords already in PostgreSQL and keys that signed live tokens must not change behind your back (key
# rotation: docs/deploy.md).
#
#   deploy/k8s/create-secrets.sh k3s
#       random passwords for the bundled PostgreSQL (one role per context) and RabbitMQ, the URLs built from
#       them, the JWT and VAPID keys, the identity key the gateway and the services share.
#   AUTH_DATABASE_URL=postgres://… TASK_DATABASE_URL=… NOTIFICATION_DATABASE_URL=… AMQP_URL=amqps://… \
#       TLS_CA_FILE=ca.pem deploy/k8s/create-secrets.sh production
#       the URLs of your external PostgreSQL databases and RabbitMQ vhost, the JWT and VAPID keys, the identity
#       key, and the ConfigMap pinit-tls-ca (ca.pem: the CA your PostgreSQL's and RabbitMQ's certificates chain
#       to; the overlay verifies them, docs/deploy.md "TLS to PostgreSQL and RabbitMQ").
#
# Options:
#   --dry-run      print the manifests instead of applying them (needs no cluster)
#   --keys DIR     take the key files from DIR instead of generating them (jwt-private.pem, jwt-public.pem,
#                  during a rotation jwt-previous-private.pem and jwt-rotation.json, vapid-private.pem,
#                  vapid-public.txt)
#   --ca FILE      the CA bundle (PEM) for pinit-tls-ca, instead of $TLS_CA_FILE; required for production
#                  unless pinit-tls-ca exists
#   --namespace NS default pinit
#
# Keys are generated with `pinit keys generate` ($PINIT, else `pinit` on PATH; e.g.
# PINIT=target/release/pinit). The private keys only ever exist in a temporary directory, removed on exit.
set -euo pipefail
KUBECTL="${KUBECTL:-kubectl}"

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 2; }

dry_run=false
keys_dir=""
ca_file="${TLS_CA_FILE:-}"
namespace=pinit
overlay=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) dry_run=true ;;
    --keys) keys_dir="${2:?--keys needs a directory}"; shift ;;
    --ca) ca_file="${2:?--ca needs a PEM file}"; shift ;;
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

exists() { # NAME [KIND]: KIND secret (default) or configmap
  if $dry_run; then return 1; fi
  "$KUBECTL" -n "$namespace" get "${2:-secret}" "$1" >/dev/null 2>&1
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
  emit_kind "secret generic" "$@"
}
emit_kind() { # emit_kind "secret generic"|configmap NAME ARGS...
  local kind="$1" name="$2"; shift 2
  local manifest
  # shellcheck disable=SC2086 # "secret generic" is two words
  manifest="$("$KUBECTL" create $kind "$name" --namespace "$namespace" "$@" --dry-run=client -o yaml)"
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

# --- the CA file, checked before anything is created ------------------------------------------------------------
if [ -n "$ca_file" ] && ! grep -q -- '-----BEGIN CERTIFICATE-----' "$ca_file" 2>/dev/null; then
  say "$ca_file is not a PEM file of CA certificates (-----BEGIN CERTIFICATE-----)"
  exit 1
fi
if [ "$overlay" = production ] && [ -z "$ca_file" ] && ! exists pinit-tls-ca configmap; then
  say "set TLS_CA_FILE or pass --ca FILE: the CA your PostgreSQL's and RabbitMQ's certificates chain to, for the"
  say "ConfigMap pinit-tls-ca (certificates from a public CA: --ca /etc/ssl/certs/ca-certificates.crt)"
  exit 1
fi

# --- keys ------------------------------------------------------------------------------------------------------
if [ -z "$keys_dir" ]; then
  keys_dir="$work/keys"
  pinit="${PINIT:-pinit}"
  # A second run (say, for a Secret a newer release needs) keeps the keys and needs no binary.
  state="$(group_state pinit-jwt-keys pinit-vapid-keys 2>/dev/null || echo partial)"
  if [ "$state" != keep ]; then
    if ! command -v "$pinit" >/dev/null 2>&1; then
      say "no pinit binary: set PINIT=path/to/pinit (cargo build --release -p pinit) or pass --keys DIR"
      exit 1
    fi
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

# --- the gateway-to-service identity key ------------------------------------------------------------------------
# 32 random bytes, base64, read by all four services (PINIT_INTERNAL_IDENTITY_KEY). Rotation: docs/deploy.md.
state="$(group_state pinit-internal-identity)"
if [ "$state" = create ]; then
  emit pinit-internal-identity --from-literal=key="$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
else
  say "pinit-internal-identity exists, kept"
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
      case "$url" in
        amqp://*) say "warning: $var is amqp:// (no TLS); the production overlay expects amqps://…:5671/…" ;;
        *sslmode=disable*|*sslmode=allow*|*sslmode=prefer*|*sslmode=require*)
          say "warning: $var sets its own sslmode, which wins over the overlay's verify-full" ;;
      esac
      emit "$name" --from-literal=url="$url"
    done
    ;;
esac

# --- the CA of PostgreSQL and RabbitMQ (a ConfigMap: certificates are public) ----------------------------------
# Mounted at /etc/pinit/tls in every Pinit pod; the production overlay points PINIT_TLS_CA_FILE at its ca.pem.
# (The file itself was checked before anything was created.)
if exists pinit-tls-ca configmap; then
  say "pinit-tls-ca exists, kept"
elif [ -n "$ca_file" ]; then
  emit_kind configmap pinit-tls-ca --from-file="ca.pem=$ca_file"
fi
