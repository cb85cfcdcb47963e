"""Round trips against the local services started by up.sh.

Run with the app environment's interpreter (needs pyspark and happybase):
    .venv/bin/python infra/smoke_test.py [hdfs|hbase]
"""

import os
import sys
import time

HDFS_URI = os.environ.get(
    "HDFS_URI", f"hdfs://127.0.0.1:{os.environ.get('HDFS_NAMENODE_PORT', '8020')}"
)
THRIFT_PORT = int(os.environ.get("HBASE_THRIFT_PORT", "9090"))


def check_hdfs() -> None:
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    from pyspark.sql import SparkSession

    t0 = time.time()
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("infra-smoke-test")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # One DataNode: without this the Hadoop client asks for 3 replicas.
        .config("spark.hadoop.dfs.replication", "1")
        .getOrCreate()
    )
    t1 = time.time()
    path = f"{HDFS_URI}/tmp/infra-smoke/rows.jsonl"
    rows = [{"id": i, "text": f"row {i}"} for i in range(10)]
    spark.createDataFrame(rows).coalesce(1).write.mode("overwrite").json(path)
    t2 = time.time()
    back = sorted(
        (r.asDict() for r in spark.read.json(path).collect()), key=lambda d: d["id"]
    )
    t3 = time.time()
    assert back == rows, back
    jvm = spark.sparkContext._jvm
    hconf = spark.sparkContext._jsc.hadoopConfiguration()
    fs = jvm.org.apache.hadoop.fs.Path(path).getFileSystem(hconf)
    fs.delete(jvm.org.apache.hadoop.fs.Path(path), True)
    spark.stop()
    print(
        f"hdfs ok: {path} session {t1 - t0:.1f}s write {t2 - t1:.1f}s "
        f"read {t3 - t2:.1f}s"
    )


def check_hbase() -> None:
    import happybase

    t0 = time.time()
    conn = happybase.Connection("127.0.0.1", THRIFT_PORT)
    name = b"infra_smoke"
    if name in conn.tables():
        conn.delete_table(name, disable=True)
    conn.create_table(name, {"cf": dict(max_versions=1)})
    table = conn.table(name)
    with table.batch() as batch:
        for i in range(100):
            batch.put(f"k{i:03d}".encode(), {b"cf:v": str(i).encode()})
    rows = list(table.scan())
    assert len(rows) == 100 and rows[0] == (b"k000", {b"cf:v": b"0"}), rows[:2]
    assert table.row(b"k042") == {b"cf:v": b"42"}
    conn.delete_table(name, disable=True)
    assert name not in conn.tables()
    conn.close()
    print(f"hbase ok: thrift://127.0.0.1:{THRIFT_PORT} round trip {time.time() - t0:.1f}s")


if __name__ == "__main__":
    what = sys.argv[1:] or ["hdfs", "hbase"]
    if "hbase" in what:
        check_hbase()
    if "hdfs" in what:
        check_hdfs()
