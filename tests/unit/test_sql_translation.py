"""Translating the stores' SQLite dialect for PostgreSQL (``storage.sql.translate``), without a server."""

from __future__ import annotations

import pytest

from matchmaker.db import statements
from storage.sql import PostgresRow, UnsupportedStatementError, _transaction_command, translate


@pytest.mark.parametrize(("sqlite", "postgres"), [
    ("SELECT * FROM listings WHERE id = ? AND kind = ?", "SELECT * FROM listings WHERE id = %s AND kind = %s"),
    ("SELECT '?' AS mark, \"a?\" FROM t WHERE x = ?", "SELECT '?' AS mark, \"a?\" FROM t WHERE x = %s"),
    ("SELECT 1 FROM t WHERE source LIKE 'scifact:%' AND n % 2 = ?",
     "SELECT 1 FROM t WHERE source LIKE 'scifact:%%' AND n %% 2 = %s"),
    ("SELECT 'it''s ?' -- is it?\nFROM t", "SELECT 'it''s ?' -- is it?\nFROM t"),
    ("SELECT CAST(at / 86400 AS INTEGER) AS day FROM search_log", "SELECT CAST(at / 86400 AS INTEGER) AS day FROM search_log"),
    ("UPDATE threads SET state = ? WHERE id = ?", "UPDATE threads SET state = %s WHERE id = %s"),
])
def test_placeholders_and_percent_signs(sqlite: str, postgres: str) -> None:
    assert translate(sqlite) == postgres


@pytest.mark.parametrize(("sqlite", "postgres"), [
    ("INSERT OR IGNORE INTO outbox (a, b) VALUES (?, ?)", "INSERT INTO outbox (a, b) VALUES (%s, %s) ON CONFLICT DO NOTHING"),
    ("insert or ignore into alerts (a) values (?);", "insert into alerts (a) values (%s) ON CONFLICT DO NOTHING"),
    ("INSERT OR IGNORE INTO t (a) VALUES (?) RETURNING id", "INSERT INTO t (a) VALUES (%s) ON CONFLICT DO NOTHING RETURNING id"),
    ("INSERT INTO t (a) VALUES (?) ON CONFLICT (a) DO UPDATE SET a = excluded.a",
     "INSERT INTO t (a) VALUES (%s) ON CONFLICT (a) DO UPDATE SET a = excluded.a"),
])
def test_insert_or_ignore_becomes_on_conflict_do_nothing(sqlite: str, postgres: str) -> None:
    assert " ".join(translate(sqlite).split()) == postgres


def test_column_types_follow_sqlite_affinity() -> None:
    sql = ("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY AUTOINCREMENT, n INTEGER NOT NULL DEFAULT 0,"
           " big BIGINT, text TEXT NOT NULL DEFAULT 'TEXT', code VARCHAR(20), at REAL, f FLOAT, d DOUBLE,"
           " raw BLOB, price NUMERIC, UNIQUE (n, text))")
    assert " ".join(translate(sql).split()) == (
        'CREATE TABLE IF NOT EXISTS t (id BIGSERIAL PRIMARY KEY, n BIGINT NOT NULL DEFAULT 0, big BIGINT,'
        ' text TEXT COLLATE "C" NOT NULL DEFAULT \'TEXT\', code TEXT COLLATE "C", at DOUBLE PRECISION,'
        ' f DOUBLE PRECISION, d DOUBLE PRECISION, raw BYTEA, price NUMERIC, UNIQUE (n, text))')


def test_a_rowid_alias_without_autoincrement_is_generated_too() -> None:
    assert translate("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)") == \
        'CREATE TABLE t (id BIGSERIAL PRIMARY KEY, name TEXT COLLATE "C")'
    assert translate("CREATE TABLE t (code TEXT PRIMARY KEY)") == 'CREATE TABLE t (code TEXT COLLATE "C" PRIMARY KEY)'


def test_foreign_keys_are_dropped_like_sqlite_ignores_them() -> None:
    sql = ("CREATE TABLE o (thread_id INTEGER NOT NULL REFERENCES threads(id) ON DELETE CASCADE, seq INTEGER,"
           " p INTEGER REFERENCES proposals, q INTEGER REFERENCES t (id) ON DELETE SET NULL ON UPDATE NO ACTION"
           " DEFAULT 3, CHECK (seq > 0), FOREIGN KEY (thread_id, seq) REFERENCES thread_messages(thread_id, seq))")
    assert translate(sql) == (
        "CREATE TABLE o (thread_id BIGINT NOT NULL, seq BIGINT, p BIGINT, q BIGINT DEFAULT 3, CHECK (seq > 0))")


@pytest.mark.parametrize(("sqlite", "postgres"), [
    ("ALTER TABLE listings ADD COLUMN publish_seq INTEGER;", "ALTER TABLE listings ADD COLUMN publish_seq BIGINT"),
    ("ALTER TABLE t ADD COLUMN status TEXT NOT NULL DEFAULT 'published'",
     "ALTER TABLE t ADD COLUMN status TEXT COLLATE \"C\" NOT NULL DEFAULT 'published'"),
    ("ALTER TABLE t ADD at REAL", "ALTER TABLE t ADD at DOUBLE PRECISION"),
    ("ALTER TABLE t ADD COLUMN owner TEXT REFERENCES participants(id)", 'ALTER TABLE t ADD COLUMN owner TEXT COLLATE "C"'),
    ("ALTER TABLE t RENAME TO u", "ALTER TABLE t RENAME TO u"),
])
def test_added_columns_are_translated(sqlite: str, postgres: str) -> None:
    assert translate(sqlite) == postgres


def test_other_ddl_and_dml_are_kept() -> None:
    for sql in ("CREATE UNIQUE INDEX x ON t(a, b) WHERE client_key IS NOT NULL",
                "CREATE INDEX IF NOT EXISTS listings_kind ON listings(kind, region)",
                "DELETE FROM t", "SELECT DISTINCT m.* FROM m JOIN o ON o.id = m.id ORDER BY m.seq"):
        assert translate(sql) == sql


@pytest.mark.parametrize("sql", ["PRAGMA journal_mode=WAL", "REPLACE INTO t VALUES (1)",
                                 "INSERT OR REPLACE INTO t VALUES (1)", "CREATE TABLE t (x)"])
def test_sqlite_only_statements_are_refused(sql: str) -> None:
    with pytest.raises(UnsupportedStatementError):
        translate(sql)


@pytest.mark.parametrize(("sql", "command"), [
    ("BEGIN IMMEDIATE", "write"), ("begin exclusive transaction", "write"), ("BEGIN DEFERRED", "read"),
    ("BEGIN", "read"), ("COMMIT", "commit"), ("END TRANSACTION;", "commit"), ("ROLLBACK", "rollback"),
    ("BEGINNING", None), ("ROLLBACK TO SAVEPOINT a", None), ("SELECT 1", None),
])
def test_transaction_statements_are_recognised(sql: str, command: str | None) -> None:
    assert _transaction_command(sql) == command


def test_migration_scripts_split_into_statements_keeping_semicolons_in_strings() -> None:
    script = "CREATE TABLE a (x TEXT DEFAULT ';');INSERT INTO a VALUES ('x;y');\n\n  CREATE INDEX i ON a(x);\n"
    assert statements(script) == ["CREATE TABLE a (x TEXT DEFAULT ';');", "INSERT INTO a VALUES ('x;y');",
                                  "CREATE INDEX i ON a(x);"]
    assert statements("  \n ;") == []


def test_a_postgres_row_reads_like_a_sqlite_row() -> None:
    row = PostgresRow((7, "kiln", None), ["id", "title", "id"], {"id": 0, "title": 1})
    assert (row[0], row[-1], row["title"], row["TITLE"], row["id"], row[1:]) == (7, None, "kiln", "kiln", 7, ("kiln", None))
    assert (len(row), list(row), row.keys(), dict(zip(row.keys()[:2], row, strict=False))) == (
        3, [7, "kiln", None], ["id", "title", "id"], {"id": 7, "title": "kiln"})
    with pytest.raises(IndexError):
        row["missing"]
    assert row == PostgresRow((7, "kiln", None), ["id", "title", "id"], {"id": 0, "title": 1})
    assert row != PostgresRow((8, "kiln", None), ["id", "title", "id"], {"id": 0, "title": 1})
