#!/usr/bin/env bash
# A second PostgreSQL cluster on this machine with `ssl = on`, certificates of a throw-away CA, and only TLS
# connections allowed from TCP (`hostssl`, client certificate optional): PostgreSQL's own TLS, for the tests that
# check Pinit's sslmode handling against the real server (crates/kernel/tests/tls.rs, `real_postgresql_*`).
#
#   bash .ci/postgres-tls.sh            create it if missing (idempotent) and start it
#
# Prints the variables the tests read; .ci/run exports them:
#   PINIT_TEST_POSTGRES_TLS_URL   postgres://postgres@localhost:5433/postgres (the certificate names localhost)
#   PINIT_TEST_POSTGRES_TLS_CA    the CA certificate (PEM)
# Needs root (pg_createcluster, files owned by postgres) and openssl.
set -euo pipefail

port="${PINIT_TEST_POSTGRES_TLS_PORT:-5433}"
version="$(ls /etc/postgresql | sort -n | tail -n1)"
cluster=pinit_tls
dir=/var/lib/postgresql/pinit-tls-certs

log() { printf '%s\n' "postgres-tls: $*" >&2; }

# Only the variables go to stdout (the caller evals it): everything the tools print (pg_ctlcluster says
# "Removed stale pid file" on stdout, for one) goes to stderr.
exec 3>&1 1>&2   # (the server started below must not inherit fd 3, or the caller waits for it forever: `3>&-`)

if [ ! -f "$dir/server.crt" ]; then
  log "a test CA and a server certificate for localhost in $dir"
  mkdir -p "$dir"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Pinit CI test CA" \
    -keyout "$dir/ca.key" -out "$dir/ca.crt" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$dir/server.key" -out "$dir/server.csr" 2>/dev/null
  printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n' >"$dir/server.ext"
  openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial \
    -days 3650 -extfile "$dir/server.ext" -out "$dir/server.crt" 2>/dev/null
  chown -R postgres:postgres "$dir"
  chmod 600 "$dir/server.key" "$dir/ca.key"
  chmod 644 "$dir/ca.crt" "$dir/server.crt"
fi

if ! pg_lsclusters -h | awk '{print $2}' | grep -qx "$cluster"; then
  log "creating cluster $version/$cluster on port $port"
  pg_createcluster "$version" "$cluster" --port "$port" >/dev/null 3>&-
  conf="/etc/postgresql/$version/$cluster"
  cat >>"$conf/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
ssl = on
ssl_cert_file = '$dir/server.crt'
ssl_key_file = '$dir/server.key'
ssl_ca_file = '$dir/ca.crt'
EOF
  cat >"$conf/pg_hba.conf" <<'EOF'
local   all all             trust
hostssl all all 127.0.0.1/32 trust
hostnossl all all 0.0.0.0/0 reject
EOF
fi

if ! pg_isready -h 127.0.0.1 -p "$port" -q; then
  log "starting $version/$cluster"
  pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start 3>&-
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p "$port" -q && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p "$port"

echo "PINIT_TEST_POSTGRES_TLS_URL=postgres://postgres@localhost:$port/postgres" >&3
echo "PINIT_TEST_POSTGRES_TLS_CA=$dir/ca.crt" >&3
