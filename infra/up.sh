#!/usr/bin/env bash
# Starts HDFS, then HBase with its Thrift server; each waits until it answers.
set -euo pipefail
INFRA_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$INFRA_DIR/hdfs.sh" start
"$INFRA_DIR/hbase.sh" start
