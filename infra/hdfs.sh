#!/usr/bin/env bash
# Local HDFS: one NameNode and one DataNode, each its own JVM, on 127.0.0.1.
# Usage: hdfs.sh start|stop|status
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

NN_PORT="${HDFS_NAMENODE_PORT:-8020}"
NN_HTTP_PORT="${HDFS_NAMENODE_HTTP_PORT:-9870}"
DN_PORT="${HDFS_DATANODE_PORT:-9866}"
DN_HTTP_PORT="${HDFS_DATANODE_HTTP_PORT:-9864}"
DN_IPC_PORT="${HDFS_DATANODE_IPC_PORT:-9867}"
NN_HEAP="${HDFS_NAMENODE_HEAP:-384m}"
DN_HEAP="${HDFS_DATANODE_HEAP:-256m}"
TIMEOUT="${HDFS_START_TIMEOUT:-120}"
HDFS_DIR="$(abs_dir "${HDFS_DATA_DIR:-$VAR_DIR/hdfs}")"
CONF_DIR="$HDFS_DIR/conf"
NN_PID="$RUN_DIR/namenode.pid"
DN_PID="$RUN_DIR/datanode.pid"
NN_LOG="$LOG_DIR/namenode.log"
DN_LOG="$LOG_DIR/datanode.log"
CHECK_LOG="$LOG_DIR/hdfs-check.log"
NN_CLASS=org.apache.hadoop.hdfs.server.namenode.NameNode
DN_CLASS=org.apache.hadoop.hdfs.server.datanode.DataNode
URI="hdfs://$BIND_HOST:$NN_PORT"

write_conf() {
  mkdir -p "$CONF_DIR" "$HDFS_DIR/name" "$HDFS_DIR/data" "$HDFS_DIR/tmp"
  xml_props \
    fs.defaultFS "$URI" \
    hadoop.tmp.dir "$HDFS_DIR/tmp" \
    > "$CONF_DIR/core-site.xml"
  xml_props \
    dfs.namenode.name.dir "file://$HDFS_DIR/name" \
    dfs.datanode.data.dir "file://$HDFS_DIR/data" \
    dfs.namenode.rpc-address "$BIND_HOST:$NN_PORT" \
    dfs.namenode.http-address "$BIND_HOST:$NN_HTTP_PORT" \
    dfs.namenode.secondary.http-address "$BIND_HOST:0" \
    dfs.datanode.address "$BIND_HOST:$DN_PORT" \
    dfs.datanode.http.address "$BIND_HOST:$DN_HTTP_PORT" \
    dfs.datanode.ipc.address "$BIND_HOST:$DN_IPC_PORT" \
    dfs.datanode.hostname "$BIND_HOST" \
    dfs.replication 1 \
    dfs.namenode.safemode.threshold-pct 0 \
    dfs.namenode.safemode.min.datanodes 0 \
    dfs.namenode.safemode.extension 0 \
    dfs.permissions.enabled false \
    dfs.namenode.datanode.registration.ip-hostname-check false \
    > "$CONF_DIR/hdfs-site.xml"
  write_log4j "$CONF_DIR/log4j.properties" INFO
  mkdir -p "$CONF_DIR/client"
  cp "$CONF_DIR/core-site.xml" "$CONF_DIR/hdfs-site.xml" "$CONF_DIR/client/"
  write_log4j "$CONF_DIR/client/log4j.properties" WARN
}

# server_cmd HEAP CLASS [ARGS...]: sets CMD to the server JVM command line.
server_cmd() {
  local heap="$1"; shift
  CMD=("$JAVA" -Xms64m -Xmx"$heap" -XX:+UseSerialGC "${JDK17_OPTS[@]}"
    -Dhadoop.log.dir="$LOG_DIR" -Dhadoop.home.dir="$INFRA_DIR"
    -cp "$CONF_DIR:$INFRA_DIR/lib/hdfs-webapps:$LIB_DIR/*" "$@")
}

client_java() {
  "$JAVA" "${CLIENT_OPTS[@]}" "${JDK17_OPTS[@]}" -Dhadoop.home.dir="$INFRA_DIR" \
    -cp "$CONF_DIR/client:$LIB_DIR/*" "$@"
}

fs_shell() {
  client_java org.apache.hadoop.fs.FsShell -D ipc.client.connect.max.retries=1 \
    -D ipc.client.connect.retry.interval=500 "$@"
}

# Readiness: write a file through the HDFS client and read it back.
hdfs_works() {
  local token="ready-$$-$(date +%s%N)"
  echo "$token" | fs_shell -put -f - /tmp/.infra-ready >> "$CHECK_LOG" 2>&1 || return 1
  [ "$(fs_shell -cat /tmp/.infra-ready 2>> "$CHECK_LOG")" = "$token" ]
}

do_start() {
  ensure_java
  ensure_libs
  mkdir -p "$LOG_DIR" "$RUN_DIR"
  local t0 nn dn
  t0=$(date +%s)
  nn="$(pid_of "$NN_PID" "$NN_CLASS" || true)"
  dn="$(pid_of "$DN_PID" "$DN_CLASS" || true)"
  write_conf
  if [ -z "$nn" ]; then
    check_port_free "$NN_PORT" "NameNode RPC"
    check_port_free "$NN_HTTP_PORT" "NameNode HTTP"
    if [ ! -f "$HDFS_DIR/name/current/VERSION" ]; then
      echo "formatting NameNode in $HDFS_DIR/name"
      server_cmd 256m "$NN_CLASS" -format -nonInteractive -force
      "${CMD[@]}" >> "$NN_LOG" 2>&1 \
        || die_log "$NN_LOG" "NameNode format failed, see $NN_LOG"
    fi
    server_cmd "$NN_HEAP" "$NN_CLASS"
    launch "$NN_PID" "$NN_LOG" "${CMD[@]}"
  fi
  if [ -z "$dn" ]; then
    check_port_free "$DN_PORT" "DataNode data transfer"
    check_port_free "$DN_HTTP_PORT" "DataNode HTTP"
    check_port_free "$DN_IPC_PORT" "DataNode IPC"
    server_cmd "$DN_HEAP" "$DN_CLASS"
    launch "$DN_PID" "$DN_LOG" "${CMD[@]}"
  fi
  : > "$CHECK_LOG"
  local deadline=$((t0 + TIMEOUT))
  while :; do
    pid_of "$NN_PID" "$NN_CLASS" >/dev/null \
      || die_log "$NN_LOG" "NameNode exited during startup, see $NN_LOG"
    pid_of "$DN_PID" "$DN_CLASS" >/dev/null \
      || die_log "$DN_LOG" "DataNode exited during startup, see $DN_LOG"
    if port_open "$BIND_HOST" "$NN_PORT" && hdfs_works; then
      break
    fi
    [ "$(date +%s)" -lt "$deadline" ] \
      || die_log "$CHECK_LOG" "HDFS not ready after ${TIMEOUT}s (processes left running; '$0 stop' ends them); see $NN_LOG, $DN_LOG and $CHECK_LOG"
    sleep 1
  done
  echo "HDFS ready in $(( $(date +%s) - t0 ))s: $URI"
}

do_stop() {
  stop_pid "$DN_PID" "$DN_CLASS" DataNode 30
  stop_pid "$NN_PID" "$NN_CLASS" NameNode 30
}

do_status() {
  local rc=0
  report "$NN_PID" "$NN_CLASS" NameNode "$URI" || rc=1
  report "$DN_PID" "$DN_CLASS" DataNode "$BIND_HOST:$DN_PORT" || rc=1
  return $rc
}

case "${1:-}" in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
