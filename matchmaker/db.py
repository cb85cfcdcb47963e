"""Versioned schema migrations and transactions, on SQLite or PostgreSQL (``storage.sql``).

A store names its schema (``"accounts"``, ``"negotiation"``) and lists its migration steps in
order, in SQLite's dialect; step ``n`` (1-based) is applied once, in its own transaction together
with the row ``schema_migrations(name, version=n)`` that records it, so a step is either fully
applied and recorded or not at all. Running :func:`migrate` again applies only missing steps, and
two processes migrating the same database at once are serialised by the write lock
(``BEGIN IMMEDIATE``: SQLite's own, PostgreSQL's advisory lock), the loser seeing the steps
already applied.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from storage.sql import Connection, Error

_LEDGER = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    applied_at REAL NOT NULL,
    PRIMARY KEY (name, version)
)
"""


class MigrationError(RuntimeError):
    """A migration step failed, or the database is newer than this code."""

    def __init__(self, name: str, version: int, message: str) -> None:
        """Record which schema and step the error is about."""
        super().__init__(f"schema {name!r} step {version}: {message}")
        self.name = name
        self.version = version


@contextmanager
def transaction(connection: Connection, lock: AbstractContextManager[Any]) -> Iterator[Connection]:
    """Hold ``lock`` and run the block in one write transaction (``BEGIN IMMEDIATE``).

    Write transactions of one database run one at a time, whichever process opens them. The
    transaction is committed when the block ends normally and rolled back when it raises (the
    exception propagates).
    """
    with lock:
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.rollback()
            raise
        connection.commit()


@contextmanager
def snapshot(connection: Connection, lock: AbstractContextManager[Any]) -> Iterator[Connection]:
    """Hold ``lock`` and run the block's reads in one read transaction (one consistent view).

    Nothing may be written in the block; the transaction is ended without writing.
    """
    with lock:
        connection.execute("BEGIN DEFERRED")
        try:
            yield connection
        finally:
            connection.rollback()


def current_version(connection: Connection, name: str) -> int:
    """The highest step of schema ``name`` applied to the database (0 when none)."""
    _ledger(connection)
    row = connection.execute("SELECT MAX(version) FROM schema_migrations WHERE name = ?", (name,)).fetchone()
    return int(row[0] or 0)


def migrate(connection: Connection, name: str, steps: Sequence[str]) -> int:
    """Apply the missing steps of schema ``name``, each in one transaction.

    Args:
        connection: an open connection (``storage.sql.open_database``), not in a transaction.
        name: the schema's name in ``schema_migrations``.
        steps: SQL scripts; ``steps[0]`` is version 1. A step may hold several statements.

    Returns:
        How many steps were applied now (0 when the schema was up to date).

    Raises:
        MigrationError: when a step fails (that step is rolled back, earlier ones stay) or
            the database records a version this code does not know.
    """
    _ledger(connection)
    applied = 0
    for version, script in enumerate(steps, start=1):
        if _apply(connection, name, version, script):
            applied += 1
    newest = current_version(connection, name)
    if newest > len(steps):
        raise MigrationError(name, newest, f"the database is at version {newest}, this code knows {len(steps)}")
    return applied


def _ledger(connection: Connection) -> None:
    """Create the ledger when it is missing, under the write lock (concurrent creations would collide)."""
    with transaction(connection, nullcontext()):
        connection.execute(_LEDGER)


def _apply(connection: Connection, name: str, version: int, script: str) -> bool:
    connection.execute("BEGIN IMMEDIATE")
    try:
        done = connection.execute("SELECT 1 FROM schema_migrations WHERE name = ? AND version = ?",
                                  (name, version)).fetchone()
        if done is not None:
            connection.rollback()
            return False
        for statement in statements(script):
            connection.execute(statement)
        connection.execute("INSERT INTO schema_migrations (name, version, applied_at) VALUES (?, ?, ?)",
                           (name, version, time.time()))
    except Error as error:
        connection.rollback()
        raise MigrationError(name, version, str(error)) from error
    except BaseException:
        connection.rollback()
        raise
    connection.commit()
    return True


def statements(script: str) -> list[str]:
    """Split an SQL script into complete statements (semicolons inside strings are kept)."""
    found: list[str] = []
    pending = ""
    for part in script.split(";"):
        pending += part + ";"
        if sqlite3.complete_statement(pending):
            found.append(pending.strip())
            pending = ""
    pending = pending[:-1]
    if pending.strip():
        found.append(pending.strip())
    return [statement for statement in found if statement.rstrip(";").strip()]
