#!/usr/bin/env bash
# Local PostgreSQL (Debian's postgresql-15 binaries) on 127.0.0.1 with its own data directory,
# for the production profile and the tests. Never a system service.
# Usage: postgres.sh start|stop|status|restart|kill
#   PG_PORT (55432), PG_DATA_DIR (infra/var/postgres), PG_USER (matchmaker),
#   PG_PASSWORD (required at the first start: the role's password, scram-sha-256),
#   PG_DATABASES (matchmaker rasa): databases created at start when missing.
# PostgreSQL refuses to run as root: as root the server runs as the 'postgres' system user.
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

PORT="${PG_PORT:-55432}"
DATA_ROOT="${PG_DATA_DIR:-$VAR_DIR/postgres}"
ROLE="${PG_USER:-matchmaker}"
DATABASES="${PG_DATABASES:-matchmaker rasa}"
TIMEOUT="${PG_START_TIMEOUT:-60}"
LOG="$LOG_DIR/postgres.log"
BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
[ -n "$BIN" ] && [ -x "$BIN/postgres" ] || die "PostgreSQL server binaries not found (scripts/install-system.sh installs postgresql-15)"

as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

owned_dir() {
  mkdir -p "$1"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$1"; fi
  chmod 700 "$1"
}

DATA="$DATA_ROOT/data"
SOCKET_DIR="$DATA_ROOT/socket"

psql_admin() {
  as_owner "$BIN/psql" -h "$SOCKET_DIR" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt "$@"
}

ready() {
  as_owner "$BIN/pg_isready" -h "$BIND_HOST" -p "$PORT" -q
}

init_cluster() {
  [ -n "${PG_PASSWORD:-}" ] || die "PG_PASSWORD must be set for the first start (the password of role $ROLE)"
  mkdir -p "$DATA_ROOT"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$DATA_ROOT"; fi
  # the server user must reach its directory: every parent needs search permission
  local dir="$DATA_ROOT"
  while [ "$dir" != "/" ]; do
    dir="$(dirname "$dir")"
    as_owner test -x "$dir" || chmod o+x "$dir"
  done
  owned_dir "$DATA"
  owned_dir "$SOCKET_DIR"
  as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >> "$LOG" 2>&1 || die_log "$LOG" "initdb failed"
  cat >> "$DATA/postgresql.conf" <<EOF
listen_addresses = '$BIND_HOST'
port = $PORT
unix_socket_directories = '$SOCKET_DIR'
max_connections = 200
shared_buffers = 128MB
fsync = on
synchronous_commit = on
log_min_messages = warning
log_connections = off
EOF
}

do_start() {
  mkdir -p "$LOG_DIR"
  if [ "$(id -u)" -eq 0 ]; then chown postgres:postgres "$LOG_DIR" 2>/dev/null || true; touch "$LOG"; chown postgres:postgres "$LOG"; fi
  if ready 2>/dev/null; then echo "PostgreSQL already running on $BIND_HOST:$PORT"; return 0; fi
  [ -f "$DATA/PG_VERSION" ] || init_cluster
  check_port_free "$PORT" "PostgreSQL"
  as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t "$TIMEOUT" -o "-p $PORT" start >/dev/null \
    || die_log "$LOG" "PostgreSQL did not start"
  if [ -z "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$ROLE'")" ]; then
    [ -n "${PG_PASSWORD:-}" ] || die "PG_PASSWORD must be set to create role $ROLE"
    echo "CREATE ROLE :\"role\" LOGIN PASSWORD :'password'" \
      | psql_admin -v role="$ROLE" -v password="$PG_PASSWORD" >/dev/null
  fi
  local db
  for db in $DATABASES; do
    if [ -z "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
      psql_admin -c "CREATE DATABASE \"$db\" OWNER \"$ROLE\"" >/dev/null
    fi
  done
  echo "PostgreSQL running on $BIND_HOST:$PORT (databases: $DATABASES)"
}

do_stop() {
  if [ -f "$DATA/postmaster.pid" ]; then
    as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w -t 30 stop >/dev/null 2>&1 || true
    echo "PostgreSQL stopped"
  fi
}

do_kill() {
  local pid
  if [ -f "$DATA/postmaster.pid" ]; then
    pid="$(head -n 1 "$DATA/postmaster.pid")"
    kill -KILL "$pid" 2>/dev/null || true
    wait_exit "$pid" 10 || true
    echo "PostgreSQL killed"
  fi
}

do_status() {
  if ready 2>/dev/null; then echo "PostgreSQL: running on $BIND_HOST:$PORT"; else echo "PostgreSQL: stopped"; return 1; fi
}

case "${1:-}" in
  start) do_start ;;
  stop) do_stop ;;
  restart) do_stop; do_start ;;
  kill) do_kill ;;
  status) do_status ;;
  *) echo "usage: $0 start|stop|restart|kill|status" >&2; exit 2 ;;
esac
