#!/usr/bin/env bash
# Fetches the HBase/Hadoop jars from Maven Central into lib/main.
# Runs Maven only when lib/main is missing or pom.xml changed since the last fetch.
set -euo pipefail
INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LIB="$INFRA_DIR/lib"
STAMP="$LIB/.pom.sha256"

command -v mvn >/dev/null || { echo "ERROR: mvn not found" >&2; exit 1; }
mkdir -p "$LIB"
exec 9> "$LIB/.fetch.lock"
flock 9

want="$(sha256sum "$INFRA_DIR/pom.xml" | cut -d' ' -f1)"
if [ -d "$LIB/main" ] && [ -d "$LIB/hdfs-webapps" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  exit 0
fi

echo "fetching jars with Maven into $LIB/main ..."
rm -rf "$LIB/main" "$LIB/hdfs-webapps" "$STAMP"
log="$LIB/fetch.log"
start=$(date +%s)
if ! mvn -q -B -f "$INFRA_DIR/pom.xml" ${INFRA_MVN_ARGS:-} package > "$log" 2>&1; then
  tail -n 30 "$log" >&2
  echo "ERROR: mvn failed; full log: $log" >&2
  rm -rf "$LIB/main" "$LIB/hdfs-webapps"
  exit 1
fi
rm -rf "$INFRA_DIR/target"
echo "$want" > "$STAMP"
echo "fetched $(ls "$LIB/main" | wc -l) jars ($(du -sh "$LIB/main" | cut -f1)) in $(( $(date +%s) - start ))s"
