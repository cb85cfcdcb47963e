#!/usr/bin/env bash
# Writes the production profile's local settings file (mode 600) once: passwords for the
# local PostgreSQL and Redis, and the URLs the servers use. A variable already set in the
# environment is taken as it is, at writing and at every reading; the file is never committed (var/ is ignored).
# Usage: production-env.sh FILE
set -euo pipefail
target="$1"
[ -f "$target" ] && exit 0
mkdir -p "$(dirname "$target")"
random() { od -An -N18 -tx1 /dev/urandom | tr -d ' \n'; }
pg_password="${PG_PASSWORD:-$(random)}"
redis_password="${REDIS_PASSWORD:-$(random)}"
umask 077
# Each line keeps a value the environment sets when the file is read.
cat > "$target" <<CONF
export PG_PASSWORD="\${PG_PASSWORD:-$pg_password}"
export REDIS_PASSWORD="\${REDIS_PASSWORD:-$redis_password}"
export MATCHMAKER_DATABASE_URL="\${MATCHMAKER_DATABASE_URL:-postgresql://matchmaker:$pg_password@127.0.0.1:${PG_PORT:-55432}/matchmaker}"
export MATCHMAKER_REDIS_URL="\${MATCHMAKER_REDIS_URL:-redis://:$redis_password@127.0.0.1:${REDIS_PORT:-56379}/0}"
CONF
echo "wrote $target (local passwords for PostgreSQL and Redis)"
