#!/bin/sh
# Runs once, on PostgreSQL's first start with an empty data directory (docker-entrypoint-initdb.d).
# One role and one database per Pinit context; each role owns its database and nothing else.
set -eu
for context in auth task notification; do
  case "$context" in
    auth) password="$AUTH_DB_PASSWORD" ;;
    task) password="$TASK_DB_PASSWORD" ;;
    notification) password="$NOTIFICATION_DB_PASSWORD" ;;
  esac
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v name="pinit_$context" -v password="$password" <<'SQL'
CREATE ROLE :"name" LOGIN PASSWORD :'password';
CREATE DATABASE :"name" OWNER :"name";
REVOKE ALL ON DATABASE :"name" FROM PUBLIC;
SQL
done
