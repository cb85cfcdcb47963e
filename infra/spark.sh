#!/usr/bin/env bash
# Local Spark standalone cluster: one master and one worker, each its own JVM, on
# 127.0.0.1, run with spark-class from the pyspark installed in the project's .venv.
# Usage: spark.sh start|stop|status
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

PROJECT_DIR="$(cd "$INFRA_DIR/.." && pwd)"
APP_PYTHON="${PYSPARK_PYTHON:-$PROJECT_DIR/.venv/bin/python}"
MASTER_PORT="${SPARK_MASTER_PORT:-7077}"
MASTER_WEBUI_PORT="${SPARK_MASTER_WEBUI_PORT:-7080}"
WORKER_CORES="${SPARK_WORKER_CORES:-1}"
WORKER_MEMORY="${SPARK_WORKER_MEMORY:-1g}"
DAEMON_MEMORY="${SPARK_DAEMON_MEMORY:-128m}"
TIMEOUT="${SPARK_START_TIMEOUT:-120}"
SPARK_DIR="$(abs_dir "${SPARK_DATA_DIR:-$VAR_DIR/spark}")"
MASTER_PID="$RUN_DIR/spark-master.pid"
WORKER_PID="$RUN_DIR/spark-worker.pid"
MASTER_LOG="$LOG_DIR/spark-master.log"
WORKER_LOG="$LOG_DIR/spark-worker.log"
MASTER_CLASS=org.apache.spark.deploy.master.Master
WORKER_CLASS=org.apache.spark.deploy.worker.Worker
URI="spark://$BIND_HOST:$MASTER_PORT"
WEBUI="http://$BIND_HOST:$MASTER_WEBUI_PORT"

# The pyspark package directory (it has bin/spark-class and jars/), found by the app's Python.
spark_home() {
  [ -x "$APP_PYTHON" ] || die "$APP_PYTHON not found (make install creates .venv; or set PYSPARK_PYTHON)"
  "$APP_PYTHON" -c 'import os, pyspark; print(os.path.dirname(os.path.abspath(pyspark.__file__)))' \
    || die "pyspark is not installed in $APP_PYTHON"
}

# daemon_env: sets DAEMON_ENV, the environment of both daemons (and so of the executors the
# worker starts): the app's Python for executors, everything bound to 127.0.0.1, no
# PYTHONPATH inherited from the caller (jobs ship their own code path, as on a real cluster).
DAEMON_ENV=()
daemon_env() {
  local home java_home
  home="$(spark_home)"
  java_home="$(dirname "$(dirname "$(readlink -f "$JAVA")")")"
  mkdir -p "$SPARK_DIR/conf" "$SPARK_DIR/work" "$SPARK_DIR/tmp"
  DAEMON_ENV=(env -u PYTHONPATH
    SPARK_HOME="$home" JAVA_HOME="$java_home" SPARK_CONF_DIR="$SPARK_DIR/conf"
    SPARK_LOCAL_IP="$BIND_HOST" SPARK_MASTER_HOST="$BIND_HOST" SPARK_PUBLIC_DNS="$BIND_HOST"
    SPARK_LOCAL_DIRS="$SPARK_DIR/tmp"
    SPARK_DAEMON_MEMORY="$DAEMON_MEMORY"
    SPARK_DAEMON_JAVA_OPTS="-Xms32m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Djava.net.preferIPv4Stack=true"
    SPARK_MASTER_OPTS="-Dspark.master.rest.enabled=false"
    SPARK_WORKER_OPTS="-Dspark.worker.cleanup.enabled=true -Dspark.worker.cleanup.appDataTtl=86400"
    PYSPARK_PYTHON="$APP_PYTHON" HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
    "$home/bin/spark-class")
}

# The master's JSON status page (its web UI at /json/), over a plain socket.
master_json() {
  timeout 10 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "GET /json/ HTTP/1.0\r\nHost: %s\r\n\r\n" "$0" >&3
    cat <&3
  ' "$BIND_HOST" "$MASTER_WEBUI_PORT" 2>/dev/null
}

# alive_workers: prints how many ALIVE workers the master reports (nothing if it does not answer).
alive_workers() {
  local json
  json="$(master_json)" || return 1
  printf '%s' "$json" | grep -q '"status" *: *"ALIVE"' || return 1
  printf '%s' "$json" | grep -o '"aliveworkers" *: *[0-9]*' | grep -o '[0-9]*$'
}

do_start() {
  ensure_java
  mkdir -p "$LOG_DIR" "$RUN_DIR"
  local t0 m w alive
  t0=$(date +%s)
  m="$(pid_of "$MASTER_PID" "$MASTER_CLASS" || true)"
  w="$(pid_of "$WORKER_PID" "$WORKER_CLASS" || true)"
  daemon_env
  if [ -z "$m" ]; then
    check_port_free "$MASTER_PORT" "Spark master RPC"
    check_port_free "$MASTER_WEBUI_PORT" "Spark master web UI"
    launch "$MASTER_PID" "$MASTER_LOG" "${DAEMON_ENV[@]}" "$MASTER_CLASS" \
      --host "$BIND_HOST" --port "$MASTER_PORT" --webui-port "$MASTER_WEBUI_PORT"
  fi
  if [ -z "$w" ]; then
    launch "$WORKER_PID" "$WORKER_LOG" "${DAEMON_ENV[@]}" "$WORKER_CLASS" \
      --host "$BIND_HOST" --port 0 --webui-port 0 --cores "$WORKER_CORES" --memory "$WORKER_MEMORY" \
      --work-dir "$SPARK_DIR/work" "$URI"
  fi
  local deadline=$((t0 + TIMEOUT))
  while :; do
    pid_of "$MASTER_PID" "$MASTER_CLASS" >/dev/null \
      || die_log "$MASTER_LOG" "Spark master exited during startup, see $MASTER_LOG"
    pid_of "$WORKER_PID" "$WORKER_CLASS" >/dev/null \
      || die_log "$WORKER_LOG" "Spark worker exited during startup, see $WORKER_LOG"
    alive="$(alive_workers || true)"
    [ -n "$alive" ] && [ "$alive" -ge 1 ] && break
    [ "$(date +%s)" -lt "$deadline" ] \
      || die "Spark master at $WEBUI has no ALIVE worker after ${TIMEOUT}s (processes left running; '$0 stop' ends them); see $MASTER_LOG and $WORKER_LOG"
    sleep 1
  done
  echo "Spark ready in $(( $(date +%s) - t0 ))s: $URI (web UI $WEBUI, $alive worker(s), $WORKER_CORES cores, $WORKER_MEMORY)"
}

do_stop() {
  stop_pid "$WORKER_PID" "$WORKER_CLASS" "Spark worker" 30
  stop_pid "$MASTER_PID" "$MASTER_CLASS" "Spark master" 30
}

do_status() {
  local rc=0
  report "$MASTER_PID" "$MASTER_CLASS" "Spark master" \
    "$URI, web UI $WEBUI, $(alive_workers || echo '?') ALIVE worker(s)" || rc=1
  report "$WORKER_PID" "$WORKER_CLASS" "Spark worker" "$WORKER_CORES cores, $WORKER_MEMORY" || rc=1
  return $rc
}

case "${1:-}" in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
