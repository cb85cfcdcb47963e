#!/usr/bin/env bash
# Stops HBase (Thrift, then master) and HDFS; safe to run when nothing runs.
set -uo pipefail
INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rc=0
"$INFRA_DIR/hbase.sh" stop || rc=1
"$INFRA_DIR/hdfs.sh" stop || rc=1
exit $rc
