"""The backends the store contract runs on: the embedded SQLite database and a real PostgreSQL.

A test that takes ``backend`` runs twice: on a SQLite file of its own and on PostgreSQL
(``integration``: the session's ``postgres`` server, ``infra/postgres.sh``) in a schema of its
own, created for the test and dropped after it; connections reach it through the URL
(``options=-csearch_path=<schema>``), as the application would with ``MATCHMAKER_DATABASE_URL``.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from matchmaker.db import statements
from storage.sql import Connection, open_database, table_names
from tests.conftest import LocalServer, postgres_url

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)]


@dataclass(frozen=True)
class DatabaseSettings:
    """The two settings ``storage.sql.open_database`` reads."""

    database_path: Path
    database_url: str | None = None


class Backend:
    """One test's database, and the connections the test opened to it (closed after the test)."""

    def __init__(self, name: str, settings: DatabaseSettings) -> None:
        self.name = name
        self.settings = settings
        self._opened: list[Connection] = []

    def connect(self, read_only: bool = False) -> Connection:
        """A new connection, as the application opens one (``open_database``)."""
        connection = open_database(self.settings, read_only=read_only)
        self._opened.append(connection)
        return connection

    def env(self) -> dict[str, str]:
        """Environment variables that make ``load_settings`` name this database."""
        if self.settings.database_url:
            return {"MATCHMAKER_DATABASE_URL": self.settings.database_url,
                    "MATCHMAKER_DB": str(self.settings.database_path)}
        return {"MATCHMAKER_DB": str(self.settings.database_path)}

    def script(self, sql: str) -> None:
        """Run the statements of ``sql`` (SQLite's dialect) and commit."""
        connection = self.connect()
        for statement in statements(sql):
            connection.execute(statement)
        connection.commit()

    def tables(self) -> set[str]:
        """The tables of the database."""
        return table_names(self.connect())

    def dump(self) -> str:
        """Every row of every table, as text."""
        connection = self.connect()
        return "\n".join(f"{table}: {tuple(row)!r}" for table in sorted(table_names(connection))
                         for row in connection.execute(f"SELECT * FROM {table}").fetchall())

    def close(self) -> None:
        """Close every connection the test opened."""
        for connection in self._opened:
            with contextlib.suppress(Exception):
                connection.close()
        self._opened.clear()


@contextlib.contextmanager
def postgres_schema(server: LocalServer) -> Iterator[str]:
    """A new schema in the ``matchmaker`` database; yields a URL whose connections use it. Dropped afterwards."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin_url = postgres_url(server)
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{admin_url}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute("SET lock_timeout = '10s'")
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@contextlib.contextmanager
def make_backend(name: str, request: pytest.FixtureRequest, folder: Path) -> Iterator[Backend]:
    """The backend ``name`` (``sqlite`` or ``postgresql``) for one test."""
    path = folder / "matchmaker.db"
    if name == "sqlite":
        backend = Backend(name, DatabaseSettings(path))
        try:
            yield backend
        finally:
            backend.close()
        return
    if name != "postgresql":
        raise pytest.UsageError(f"unknown backend {name}")
    server: LocalServer = request.getfixturevalue("postgres")
    with postgres_schema(server) as url:
        backend = Backend(name, DatabaseSettings(path, url))
        try:
            yield backend
        finally:
            backend.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The test's database, on each backend in turn."""
    with make_backend(request.param, request, tmp_path) as made:
        yield made


@pytest.fixture()
def postgres_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """The test's database on PostgreSQL only (for what only a server can do: restarts, other processes)."""
    with make_backend("postgresql", request, tmp_path) as made:
        yield made
