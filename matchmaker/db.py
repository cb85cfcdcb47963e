"""Versioned schema migrations and transactions for the embedded SQLite database.

A store names its schema (``"accounts"``, ``"negotiation"``) and lists its migration steps in
order; step ``n`` (1-based) is applied once, in its own transaction together with the row
``schema_migrations(name, version=n)`` that records it, so a step is either fully applied
and recorded or not at all. Running :func:`migrate` again applies only missing steps, and two
processes migrating the same file at once are serialised by SQLite's write lock
(``BEGIN IMMEDIATE``), the loser seeing the steps already applied.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

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
def transaction(connection: sqlite3.Connection, lock: AbstractContextManager[Any]) -> Iterator[sqlite3.Connection]:
    """Hold ``lock`` and run the block in one write transaction (``BEGIN IMMEDIATE``).

    The transaction is committed when the block ends normally and rolled back when it
    raises (the exception propagates).
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
def snapshot(connection: sqlite3.Connection, lock: AbstractContextManager[Any]) -> Iterator[sqlite3.Connection]:
    """Hold ``lock`` and run the block's reads in one read transaction (one consistent view).

    Nothing may be written in the block; the transaction is ended without writing.
    """
    with lock:
        connection.execute("BEGIN DEFERRED")
        try:
            yield connection
        finally:
            connection.rollback()


def current_version(connection: sqlite3.Connection, name: str) -> int:
    """The highest step of schema ``name`` applied to the database (0 when none)."""
    connection.execute(_LEDGER)
    row = connection.execute("SELECT MAX(version) FROM schema_migrations WHERE name = ?", (name,)).fetchone()
    return int(row[0] or 0)


def migrate(connection: sqlite3.Connection, name: str, steps: Sequence[str]) -> int:
    """Apply the missing steps of schema ``name``, each in one transaction.

    Args:
        connection: an open SQLite connection (see ``matchmaker.listings.connect``).
        name: the schema's name in ``schema_migrations``.
        steps: SQL scripts; ``steps[0]`` is version 1. A step may hold several statements.

    Returns:
        How many steps were applied now (0 when the schema was up to date).

    Raises:
        MigrationError: when a step fails (that step is rolled back, earlier ones stay) or
            the database records a version this code does not know.
    """
    connection.execute(_LEDGER)
    connection.commit()
    applied = 0
    for version, script in enumerate(steps, start=1):
        if _apply(connection, name, version, script):
            applied += 1
    newest = current_version(connection, name)
    if newest > len(steps):
        raise MigrationError(name, newest, f"the database is at version {newest}, this code knows {len(steps)}")
    return applied


def _apply(connection: sqlite3.Connection, name: str, version: int, script: str) -> bool:
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
    except sqlite3.Error as error:
        connection.rollback()
        raise MigrationError(name, version, str(error)) from error
    connection.commit()
    return True


def statements(script: str) -> list[str]:
    """Split an SQL script into complete statements (semicolons inside strings are kept)."""
    found: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            found.append(pending.strip())
            pending = ""
    if pending.strip():
        found.append(pending.strip())
    return [statement for statement in found if statement.rstrip(";").strip()]
