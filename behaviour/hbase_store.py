"""The distributed event store: HBase through its Thrift server (happybase).

Row keys (one table, ``<prefix>events``)::

    u<s>|<user_id>|<ts_ms:13>|<event_id>       family e: the event, for scans per user
    l<s>|<listing_id:20>|<ts_ms:13>|<event_id> family e: the same event, for scans per listing
    c|<participant_id>                          family c: credit score and components

``<s>`` is a salt: one hex digit from the MD5 of the user id (or listing id), so writes
from many users spread over 16 key ranges instead of piling onto the region that holds
"now", while all rows of one user (or listing) stay together, in time order, under one
prefix: a per-user or per-listing scan is a single prefix scan. A full scan (the CF and
credit jobs) reads the 16 ``u<s>`` ranges in parallel. The event id in the key makes a
re-written event land on the same rows, so replays never duplicate.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

import happybase
from thriftpy2.transport import TTransportException

from behaviour.events import Event
from behaviour.store import Credit

SALT_BUCKETS = 16
EVENT_FAMILY = b"e"
CREDIT_FAMILY = b"c"
BODY = b"e:body"
TRANSPORT_ERRORS = (TTransportException, OSError, socket.timeout, BrokenPipeError, EOFError)

T = TypeVar("T")


class StoreUnavailableError(ConnectionError):
    """The distributed store cannot be reached."""


def salt(value: str) -> str:
    """The one-hex-digit salt of a user or listing id."""
    return format(hashlib.md5(value.encode("utf-8")).digest()[0] % SALT_BUCKETS, "x")


def user_prefix(user_id: str) -> bytes:
    """Row-key prefix of a user's events."""
    return f"u{salt(user_id)}|{user_id}|".encode()


def listing_prefix(listing_id: int) -> bytes:
    """Row-key prefix of a listing's events."""
    key = f"{listing_id:020d}"
    return f"l{salt(key)}|{key}|".encode()


def event_keys(event: Event) -> tuple[bytes, bytes]:
    """The user-ordered and listing-ordered row keys of an event."""
    suffix = f"{int(event.ts * 1000):013d}|{event.event_id}".encode()
    return user_prefix(event.user_id) + suffix, listing_prefix(event.listing_id) + suffix


def user_ranges() -> list[tuple[bytes, bytes]]:
    """The 16 key ranges holding every event once (the per-user copies)."""
    return [(f"u{digit:x}".encode(), f"u{digit:x}~".encode()) for digit in range(SALT_BUCKETS)]


class HBaseEventStore:
    """Events and credit in HBase.

    Args:
        host: Thrift server host.
        port: Thrift server port.
        table_prefix: Prefix of the table name (one deployment per prefix).
        timeout_ms: Socket timeout of each Thrift call.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 9090, table_prefix: str = "matchmaker_",
                 timeout_ms: int = 5000) -> None:
        self._host, self._port, self._timeout = host, port, timeout_ms
        self.table_name = f"{table_prefix}events"
        self._connection: happybase.Connection | None = None
        self._lock = threading.Lock()

    def ensure_table(self) -> None:
        """Create the table with its two families when missing (also done on every new connection)."""
        self._call(lambda _connection: None)

    def append(self, events: Iterable[Event]) -> int:
        """Write each event under its user key and its listing key."""
        checked = [event.validated() for event in events]

        def write(connection: happybase.Connection) -> None:
            with connection.table(self.table_name).batch(batch_size=500) as batch:
                for event in checked:
                    body = event.to_json().encode("utf-8")
                    for key in event_keys(event):
                        batch.put(key, {BODY: body})
        if checked:
            self._call(write)
        return len(checked)

    def for_user(self, user_id: str) -> list[Event]:
        """A user's events by time (one prefix scan).

        A user id may itself contain the key separator (``x|2`` starts with the prefix of
        ``x``), so the scan's events are kept only when they are this user's.
        """
        return [event for event in self._scan_prefix(user_prefix(user_id)) if event.user_id == user_id]

    def for_listing(self, listing_id: int) -> list[Event]:
        """A listing's events by time (one prefix scan)."""
        return [event for event in self._scan_prefix(listing_prefix(listing_id)) if event.listing_id == listing_id]

    def scan(self) -> Iterator[Event]:
        """Every event, range after range."""
        for start, stop in user_ranges():
            yield from self.scan_range(start, stop)

    def scan_range(self, start: bytes, stop: bytes) -> list[Event]:
        """The events of one key range (used by parallel scans)."""
        def read(connection: happybase.Connection) -> list[Event]:
            rows = connection.table(self.table_name).scan(row_start=start, row_stop=stop, columns=[BODY],
                                                          batch_size=1000)
            return [Event.from_dict(json.loads(data[BODY])) for _, data in rows]
        return self._call(read)

    def count(self) -> int:
        """Number of distinct events (rows of the per-user copy)."""
        def count(connection: happybase.Connection) -> int:
            table = connection.table(self.table_name)
            return sum(1 for start, stop in user_ranges()
                       for _ in table.scan(row_start=start, row_stop=stop, filter=b"KeyOnlyFilter()",
                                           batch_size=1000))
        return self._call(count)

    def put_credits(self, credits: Iterable[Credit]) -> int:
        """Write credit rows (family c)."""
        rows = list(credits)

        def write(connection: happybase.Connection) -> None:
            with connection.table(self.table_name).batch(batch_size=500) as batch:
                for credit in rows:
                    batch.put(f"c|{credit.participant_id}".encode(), {
                        b"c:score": repr(credit.score).encode(),
                        b"c:components": json.dumps(credit.components, sort_keys=True).encode(),
                        b"c:computed_at": repr(credit.computed_at).encode()})
        if rows:
            self._call(write)
        return len(rows)

    def credits(self, participant_ids: Iterable[str]) -> dict[str, Credit]:
        """Credit rows by participant (one multi-get)."""
        wanted = sorted(set(participant_ids))

        def read(connection: happybase.Connection) -> dict[str, Credit]:
            rows = connection.table(self.table_name).rows([f"c|{p}".encode() for p in wanted],
                                                          columns=[CREDIT_FAMILY])
            found = {}
            for key, data in rows:
                participant = key.decode()[2:]
                found[participant] = Credit(participant, float(data[b"c:score"]),
                                            json.loads(data[b"c:components"]), float(data[b"c:computed_at"]))
            return found
        return self._call(read) if wanted else {}

    def drop(self) -> None:
        """Delete the table (tests and resets)."""
        def delete(connection: happybase.Connection) -> None:
            if self.table_name.encode() in connection.tables():
                connection.delete_table(self.table_name, disable=True)
        self._call(delete)

    def _scan_prefix(self, prefix: bytes) -> list[Event]:
        def read(connection: happybase.Connection) -> list[Event]:
            rows = connection.table(self.table_name).scan(row_prefix=prefix, columns=[BODY], batch_size=1000)
            return [Event.from_dict(json.loads(data[BODY])) for _, data in rows]
        return self._call(read)

    def _call(self, operation: Callable[[happybase.Connection], T]) -> T:
        """Run ``operation``; reconnect once if the connection broke (Thrift drops idle ones)."""
        with self._lock:
            try:
                return operation(self._connect())
            except TRANSPORT_ERRORS:
                self._disconnect()
            try:
                return operation(self._connect())
            except TRANSPORT_ERRORS as error:
                self._disconnect()
                raise StoreUnavailableError(f"HBase Thrift at {self._host}:{self._port}: {error}") from error

    def _connect(self) -> happybase.Connection:
        if self._connection is None:
            connection = happybase.Connection(self._host, self._port, timeout=self._timeout, autoconnect=True)
            if self.table_name.encode() not in connection.tables():
                try:
                    connection.create_table(self.table_name, {"e": {"max_versions": 1}, "c": {"max_versions": 1}})
                except Exception:
                    # Another server sharing the table created it first.
                    if self.table_name.encode() not in connection.tables():
                        raise
            self._connection = connection
        return self._connection

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # noqa: BLE001 - closing a broken connection may fail in any way
                pass

