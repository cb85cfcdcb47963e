"""Open the event store the settings ask for."""

from __future__ import annotations

from behaviour.hbase_store import HBaseEventStore
from behaviour.spool import SpoolingEventStore
from behaviour.store import EventStore, SQLiteEventStore
from matchmaker.settings import Settings


def primary_event_store(settings: Settings) -> EventStore:
    """SQLite (embedded) or HBase (``MATCHMAKER_EVENT_STORE=hbase``, the cluster default)."""
    if settings.event_store == "hbase":
        return HBaseEventStore(settings.hbase_host, settings.hbase_port, settings.hbase_table_prefix)
    return SQLiteEventStore(settings.events_path)


def serving_event_store(settings: Settings) -> SpoolingEventStore:
    """The primary store behind a local spool, so no event is lost while it is unreachable."""
    return SpoolingEventStore(primary_event_store(settings), settings.var_dir / "spool")
