#!/usr/bin/env bash
# Local HBase standalone (master + region server + ZooKeeper in one JVM) and its
# Thrift1 server (second JVM), all on 127.0.0.1, data on the local file system.
# Usage: hbase.sh start|stop|status
set -euo pipefail
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/common.sh"

THRIFT_PORT="${HBASE_THRIFT_PORT:-9090}"
ZK_PORT="${HBASE_ZK_PORT:-2181}"
MASTER_PORT="${HBASE_MASTER_PORT:-16000}"
RS_PORT="${HBASE_REGIONSERVER_PORT:-16020}"
MASTER_HEAP="${HBASE_HEAP:-1g}"
THRIFT_HEAP="${HBASE_THRIFT_HEAP:-256m}"
THRIFT_READ_TIMEOUT_MS="${HBASE_THRIFT_READ_TIMEOUT_MS:-60000}"
TIMEOUT="${HBASE_START_TIMEOUT:-180}"
HBASE_DIR="$(abs_dir "${HBASE_DATA_DIR:-$VAR_DIR/hbase}")"
CONF_DIR="$HBASE_DIR/conf"
MASTER_PID="$RUN_DIR/hbase-master.pid"
THRIFT_PID="$RUN_DIR/hbase-thrift.pid"
MASTER_LOG="$LOG_DIR/hbase-master.log"
THRIFT_LOG="$LOG_DIR/hbase-thrift.log"
MASTER_CLASS=org.apache.hadoop.hbase.master.HMaster
THRIFT_CLASS=org.apache.hadoop.hbase.thrift.ThriftServer
URI="thrift://$BIND_HOST:$THRIFT_PORT"

write_conf() {
  mkdir -p "$CONF_DIR" "$HBASE_DIR/root" "$HBASE_DIR/zk" "$HBASE_DIR/tmp"
  xml_props \
    hbase.cluster.distributed false \
    hbase.rootdir "file://$HBASE_DIR/root" \
    hbase.tmp.dir "$HBASE_DIR/tmp" \
    hbase.unsafe.stream.capability.enforce false \
    hbase.zookeeper.quorum "$BIND_HOST" \
    hbase.zookeeper.property.clientPort "$ZK_PORT" \
    hbase.zookeeper.property.dataDir "$HBASE_DIR/zk" \
    hbase.master.hostname "$BIND_HOST" \
    hbase.master.ipc.address "$BIND_HOST" \
    hbase.master.port "$MASTER_PORT" \
    hbase.master.info.port -1 \
    hbase.unsafe.regionserver.hostname "$BIND_HOST" \
    hbase.regionserver.ipc.address "$BIND_HOST" \
    hbase.regionserver.port "$RS_PORT" \
    hbase.regionserver.info.port -1 \
    hbase.regionserver.handler.count 10 \
    hbase.master.wait.on.regionservers.mintostart 1 \
    hbase.master.wait.on.regionservers.maxtostart 1 \
    hbase.thrift.info.port -1 \
    hbase.thrift.server.socket.read.timeout "$THRIFT_READ_TIMEOUT_MS" \
    > "$CONF_DIR/hbase-site.xml"
  write_log4j "$CONF_DIR/log4j.properties" INFO
}

JVM_COMMON=()
jvm_common() {
  JVM_COMMON=("${JDK17_OPTS[@]}" -Dzookeeper.admin.enableServer=false
    -Dhbase.log.dir="$LOG_DIR" -Dhadoop.home.dir="$INFRA_DIR"
    -cp "$CONF_DIR:$LIB_DIR/*")
}

# Readiness: a Thrift1 getTableNames call (what happybase's Connection.tables()
# sends) over the buffered transport with the binary protocol must return a
# successful reply. Expected reply start: REPLY header, the method name,
# seqid 1, then field 0 of type list (an IOError would be field 1).
thrift_ready() {
  local want out
  want="80010002""0000000d""$(printf getTableNames | od -An -tx1 | tr -d ' \n')""00000001""0f0000"
  out="$(timeout 10 bash -c '
    exec 3<>"/dev/tcp/$0/$1" || exit 1
    printf "\x80\x01\x00\x01\x00\x00\x00\x0dgetTableNames\x00\x00\x00\x01\x00" >&3
    head -c 28 <&3 | od -An -tx1 | tr -d " \n"
  ' "$BIND_HOST" "$THRIFT_PORT" 2>/dev/null)" || return 1
  [ "$out" = "$want" ]
}

do_start() {
  ensure_java
  ensure_libs
  mkdir -p "$LOG_DIR" "$RUN_DIR"
  local t0 m th
  t0=$(date +%s)
  m="$(pid_of "$MASTER_PID" "$MASTER_CLASS" || true)"
  th="$(pid_of "$THRIFT_PID" "$THRIFT_CLASS" || true)"
  write_conf
  jvm_common
  if [ -z "$m" ]; then
    check_port_free "$ZK_PORT" "ZooKeeper"
    check_port_free "$MASTER_PORT" "HBase master RPC"
    check_port_free "$RS_PORT" "HBase region server RPC"
    launch "$MASTER_PID" "$MASTER_LOG" "$JAVA" -Xms256m -Xmx"$MASTER_HEAP" \
      -XX:+UseG1GC -XX:MaxDirectMemorySize=256m "${JVM_COMMON[@]}" \
      -Dhbase.log.file=hbase-master.log "$MASTER_CLASS" start
  fi
  if [ -z "$th" ]; then
    check_port_free "$THRIFT_PORT" "HBase Thrift"
    launch "$THRIFT_PID" "$THRIFT_LOG" "$JAVA" -Xms64m -Xmx"$THRIFT_HEAP" \
      -XX:+UseSerialGC -XX:MaxDirectMemorySize=128m "${JVM_COMMON[@]}" \
      -Dhbase.log.file=hbase-thrift.log "$THRIFT_CLASS" \
      -b "$BIND_HOST" -p "$THRIFT_PORT" -threadpool start
  fi
  local deadline=$((t0 + TIMEOUT))
  while :; do
    pid_of "$MASTER_PID" "$MASTER_CLASS" >/dev/null \
      || die_log "$MASTER_LOG" "HBase master exited during startup, see $MASTER_LOG"
    pid_of "$THRIFT_PID" "$THRIFT_CLASS" >/dev/null \
      || die_log "$THRIFT_LOG" "HBase Thrift server exited during startup, see $THRIFT_LOG"
    thrift_ready && break
    [ "$(date +%s)" -lt "$deadline" ] \
      || die "HBase Thrift not answering after ${TIMEOUT}s (processes left running; '$0 stop' ends them); see $MASTER_LOG and $THRIFT_LOG"
    sleep 1
  done
  echo "HBase ready in $(( $(date +%s) - t0 ))s: $URI (ZooKeeper $BIND_HOST:$ZK_PORT)"
}

do_stop() {
  stop_pid "$THRIFT_PID" "$THRIFT_CLASS" "HBase Thrift" 30
  local m
  if m="$(pid_of "$MASTER_PID" "$MASTER_CLASS")"; then
    # Orderly cluster shutdown (flushes memstores) through the master, then
    # fall back to signals.
    jvm_common
    echo "===== $(date '+%F %T') stop --shutDownCluster" >> "$MASTER_LOG"
    timeout 60 "$JAVA" "${CLIENT_OPTS[@]}" "${JVM_COMMON[@]}" \
      "$MASTER_CLASS" stop --shutDownCluster >> "$MASTER_LOG" 2>&1 || true
    if wait_exit "$m" 60; then
      rm -f "$MASTER_PID"
      echo "HBase master stopped"
    else
      stop_pid "$MASTER_PID" "$MASTER_CLASS" "HBase master" 30
    fi
  else
    rm -f "$MASTER_PID"
  fi
}

do_status() {
  local rc=0
  report "$MASTER_PID" "$MASTER_CLASS" "HBase master" "ZooKeeper $BIND_HOST:$ZK_PORT" || rc=1
  report "$THRIFT_PID" "$THRIFT_CLASS" "HBase Thrift" "$URI" || rc=1
  return $rc
}

case "${1:-}" in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
