#!/usr/bin/env bash
# Local Redis (Debian's redis-server) on 127.0.0.1 with its own directory: Rasa's lock store
# and the shared rate limit of the production profile. Never a system service.
# Usage: redis.sh start|stop|status|kill
#   REDIS_PORT (56379), REDIS_DATA_DIR (infra/var/redis), REDIS_PASSWORD (required: requirepass).
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

PORT="${REDIS_PORT:-56379}"
DATA="$(abs_dir "${REDIS_DATA_DIR:-$VAR_DIR/redis}")"
PIDFILE="$RUN_DIR/redis-$PORT.pid"
LOG="$LOG_DIR/redis.log"
CONF="$DATA/redis.conf"

cli() {
  REDISCLI_AUTH="${REDIS_PASSWORD:-}" redis-cli -h "$BIND_HOST" -p "$PORT" "$@"
}

do_start() {
  command -v redis-server >/dev/null || die "redis-server not found (scripts/install-system.sh installs it)"
  if pid_of "$PIDFILE" redis-server >/dev/null; then echo "Redis already running on $BIND_HOST:$PORT"; return 0; fi
  [ -n "${REDIS_PASSWORD:-}" ] || die "REDIS_PASSWORD must be set"
  check_port_free "$PORT" "Redis"
  umask 077
  cat > "$CONF" <<EOF
bind $BIND_HOST
port $PORT
dir $DATA
appendonly yes
appendfsync everysec
save ""
protected-mode yes
requirepass $REDIS_PASSWORD
EOF
  launch "$PIDFILE" "$LOG" redis-server "$CONF"
  local i
  for i in $(seq 1 50); do
    if [ "$(cli ping 2>/dev/null)" = "PONG" ]; then echo "Redis running on $BIND_HOST:$PORT"; return 0; fi
    pid_of "$PIDFILE" redis-server >/dev/null || die_log "$LOG" "Redis exited"
    sleep 0.2
  done
  die_log "$LOG" "Redis did not answer within 10 s"
}

do_stop() {
  stop_pid "$PIDFILE" redis-server Redis 20
}

do_kill() {
  local pid
  if pid="$(pid_of "$PIDFILE" redis-server)"; then
    kill -KILL "$pid"; wait_exit "$pid" 10 || true; rm -f "$PIDFILE"; echo "Redis killed"
  fi
}

do_status() {
  if pid_of "$PIDFILE" redis-server >/dev/null; then echo "Redis: running on $BIND_HOST:$PORT"; else echo "Redis: stopped"; return 1; fi
}

case "${1:-}" in
  start) do_start ;;
  stop) do_stop ;;
  kill) do_kill ;;
  status) do_status ;;
  *) echo "usage: $0 start|stop|kill|status" >&2; exit 2 ;;
esac
