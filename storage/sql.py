"""The SQL database of the stores: embedded SQLite, or PostgreSQL behind the same small interface.

The stores are written in SQLite's dialect against the part of :class:`sqlite3.Connection` they
use (:class:`Connection`: ``execute``, ``executemany``, ``commit``, ``rollback``,
``total_changes``; cursors with ``fetchone``, ``fetchall``, ``rowcount``, ``lastrowid``; rows
read by position and by name). :func:`open_database` opens what the settings name: the SQLite
file at ``database_path`` or, when ``database_url`` is set, a :class:`PostgresConnection`
offering that interface over psycopg 3. Each statement is translated once (:func:`translate`):
``?`` placeholders, ``INSERT OR IGNORE`` and the column types of ``CREATE TABLE`` / ``ADD COLUMN``.

Transactions keep SQLite's semantics on PostgreSQL (the connection is in autocommit mode, so a
statement outside a transaction commits on its own, as in SQLite):

* ``BEGIN IMMEDIATE`` (a write transaction) is ``BEGIN`` followed by
  ``pg_advisory_xact_lock(WRITE_LOCK_KEY)``: the writers of one database are serialised, across
  processes, as SQLite serialises them, so read-then-write code (``MAX(seq) + 1``, "insert
  unless it exists", the migration ledger) stays correct;
* ``BEGIN DEFERRED`` (or ``BEGIN``: a consistent read) is a ``REPEATABLE READ READ ONLY``
  transaction.

Outages: a statement that cannot reach the server raises :class:`DatabaseUnavailable` within
``connect_timeout`` seconds, and no statement runs longer than ``statement_timeout`` seconds
(waiting for the write lock included). A connection found broken is replaced on its next use
outside a transaction; a read or a ``BEGIN`` that finds it broken is sent once more on the new
connection, so the first call after a server restart works. A transaction whose connection was
lost is never continued on a new one: the server rolled it back, each further statement raises
until the caller rolls back, and nothing half-written remains.
"""

from __future__ import annotations

import functools
import logging
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import psycopg
from psycopg.conninfo import conninfo_to_dict

logger = logging.getLogger(__name__)

WRITE_LOCK_KEY = 0x6D6D5F7772697465
"""The advisory lock every write transaction of one PostgreSQL database holds (``"mm_write"``)."""
CONNECT_TIMEOUT_SECONDS = 5
STATEMENT_TIMEOUT_SECONDS = 15.0

Error = (sqlite3.Error, psycopg.Error)
"""Any database error of either backend (``except Error``)."""
IntegrityError = (sqlite3.IntegrityError, psycopg.IntegrityError)
"""A constraint (unique, check, not null) refused a write, on either backend."""
OperationalError = (sqlite3.OperationalError, psycopg.OperationalError)
"""The database could not do what was asked (locked, unreachable, timed out), on either backend."""


class UnsupportedStatementError(ValueError):
    """A statement of SQLite's dialect that has no translation for PostgreSQL (``PRAGMA``, ``REPLACE``)."""


class DatabaseUnavailable(psycopg.OperationalError):
    """PostgreSQL could not be reached, or the connection was lost (a transaction on it was rolled back)."""


class Row(Protocol):
    """A result row, read by position (``row[0]``) or by column name (``row["id"]``)."""

    def __getitem__(self, key: Any, /) -> Any:
        """The value at a position or of a column name."""
        ...

    def keys(self) -> list[str]:
        """The column names, in order."""
        ...


class Cursor(Protocol):
    """The result of one statement."""

    @property
    def rowcount(self) -> int:
        """How many rows the statement changed (for ``INSERT``, ``UPDATE``, ``DELETE``)."""
        ...

    @property
    def lastrowid(self) -> int | None:
        """The generated id of the row an ``INSERT`` stored."""
        ...

    def fetchone(self) -> Any:
        """The next row, or ``None``."""
        ...

    def fetchall(self) -> list[Any]:
        """The remaining rows."""
        ...

    def __iter__(self) -> Iterator[Any]:
        """The remaining rows, one by one."""
        ...


class Connection(Protocol):
    """The part of :class:`sqlite3.Connection` the stores use; :class:`PostgresConnection` offers it too."""

    @property
    def total_changes(self) -> int:
        """Rows inserted, updated or deleted through this connection since it was opened."""
        ...

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Cursor:
        """Run one statement (SQLite's dialect, ``?`` placeholders)."""
        ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Cursor:
        """Run one statement once per parameter row."""
        ...

    def commit(self) -> None:
        """Commit the open transaction (nothing when there is none)."""
        ...

    def rollback(self) -> None:
        """Roll back the open transaction (nothing when there is none)."""
        ...

    def close(self) -> None:
        """Close the connection."""
        ...


class DatabaseSettings(Protocol):
    """Where the database is (``matchmaker.settings.Settings`` has both)."""

    @property
    def database_path(self) -> Path:
        """The embedded SQLite file, used when ``database_url`` is ``None``."""
        ...

    @property
    def database_url(self) -> str | None:
        """A ``postgresql://`` URL, or ``None`` for the embedded database."""
        ...


def open_database(settings: DatabaseSettings, read_only: bool = False) -> Connection:
    """A new connection to the configured database: PostgreSQL when ``database_url`` is set, else SQLite.

    Args:
        settings: where the database is.
        read_only: refuse every write on this connection (the statistics reader).

    Raises:
        DatabaseUnavailable: PostgreSQL cannot be reached.
        sqlite3.Error: the SQLite file cannot be opened.
    """
    if settings.database_url:
        return PostgresConnection(settings.database_url, read_only=read_only)
    return connect_sqlite(settings.database_path, read_only=read_only)


def connect_sqlite(path: Path, read_only: bool = False) -> sqlite3.Connection:
    """Open the embedded database in WAL mode, shared by the stores of one process."""
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
    connection.row_factory = sqlite3.Row
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    if read_only:
        connection.execute("PRAGMA query_only = ON")
    return connection


# -- portable questions about the schema ----------------------------------------------------------


def dialect(connection: Connection) -> str:
    """``"postgresql"`` or ``"sqlite"``."""
    return "postgresql" if isinstance(connection, PostgresConnection) else "sqlite"


def table_names(connection: Connection) -> set[str]:
    """The tables of the database (of the current schema on PostgreSQL)."""
    if isinstance(connection, PostgresConnection):
        rows = connection.execute("SELECT table_name FROM information_schema.tables WHERE table_schema ="
                                  " current_schema() AND table_type = 'BASE TABLE'").fetchall()
    else:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'"
                                  " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'").fetchall()
    return {str(row[0]) for row in rows}


def table_columns(connection: Connection, table: str) -> set[str]:
    """The column names of ``table`` (empty when it does not exist)."""
    if isinstance(connection, PostgresConnection):
        rows = connection.execute("SELECT column_name FROM information_schema.columns WHERE table_schema ="
                                  " current_schema() AND table_name = ?", (table,)).fetchall()
    else:
        rows = connection.execute("SELECT name FROM pragma_table_info(?)", (table,)).fetchall()
    return {str(row[0]) for row in rows}


def sync_sequence(connection: Connection, table: str, column: str = "id") -> None:
    """After rows were stored with explicit ids: the next generated id follows the largest one.

    SQLite's ``INTEGER PRIMARY KEY`` does this by itself; a PostgreSQL sequence does not. Call
    it in the transaction that stored the rows (``table`` and ``column`` are trusted names).
    """
    if not isinstance(connection, PostgresConnection):
        return
    row = connection.execute("SELECT pg_get_serial_sequence(?, ?)", (table, column)).fetchone()
    if row is None or row[0] is None:
        return
    sequence = str(row[0])
    connection.execute(f"SELECT setval(?, top) FROM (SELECT MAX({column}) AS top FROM {table}) AS stored"
                       f" WHERE top >= (SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END"
                       f" FROM {sequence})", (sequence,))


# -- translation ---------------------------------------------------------------------------------

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<comment>--[^\n]*|/\*.*?\*/)
  | (?P<string>'(?:[^']|'')*')
  | (?P<quoted>"(?:[^"]|"")*")
  | (?P<word>[A-Za-z_][A-Za-z0-9_$]*)
  | (?P<number>[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?)
  | (?P<other>.)
""", re.S | re.X)
_COLUMN_CONSTRAINTS = {"CONSTRAINT", "PRIMARY", "NOT", "NULL", "UNIQUE", "CHECK", "DEFAULT", "COLLATE",
                       "REFERENCES", "GENERATED", "AS", "AUTOINCREMENT"}
_TABLE_CONSTRAINTS = {"CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"}
_FK_ACTIONS = {"CASCADE", "RESTRICT", "SET", "NULL", "DEFAULT", "NO", "ACTION", "DELETE", "UPDATE"}


def _tokens(sql: str) -> list[tuple[str, str]]:
    """``(kind, text)`` tokens: space, comment, string, quoted, word, number, other."""
    return [(str(m.lastgroup), m.group()) for m in _TOKEN.finditer(sql)]


def _words(tokens: Sequence[tuple[str, str]]) -> list[str]:
    return [text.upper() for kind, text in tokens if kind == "word"]


@functools.lru_cache(maxsize=4096)
def translate(sql: str) -> str:
    """One statement of SQLite's dialect, as the stores write it, in PostgreSQL's (psycopg placeholders).

    * ``?`` becomes ``%s`` and a literal ``%`` becomes ``%%`` (parameters are always passed);
    * ``INSERT OR IGNORE INTO ...`` becomes ``INSERT INTO ... ON CONFLICT DO NOTHING``;
    * in ``CREATE TABLE`` and ``ALTER TABLE ... ADD COLUMN`` a column's type follows SQLite's
      affinity rules: ``INT`` types are ``BIGINT`` (``INTEGER PRIMARY KEY [AUTOINCREMENT]``, the
      row id, is ``BIGSERIAL PRIMARY KEY``), text types ``TEXT COLLATE "C"`` (compared and sorted
      by bytes like SQLite's ``BINARY``), ``REAL``/``FLOAT``/``DOUBLE`` ``DOUBLE PRECISION`` and
      ``BLOB`` ``BYTEA``; foreign keys are dropped, because SQLite does not enforce them (the
      stores never turn them on, and notices are messages of thread 0, which does not exist).

    Raises:
        UnsupportedStatementError: for ``PRAGMA``, ``REPLACE`` and other ``INSERT OR`` conflict clauses.
    """
    tokens = _tokens(sql)
    words = _words(tokens)
    if not words:
        return sql
    if words[0] == "PRAGMA" or words[0] == "REPLACE" or (words[:2] == ["INSERT", "OR"] and words[2:3] != ["IGNORE"]):
        raise UnsupportedStatementError(f"no PostgreSQL translation for: {sql.strip()[:80]}")
    if words[:2] == ["CREATE", "TABLE"]:
        tokens = _create_table(tokens)
    elif words[:2] == ["ALTER", "TABLE"] and "ADD" in words:
        tokens = _add_column(tokens)
    elif words[:3] == ["INSERT", "OR", "IGNORE"]:
        tokens = _insert_or_ignore(tokens)
    out: list[str] = []
    for kind, text in tokens:
        if "%" in text:
            text = text.replace("%", "%%")
        if kind == "other" and text == "?":
            text = "%s"
        out.append(text)
    return "".join(out)


def _insert_or_ignore(tokens: list[tuple[str, str]]) -> list[tuple[str, str]]:
    significant = [i for i, (kind, _) in enumerate(tokens) if kind == "word"]
    drop = set(significant[1:3])
    kept = [token for i, token in enumerate(tokens) if i not in drop]
    while kept and (kept[-1][0] in ("space", "comment") or kept[-1][1] == ";"):
        kept.pop()
    upper = [text.upper() if kind == "word" else "" for kind, text in kept]
    position = upper.index("RETURNING") if "RETURNING" in upper else len(kept)
    return [*kept[:position], ("space", " "), ("word", "ON CONFLICT DO NOTHING"), ("space", " "), *kept[position:]]


def _create_table(tokens: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Translate the column definitions of a ``CREATE TABLE`` (the part between its outer parentheses)."""
    start = next((i for i, (kind, text) in enumerate(tokens) if kind == "other" and text == "("), None)
    if start is None:
        return tokens
    depth, end = 0, len(tokens)
    for i in range(start, len(tokens)):
        kind, text = tokens[i]
        if kind == "other" and text in "()":
            depth += 1 if text == "(" else -1
            if depth == 0:
                end = i
                break
    items: list[list[tuple[str, str]]] = [[]]
    depth = 0
    for token in tokens[start + 1:end]:
        kind, text = token
        if kind == "other" and text in "()":
            depth += 1 if text == "(" else -1
        if kind == "other" and text == "," and depth == 0:
            items.append([])
        else:
            items[-1].append(token)
    body: list[tuple[str, str]] = []
    for item in items:
        words = _words(item)
        if not words:
            continue
        if words[0] in _TABLE_CONSTRAINTS:
            if "FOREIGN" in words:
                continue
            translated = item
        else:
            translated = _column(item)
        if body:
            body.append(("other", ","))
        body.extend(translated)
    return [*tokens[:start + 1], *body, *tokens[end:]]


def _add_column(tokens: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Translate the column definition of ``ALTER TABLE name ADD [COLUMN] definition``."""
    words = [(i, text.upper()) for i, (kind, text) in enumerate(tokens) if kind == "word"]
    if len(words) < 5 or words[3][1] != "ADD":
        return tokens
    at = words[4][0] if words[4][1] == "COLUMN" else words[3][0]
    definition = [t for t in tokens[at + 1:] if t[1] != ";"]
    return [*tokens[:at + 1], *_column(definition)]


def _column(item: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """One column definition: its type by SQLite's affinity rules, without ``REFERENCES`` clauses."""
    significant = [i for i, (kind, _) in enumerate(item) if kind not in ("space", "comment")]
    if not significant:
        return item
    name_at = significant[0]
    position = name_at + 1
    type_words: list[str] = []
    while position < len(item):
        kind, text = item[position]
        if kind == "word" and text.upper() not in _COLUMN_CONSTRAINTS:
            type_words.append(text.upper())
        elif kind == "other" and text == "(" and type_words:
            while position < len(item) and item[position][1] != ")":
                position += 1
        elif kind != "space":
            break
        position += 1
    constraints = _without_references(item[position:])
    declared = " ".join(type_words)
    if not declared:
        raise UnsupportedStatementError(f"column {item[name_at][1]} has no type: PostgreSQL needs one")
    if "INT" in declared and "PRIMARY" in _words(constraints):
        constraints = _without_word(constraints, "AUTOINCREMENT")
        pg_type = "BIGSERIAL"
    elif "INT" in declared:
        pg_type = "BIGINT"
    elif any(part in declared for part in ("CHAR", "CLOB", "TEXT")):
        pg_type = 'TEXT COLLATE "C"'
    elif "BLOB" in declared:
        pg_type = "BYTEA"
    elif any(part in declared for part in ("REAL", "FLOA", "DOUB")):
        pg_type = "DOUBLE PRECISION"
    else:
        pg_type = declared
    head = [*item[:name_at + 1], ("space", " "), ("word", pg_type)]
    if not any(kind not in ("space", "comment") for kind, _ in constraints):
        return [*head, *constraints]
    while constraints[0][0] == "space":
        constraints = constraints[1:]
    return [*head, ("space", " "), *constraints]


def _without_references(tokens: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Column constraints without ``REFERENCES table [(columns)] [ON DELETE|UPDATE action] ...``."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(tokens):
        if tokens[i][0] != "word" or tokens[i][1].upper() != "REFERENCES":
            out.append(tokens[i])
            i += 1
            continue
        if out and out[-1][0] == "space":
            out.pop()
        i = _after_space(tokens, i + 1) + 1
        following = _after_space(tokens, i)
        if following < len(tokens) and tokens[following][1] == "(":
            i = next((k for k in range(following, len(tokens)) if tokens[k][1] == ")"), len(tokens) - 1) + 1
        while (on := _after_space(tokens, i)) < len(tokens) and tokens[on][1].upper() == "ON":
            event = _after_space(tokens, on + 1)
            action = _after_space(tokens, event + 1)
            i = action + (2 if action < len(tokens) and tokens[action][1].upper() in ("SET", "NO") else 1)
            if i > action + 1:
                i = _after_space(tokens, i) + 1
    return out


def _without_word(tokens: list[tuple[str, str]], word: str) -> list[tuple[str, str]]:
    """``tokens`` without ``word`` and the white space before it."""
    out: list[tuple[str, str]] = []
    for token in tokens:
        if token[0] == "word" and token[1].upper() == word:
            if out and out[-1][0] == "space":
                out.pop()
            continue
        out.append(token)
    return out


def _after_space(tokens: Sequence[tuple[str, str]], i: int) -> int:
    """The position of the first token at or after ``i`` that is not white space."""
    while i < len(tokens) and tokens[i][0] == "space":
        i += 1
    return i


def _transaction_command(sql: str) -> str | None:
    """``"write"``, ``"read"``, ``"commit"`` or ``"rollback"`` for SQLite's transaction statements, else ``None``."""
    words = sql.strip().rstrip(";").upper().split()
    if not words or words[0] not in ("BEGIN", "COMMIT", "END", "ROLLBACK"):
        return None
    if words[1:] not in ([], ["TRANSACTION"], ["DEFERRED"], ["DEFERRED", "TRANSACTION"], ["IMMEDIATE"],
                         ["IMMEDIATE", "TRANSACTION"], ["EXCLUSIVE"], ["EXCLUSIVE", "TRANSACTION"]):
        return None
    if words[0] == "BEGIN":
        return "write" if words[1:2] in (["IMMEDIATE"], ["EXCLUSIVE"]) else "read"
    return "rollback" if words[0] == "ROLLBACK" else "commit"


def _parameter(value: Any) -> Any:
    """A parameter as SQLite stores it: ``True``/``False`` are the integers 1 and 0."""
    return int(value) if isinstance(value, bool) else value


def _first_word(query: str) -> str:
    match = re.match(r"\s*([A-Za-z]+)", query)
    return match.group(1).upper() if match else ""


# -- the PostgreSQL connection -------------------------------------------------------------------


class PostgresRow:
    """A row read by position or by column name (case-insensitively), like :class:`sqlite3.Row`."""

    __slots__ = ("_index", "_keys", "_values")

    def __init__(self, values: Sequence[Any], keys: list[str], index: dict[str, int]) -> None:
        """Hold ``values``; ``index`` maps a lower-case column name to its first position."""
        self._values = tuple(values)
        self._keys = keys
        self._index = index

    def __getitem__(self, key: Any, /) -> Any:
        """The value at a position (or slice), or of a column name."""
        if isinstance(key, str):
            try:
                return self._values[self._index[key.lower()]]
            except KeyError:
                raise IndexError(f"no item with the key {key!r}") from None
        return self._values[key]

    def keys(self) -> list[str]:
        """The column names, in order."""
        return list(self._keys)

    def __len__(self) -> int:
        """How many columns the row has."""
        return len(self._values)

    def __iter__(self) -> Iterator[Any]:
        """The values, in column order."""
        return iter(self._values)

    def __eq__(self, other: object) -> bool:
        """Rows are equal when their columns and values are."""
        if not isinstance(other, PostgresRow):
            return NotImplemented
        return self._keys == other._keys and self._values == other._values

    def __hash__(self) -> int:
        """A hash of the columns and values."""
        return hash((tuple(self._keys), self._values))

    def __repr__(self) -> str:
        """The row as ``PostgresRow(name=value, ...)``."""
        return "PostgresRow(" + ", ".join(f"{k}={v!r}" for k, v in zip(self._keys, self._values, strict=True)) + ")"


def _row_factory(cursor: Any) -> Callable[[Sequence[Any]], PostgresRow]:
    keys = [column.name for column in cursor.description or ()]
    index: dict[str, int] = {}
    for position, key in enumerate(keys):
        index.setdefault(key.lower(), position)
    return lambda values: PostgresRow(values, keys, index)


class PostgresCursor:
    """The rows a statement returned (all fetched at once) and what it changed."""

    def __init__(self, connection: PostgresConnection | None, rows: list[PostgresRow], rowcount: int) -> None:
        """Hold the rows; ``connection`` is given for an ``INSERT``, whose ``lastrowid`` is read when asked for."""
        self._connection = connection
        self._rows = rows
        self._position = 0
        self._rowcount = rowcount
        self._lastrowid: int | None = None

    @property
    def rowcount(self) -> int:
        """How many rows the statement changed or returned (-1 when not known)."""
        return self._rowcount

    @property
    def lastrowid(self) -> int | None:
        """The id generated for the row an ``INSERT`` stored (``lastval()``); ``None`` for other statements.

        Read it right after the ``INSERT``, before this connection generates another id.
        """
        if self._connection is not None and self._lastrowid is None:
            self._lastrowid = self._connection.last_generated_id()
        return self._lastrowid

    def fetchone(self) -> PostgresRow | None:
        """The next row, or ``None``."""
        if self._position >= len(self._rows):
            return None
        self._position += 1
        return self._rows[self._position - 1]

    def fetchall(self) -> list[PostgresRow]:
        """The remaining rows."""
        rest = self._rows[self._position:]
        self._position = len(self._rows)
        return rest

    def __iter__(self) -> Iterator[PostgresRow]:
        """The remaining rows, one by one."""
        while (row := self.fetchone()) is not None:
            yield row


class PostgresConnection:
    """A PostgreSQL connection with the interface of :class:`Connection` (see the module docstring).

    Safe to share between threads: each call holds the connection's lock, and a transaction is
    the caller's to serialise (the stores hold their writer lock around it, as with SQLite).
    """

    def __init__(self, url: str, read_only: bool = False, connect_timeout: int = CONNECT_TIMEOUT_SECONDS,
                 statement_timeout: float = STATEMENT_TIMEOUT_SECONDS) -> None:
        """Connect to ``url`` (``postgresql://user:password@host:port/database``, libpq parameters allowed).

        Args:
            url: the database.
            read_only: every transaction of the connection is read-only.
            connect_timeout: seconds to wait for the server when connecting.
            statement_timeout: seconds a statement may run (or wait for a lock).

        Raises:
            DatabaseUnavailable: the server cannot be reached.
        """
        self._url = url
        self._read_only = read_only
        self._connect_timeout = max(1, int(connect_timeout))
        self._statement_timeout_ms = max(1, int(statement_timeout * 1000))
        parts = conninfo_to_dict(url)
        self._where = f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"
        self._lock = threading.RLock()
        self._in_transaction = False
        self._total_changes = 0
        self._closed = False
        self._connection: psycopg.Connection[Any] | None = self._open()

    @property
    def total_changes(self) -> int:
        """Rows inserted, updated or deleted through this connection since it was opened."""
        return self._total_changes

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction is open (begun and not yet committed or rolled back)."""
        return self._in_transaction

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> PostgresCursor:
        """Run one statement of SQLite's dialect (translated by :func:`translate`).

        Raises:
            DatabaseUnavailable: the server cannot be reached or the connection was lost.
            psycopg.Error: the statement failed (``psycopg.IntegrityError`` for a constraint).
            UnsupportedStatementError: a statement that has no PostgreSQL translation.
        """
        with self._lock:
            command = _transaction_command(sql)
            if command in ("write", "read"):
                self._begin(write=command == "write")
            elif command == "commit":
                self.commit()
            elif command == "rollback":
                self.rollback()
            else:
                return self._run(translate(sql), [_parameter(p) for p in parameters], many=False)
            return PostgresCursor(None, [], -1)

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> PostgresCursor:
        """Run one statement once per parameter row (nothing for no rows)."""
        rows = [[_parameter(p) for p in row] for row in parameters]
        with self._lock:
            if not rows:
                return PostgresCursor(None, [], 0)
            return self._run(translate(sql), rows, many=True)

    def commit(self) -> None:
        """Commit the open transaction (nothing when there is none).

        Raises:
            DatabaseUnavailable: the connection was lost (before the commit: it was rolled back;
                while committing: the outcome is not known).
        """
        with self._lock:
            if not self._in_transaction:
                return
            connection = self._connection
            self._in_transaction = False
            if connection is None or connection.broken:
                self._discard()
                raise DatabaseUnavailable(f"the connection to {self._where} was lost: the transaction was rolled back")
            try:
                connection.execute("COMMIT")
            except psycopg.OperationalError as error:
                if connection.broken:
                    self._discard()
                    raise DatabaseUnavailable(f"the connection to {self._where} was lost while committing") from error
                raise

    def rollback(self) -> None:
        """Roll back the open transaction (nothing when there is none); never raises.

        When the connection is broken or the rollback fails, the connection is closed, which
        rolls the transaction back on the server.
        """
        with self._lock:
            if not self._in_transaction:
                return
            self._in_transaction = False
            connection = self._connection
            if connection is None or connection.broken:
                self._discard()
                return
            try:
                connection.execute("ROLLBACK")
            except psycopg.Error:
                logger.warning("rollback on %s failed: closing the connection", self._where, exc_info=True)
                self._discard()

    def close(self) -> None:
        """Close the connection (an open transaction is rolled back); it is not reopened."""
        with self._lock:
            self._closed = True
            self._in_transaction = False
            self._discard()

    def last_generated_id(self) -> int | None:
        """The id the last ``INSERT`` of this connection generated (``SELECT lastval()``)."""
        with self._lock:
            row = self._run("SELECT lastval()", [], many=False).fetchone()
        return None if row is None else int(row[0])

    # -- internals ----------------------------------------------------------------------------

    def _open(self) -> psycopg.Connection[Any]:
        try:
            connection = psycopg.connect(self._url, autocommit=True, prepare_threshold=None, row_factory=_row_factory,
                                         connect_timeout=self._connect_timeout, keepalives=1, keepalives_idle=10,
                                         keepalives_interval=5, keepalives_count=3)
        except psycopg.OperationalError as error:
            raise DatabaseUnavailable(f"cannot connect to PostgreSQL at {self._where}: {_first_line(error)}") from error
        try:
            connection.execute(f"SET statement_timeout = {self._statement_timeout_ms}")
            if self._read_only:
                connection.execute("SET default_transaction_read_only = on")
        except psycopg.Error as error:
            connection.close()
            raise DatabaseUnavailable(f"cannot set up the session on {self._where}: {_first_line(error)}") from error
        return connection

    def _discard(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except psycopg.Error:
                logger.debug("closing a broken connection to %s failed", self._where, exc_info=True)

    def _usable(self) -> psycopg.Connection[Any]:
        """The live connection; outside a transaction a missing or broken one is replaced now."""
        if self._closed:
            raise psycopg.InterfaceError("the connection is closed")
        connection = self._connection
        if connection is not None and not connection.broken and not connection.closed:
            return connection
        if self._in_transaction:
            raise DatabaseUnavailable(f"the connection to {self._where} was lost in a transaction:"
                                      " it was rolled back; roll back and try again")
        self._discard()
        self._connection = self._open()
        return self._connection

    def _begin(self, write: bool) -> None:
        if self._in_transaction:
            raise psycopg.ProgrammingError("cannot start a transaction within a transaction")
        self._run("BEGIN" if write else "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", [], many=False)
        self._in_transaction = True
        if write:
            try:
                self._run("SELECT pg_advisory_xact_lock(%s)", [WRITE_LOCK_KEY], many=False)
            except BaseException:
                self.rollback()
                raise

    def _run(self, query: str, parameters: list[Any], many: bool) -> PostgresCursor:
        connection = self._usable()
        try:
            return self._send(connection, query, parameters, many)
        except psycopg.OperationalError as error:
            if not connection.broken:
                raise
            self._discard()
            lost = f"the connection to {self._where} was lost ({_first_line(error)})"
            if self._in_transaction:
                raise DatabaseUnavailable(f"{lost}: the transaction was rolled back") from error
            if _first_word(query) not in ("SELECT", "BEGIN"):
                raise DatabaseUnavailable(lost) from error
            logger.info("%s: reconnecting", lost)
            return self._send(self._usable(), query, parameters, many)

    def _send(self, connection: psycopg.Connection[Any], query: str, parameters: list[Any],
              many: bool) -> PostgresCursor:
        with connection.cursor() as cursor:
            if many:
                cursor.executemany(query, parameters)
            else:
                cursor.execute(query, parameters)
            rows: list[PostgresRow] = cursor.fetchall() if cursor.description is not None else []
            count = cursor.rowcount
        verb = _first_word(query)
        if verb in ("INSERT", "UPDATE", "DELETE") and count > 0:
            self._total_changes += count
        return PostgresCursor(self if verb == "INSERT" else None, rows, count)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
