# Shared settings and helpers for hdfs.sh and hbase.sh (sourced, not executed).

INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# abs_dir DIR: creates DIR if needed and prints its absolute path.
abs_dir() {
  mkdir -p "$1" && (cd "$1" && pwd)
}

VAR_DIR="$(abs_dir "${INFRA_VAR_DIR:-$INFRA_DIR/var}")"
LIB_DIR="$INFRA_DIR/lib/main"
LOG_DIR="$VAR_DIR/log"
RUN_DIR="$VAR_DIR/run"
BIND_HOST=127.0.0.1

if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then
  JAVA="$JAVA_HOME/bin/java"
else
  JAVA="$(command -v java || true)"
fi

# JDK 17 flags needed by HBase and Hadoop.
JDK17_OPTS=(
  --add-opens java.base/java.io=ALL-UNNAMED
  --add-opens java.base/java.nio=ALL-UNNAMED
  --add-opens java.base/sun.nio.ch=ALL-UNNAMED
  --add-opens java.base/java.lang=ALL-UNNAMED
  --add-opens java.base/jdk.internal.ref=ALL-UNNAMED
  --add-opens java.base/java.lang.reflect=ALL-UNNAMED
  --add-opens java.base/java.util=ALL-UNNAMED
  --add-opens java.base/java.util.concurrent=ALL-UNNAMED
  --add-opens java.base/java.net=ALL-UNNAMED
  --add-opens java.base/java.math=ALL-UNNAMED
  --add-opens java.base/java.text=ALL-UNNAMED
  --add-opens java.base/java.util.zip=ALL-UNNAMED
  --add-opens java.base/sun.security.util=ALL-UNNAMED
  --add-opens java.base/sun.security.x509=ALL-UNNAMED
  --add-exports java.base/jdk.internal.misc=ALL-UNNAMED
  --add-modules jdk.unsupported
  -Dorg.apache.hbase.thirdparty.io.netty.tryReflectionSetAccessible=true
  -Djava.net.preferIPv4Stack=true
)

# Options for short-lived client JVMs (readiness checks, admin commands).
CLIENT_OPTS=(-Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC)

die() { echo "ERROR: $*" >&2; exit 1; }

# die_log LOGFILE MESSAGE: prints the end of LOGFILE, then fails with MESSAGE.
die_log() {
  local log="$1"; shift
  if [ -s "$log" ]; then
    echo "----- last lines of $log" >&2
    tail -n 15 "$log" | cut -c1-300 >&2
    echo "-----" >&2
  fi
  die "$*"
}

ensure_java() {
  [ -n "$JAVA" ] || die "java not found (set JAVA_HOME or put java on PATH)"
}

ensure_libs() {
  "$INFRA_DIR/fetch.sh" || die "fetching the jars failed"
}

# pid_of PIDFILE PATTERN: prints the pid if the process is alive and its
# command line contains PATTERN; returns 1 otherwise.
pid_of() {
  local pidfile="$1" pattern="$2" pid
  [ -f "$pidfile" ] || return 1
  pid="$(cat "$pidfile" 2>/dev/null)"
  [ -n "$pid" ] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$pattern" || return 1
  echo "$pid"
}

# launch PIDFILE LOGFILE CMD...: starts CMD detached in its own session,
# stdout+stderr appended to LOGFILE, pid written to PIDFILE.
launch() {
  local pidfile="$1" logfile="$2"; shift 2
  mkdir -p "$(dirname "$pidfile")" "$(dirname "$logfile")"
  {
    echo "===== $(date '+%F %T') starting: $*"
  } >> "$logfile"
  setsid sh -c 'echo $$ > "$0"; exec "$@"' "$pidfile" "$@" >> "$logfile" 2>&1 < /dev/null &
  local i
  for i in $(seq 1 50); do
    [ -s "$pidfile" ] && return 0
    sleep 0.1
  done
  die "could not start $* (see $logfile)"
}

# stop_pid PIDFILE PATTERN NAME TIMEOUT_SECONDS: SIGTERM, wait, then SIGKILL.
stop_pid() {
  local pidfile="$1" pattern="$2" name="$3" timeout="$4" pid i
  if ! pid="$(pid_of "$pidfile" "$pattern")"; then
    rm -f "$pidfile"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 $((timeout * 2))); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; echo "$name stopped"; return 0; }
    sleep 0.5
  done
  echo "$name did not stop within ${timeout}s after SIGTERM; sending SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null || true
  for i in $(seq 1 20); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  rm -f "$pidfile"
  echo "$name killed"
}

# wait_exit PID SECONDS: returns 0 once PID is gone, 1 on timeout.
wait_exit() {
  local pid="$1" timeout="$2" i
  for i in $(seq 1 $((timeout * 2))); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.5
  done
  return 1
}

# port_open HOST PORT
port_open() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# check_port_free PORT WHAT: fails if something already listens on PORT.
check_port_free() {
  if port_open "$BIND_HOST" "$1"; then
    die "port $BIND_HOST:$1 ($2) is already in use by another process"
  fi
}

# report PIDFILE PATTERN NAME DETAIL: prints whether NAME runs (pid, memory, DETAIL);
# returns 1 when it does not.
report() {
  local pid
  if pid="$(pid_of "$1" "$2")"; then
    echo "$3 running (pid $pid, RSS $(rss_mb "$pid") MB): $4"
  else
    echo "$3 not running"; return 1
  fi
}

# rss_mb PID
rss_mb() {
  awk '/^VmRSS:/ {printf "%d", $2/1024}' "/proc/$1/status" 2>/dev/null
}

# xml_props NAME VALUE [NAME VALUE ...]: prints a Hadoop-style configuration file.
xml_props() {
  echo '<?xml version="1.0"?>'
  echo '<configuration>'
  while [ $# -ge 2 ]; do
    printf '  <property><name>%s</name><value>%s</value></property>\n' "$1" "$2"
    shift 2
  done
  echo '</configuration>'
}

# log4j 1.x (reload4j) configuration: everything at LEVEL to the console,
# which the launcher redirects to the service's log file.
write_log4j() {
  local file="$1" level="${2:-INFO}"
  cat > "$file" <<EOF
log4j.rootLogger=$level,console
log4j.appender.console=org.apache.log4j.ConsoleAppender
log4j.appender.console.target=System.err
log4j.appender.console.layout=org.apache.log4j.PatternLayout
log4j.appender.console.layout.ConversionPattern=%d{ISO8601} %-5p [%t] %c{2}: %m%n
log4j.logger.org.apache.hadoop.util.NativeCodeLoader=ERROR
log4j.logger.org.apache.hadoop.metrics2=WARN
log4j.logger.org.apache.hadoop.hdfs.StateChange=WARN
log4j.logger.org.apache.hadoop.hdfs.server.namenode.FSNamesystem.audit=WARN
EOF
}
