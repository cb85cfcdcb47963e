"""Behaviour events as a Spark RDD, from the embedded store or from HBase.

From HBase the read is parallel: one task per salt bucket, each scanning its key range
with its own Thrift connection on the executor (see ``behaviour.hbase_store``). From
SQLite the driver reads the events and distributes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from behaviour.events import Event
from behaviour.hbase_store import HBaseEventStore, user_ranges
from behaviour.store import SQLiteEventStore
from matchmaker.settings import Settings

if TYPE_CHECKING:
    from pyspark import RDD, SparkContext


def _scan_ranges(ranges: Iterable[tuple[bytes, bytes]], host: str, port: int, prefix: str) -> Iterator[Event]:
    store = HBaseEventStore(host, port, prefix, timeout_ms=60000)
    for start, stop in ranges:
        yield from store.scan_range(start, stop)


def events_rdd(sc: SparkContext, settings: Settings) -> RDD[Event]:
    """Every stored event, read in parallel key ranges from HBase or from SQLite."""
    if settings.event_store == "hbase":
        host, port, prefix = settings.hbase_host, settings.hbase_port, settings.hbase_table_prefix
        ranges = user_ranges()
        return sc.parallelize(ranges, len(ranges)).mapPartitions(
            lambda part: _scan_ranges(part, host, port, prefix))
    events = list(SQLiteEventStore(settings.events_path).scan())
    return sc.parallelize(events, max(1, sc.defaultParallelism))
