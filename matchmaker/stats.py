"""Platform statistics for the operator and the supervising government office.

:class:`SearchLog` records every search (who looked for what, where, how well it matched);
:func:`platform_stats` reads the database (SQLite or PostgreSQL) and returns JSON-ready figures:

* listings by field and by region, counted by kind (only ``published`` ones once the
  ``listings`` table has a ``status`` column);
* searches, contacts (threads opened), accepted threads, deals (``agreed`` threads) and the
  time from a request to the owner's first answer;
* the same funnel per ISO week (``2026-W49``).

A filter limits every figure: the period applies to each row's own time (a search's ``at``,
a thread's ``created_at``, a listing's ``created_at``), field and region to the listing (a
thread's are those of its listing; a search's are the ones it was made with). A thread
counts, with its acceptance and its deal, in the week it was opened. Weeks and dates are
UTC. A table that does not exist yet counts nothing.

A thread is accepted once its owner accepted the request: it is ``accepted``, ``nda_pending``,
``open`` or ``agreed``, or ``closed`` after an acceptance (it holds the ``accepted`` system
message). An owner's question on a request still waiting is an answer (it ends the time to
the first answer) but not an acceptance; a declined request is answered, never accepted.
"""

from __future__ import annotations

import csv
import io
import math
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from matchmaker.db import migrate, snapshot, transaction
from storage.sql import Connection, table_columns

SCHEMA_NAME = "search_log"
STEPS = (
    """
    CREATE TABLE search_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at REAL,
        requester_id TEXT,
        target_kind TEXT,
        field TEXT,
        region TEXT,
        language TEXT,
        top_score REAL,
        results INTEGER
    );
    CREATE INDEX search_log_at ON search_log(at);
    """,
)
LISTING_KINDS = ("demand", "achievement", "funding")
FUNNEL_METRICS = ("searches", "contacts", "accepted", "deals")
ACCEPTED_STATES = ("accepted", "nda_pending", "open", "agreed")
DEAL_STATE = "agreed"
LANGUAGES = ("zh", "en")
DAY_SECONDS = 86400
CSV_HEADER = ("section", "key", "metric", "value")
Stats = dict[str, Any]

LABELS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Platform statistics",
        "subtitle": "Collaborative Innovation Matchmaker",
        "listings_by_field": "Listings by field",
        "listings_by_region": "Listings by region",
        "funnel_by_week": "Funnel by week",
        "summary": "Summary",
        "demand": "Demands",
        "achievement": "Achievements",
        "funding": "Funding offers",
        "searches": "Searches",
        "contacts": "Contacts",
        "accepted": "Accepted",
        "deals": "Deals",
        "time_to_first_answer": "Time to first answer",
        "median_hours": "Median time to first answer (hours)",
        "p90_hours": "90th percentile (hours)",
        "answered": "Answered requests",
        "week": "Week",
        "field": "Field",
        "region": "Region",
        "since": "From",
        "until": "To",
        "all": "All",
        "apply": "Apply",
        "download_csv": "Download CSV",
        "language": "Language",
        "token": "Operator token",
        "sign_in": "Sign in",
        "sign_out": "Sign out",
        "no_data": "No data for this selection",
        "generated_at": "Generated at",
        "timezone": "Dates and weeks are UTC",
        "unauthorized": "The operator token is missing or wrong.",
        "disabled": "Statistics are disabled on this server.",
        "failed": "The statistics could not be loaded.",
        "loading": "Loading…",
    },
    "zh": {
        "title": "平台统计",
        "subtitle": "协同创新撮合助手",
        "listings_by_field": "按领域统计的发布信息",
        "listings_by_region": "按地区统计的发布信息",
        "funnel_by_week": "每周撮合漏斗",
        "summary": "概览",
        "demand": "企业需求",
        "achievement": "科技成果",
        "funding": "资金供给",
        "searches": "检索次数",
        "contacts": "发起联系",
        "accepted": "已接受",
        "deals": "达成合作",
        "time_to_first_answer": "首次回应时间",
        "median_hours": "首次回应时间中位数（小时）",
        "p90_hours": "90%分位（小时）",
        "answered": "已回应的请求",
        "week": "周",
        "field": "领域",
        "region": "地区",
        "since": "开始日期",
        "until": "结束日期",
        "all": "全部",
        "apply": "查询",
        "download_csv": "下载 CSV",
        "language": "语言",
        "token": "运营令牌",
        "sign_in": "登录",
        "sign_out": "退出",
        "no_data": "所选范围内没有数据",
        "generated_at": "生成时间",
        "timezone": "日期与周均按 UTC 计算",
        "unauthorized": "运营令牌缺失或不正确。",
        "disabled": "本服务器未启用统计功能。",
        "failed": "统计数据加载失败。",
        "loading": "加载中…",
    },
}


@dataclass(frozen=True)
class StatsFilter:
    """Which rows the figures cover; ``None`` constrains nothing.

    Attributes:
        since: the first instant counted (Unix seconds, inclusive).
        until: the end of the period (Unix seconds, exclusive).
        field: the listing's (or the search's) field code.
        region: the listing's (or the search's) region code.
    """

    since: float | None = None
    until: float | None = None
    field: str | None = None
    region: str | None = None


class SearchLog:
    """The searches made on the platform, in the SQL database (safe to share between threads)."""

    def __init__(self, connection: Connection, lock: threading.RLock | None = None) -> None:
        """Use ``connection`` (``storage.sql.open_database``) and migrate the ``search_log`` table.

        Args:
            connection: the database connection.
            lock: the writer lock, when another store shares ``connection`` (default: its own).
        """
        self._db = connection
        self._lock = lock or threading.RLock()
        with self._lock:
            migrate(self._db, SCHEMA_NAME, STEPS)

    def record(self, at: float, requester_id: str, target_kind: str, field: str, region: str, language: str,
               top_score: float, results: int) -> None:
        """Store one search.

        Args:
            at: when it was made (Unix seconds).
            requester_id: the participant who searched.
            target_kind: the kind of listing looked for (``demand``, ``achievement``, ``funding``).
            field: the field code searched in (``""`` when none).
            region: the region code searched in (``""`` when none).
            language: the language of the query.
            top_score: the score of the best match (0 when none).
            results: how many matches were found.
        """
        with transaction(self._db, self._lock) as db:
            db.execute("INSERT INTO search_log (at, requester_id, target_kind, field, region, language, top_score,"
                       " results) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (at, requester_id, target_kind, field, region, language, top_score, results))


def platform_stats(connection: Connection, flt: StatsFilter, now: float, language: str = "zh",
                   lock: AbstractContextManager[Any] | None = None) -> Stats:
    """Every figure of the statistics page, read in one consistent view of the database.

    Args:
        connection: the database connection (only read).
        flt: which rows to count.
        now: when the figures are made (reported as ``generated_at``).
        language: ``zh`` or ``en``, the language of ``labels``.
        lock: held while reading, when other threads use ``connection``.

    Returns:
        JSON-ready figures: ``listings_by_field`` and ``listings_by_region`` (code → kind →
        count), ``searches``, ``contacts``, ``accepted``, ``deals``, ``time_to_first_answer``
        (``count``, ``median_hours``, ``p90_hours``; hours are ``None`` without answers),
        ``funnel_by_week`` (week → metric → count, every week between the first and the
        last one), ``codes`` (every field and region code of a listing, whatever the
        filter: what a filter can choose from), ``filter``, ``generated_at``, ``language``,
        ``kinds`` and ``labels``.

    Raises:
        ValueError: for a language other than ``zh`` and ``en``.
    """
    if language not in LANGUAGES:
        raise ValueError(f"language must be one of {LANGUAGES}, got {language!r}")
    with snapshot(connection, lock or nullcontext()) as db:
        by_field, by_region = _listing_counts(db, flt)
        codes = _listing_codes(db)
        search_days = _search_days(db, flt)
        threads = _thread_rows(db, flt)
    answer_hours = sorted((answered - created) / 3600.0 for created, answered, _, _ in threads if answered is not None)
    return {
        "generated_at": now,
        "language": language,
        "timezone": "UTC",
        "filter": _filter_json(flt),
        "kinds": list(LISTING_KINDS),
        "codes": codes,
        "listings_by_field": by_field,
        "listings_by_region": by_region,
        "searches": sum(search_days.values()),
        "contacts": len(threads),
        "accepted": sum(1 for row in threads if row[2]),
        "deals": sum(1 for row in threads if row[3]),
        "time_to_first_answer": {"count": len(answer_hours), "median_hours": _quantile(answer_hours, 0.5),
                                 "p90_hours": _quantile(answer_hours, 0.9)},
        "funnel_by_week": _funnel(search_days, threads),
        "labels": dict(LABELS[language]),
    }


def stats_csv(stats: Stats) -> str:
    """The figures of :func:`platform_stats` as CSV rows ``section,key,metric,value``.

    Sections: ``filter`` (the period and codes asked for, and ``generated_at``),
    ``listings_by_field`` and ``listings_by_region`` (key: the code, metric: the kind),
    ``summary``, ``time_to_first_answer`` (an empty value when there is no answer) and
    ``funnel_by_week`` (key: the week). Text that a spreadsheet would run as a formula is
    quoted with a leading apostrophe.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    writer.writerows([_cell(c) for c in row] for row in _csv_rows(stats))
    return out.getvalue()


def week_label(ts: float) -> str:
    """The ISO week of a Unix time in UTC, as ``2026-W49``."""
    year, week, _ = datetime.fromtimestamp(ts, tz=timezone.utc).isocalendar()
    return f"{year}-W{week:02d}"


def _csv_rows(stats: Stats) -> Iterator[tuple[str, str, str, object]]:
    for name, value in stats["filter"].items():
        yield "filter", "", name, value
    yield "filter", "", "generated_at", _iso(stats["generated_at"])
    for section in ("listings_by_field", "listings_by_region"):
        for code, counts in stats[section].items():
            for kind, count in counts.items():
                yield section, code, kind, count
    for metric in FUNNEL_METRICS:
        yield "summary", "", metric, stats[metric]
    for metric, value in stats["time_to_first_answer"].items():
        yield "time_to_first_answer", "", metric, value
    for week, counts in stats["funnel_by_week"].items():
        for metric, count in counts.items():
            yield "funnel_by_week", week, metric, count


def _cell(value: object) -> str:
    if value is None:
        return ""
    text = str(value)
    if isinstance(value, str) and text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def _filter_json(flt: StatsFilter) -> dict[str, str | None]:
    return {"since": None if flt.since is None else _iso(flt.since),
            "until": None if flt.until is None else _iso(flt.until),
            "field": flt.field, "region": flt.region}


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def _where(flt: StatsFilter, time_column: str, field_column: str, region_column: str,
           extra: Sequence[str] = ()) -> tuple[str, list[Any]]:
    """A ``WHERE`` clause for the filter on the given columns (``""`` when nothing is constrained)."""
    clauses, params = list(extra), []
    for column, value, operator in ((time_column, flt.since, ">="), (time_column, flt.until, "<"),
                                    (field_column, flt.field, "="), (region_column, flt.region, "=")):
        if value is not None:
            clauses.append(f"{column} {operator} ?")
            params.append(value)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _listing_counts(db: Connection, flt: StatsFilter) -> tuple[Stats, Stats]:
    columns = table_columns(db, "listings")
    if not columns:
        return {}, {}
    extra = ["status = 'published'"] if "status" in columns else []
    where, params = _where(flt, "created_at", "field", "region", extra)
    counted = []
    for group in ("field", "region"):
        rows = db.execute(f"SELECT {group}, kind, COUNT(*) FROM listings{where} GROUP BY {group}, kind"
                          f" ORDER BY {group}, kind", params).fetchall()
        counted.append(_by_code((str(r[0]), str(r[1]), int(r[2])) for r in rows))
    return counted[0], counted[1]


def _listing_codes(db: Connection) -> dict[str, list[str]]:
    """The field and region codes listings use, sorted."""
    if not table_columns(db, "listings"):
        return {"fields": [], "regions": []}
    return {name: [str(r[0]) for r in db.execute(f"SELECT DISTINCT {column} FROM listings ORDER BY {column}")]
            for name, column in (("fields", "field"), ("regions", "region"))}


def _by_code(rows: Iterable[tuple[str, str, int]]) -> Stats:
    """``code → kind → count``, with a zero for every known kind (other kinds follow them)."""
    table: Stats = {}
    for code, kind, count in rows:
        table.setdefault(code, dict.fromkeys(LISTING_KINDS, 0))[kind] = count
    return table


def _search_days(db: Connection, flt: StatsFilter) -> dict[int, int]:
    """How many searches were made on each UTC day (days since the epoch)."""
    if not table_columns(db, "search_log"):
        return {}
    where, params = _where(flt, "at", "field", "region", ["at IS NOT NULL"])
    # FLOOR(at / day) on both backends: SQLite's CAST truncates, PostgreSQL's rounds to the nearest.
    day = f"CAST(at / {DAY_SECONDS} AS INTEGER)"
    floor = f"{day} - CASE WHEN {day} > at / {DAY_SECONDS} THEN 1 ELSE 0 END"
    rows = db.execute(f"SELECT {floor} AS day, COUNT(*) FROM search_log{where} GROUP BY day", params).fetchall()
    return {int(r[0]): int(r[1]) for r in rows}


def _thread_rows(db: Connection, flt: StatsFilter) -> list[tuple[float, float | None, bool, bool]]:
    """``(created_at, answered_at, accepted, deal)`` of every thread the filter covers."""
    columns = table_columns(db, "threads")
    if not columns:
        return []
    answered = "t.answered_at" if "answered_at" in columns else "NULL"
    accepted_states = ", ".join(f"'{state}'" for state in ACCEPTED_STATES)
    accepted = f"t.state IN ({accepted_states})"
    if table_columns(db, "thread_messages"):
        accepted += (" OR (t.state = 'closed' AND EXISTS (SELECT 1 FROM thread_messages m WHERE"
                     " m.thread_id = t.id AND m.kind = 'system' AND m.body = 'accepted'))")
    if table_columns(db, "listings"):
        source, field, region = "threads t LEFT JOIN listings l ON l.id = t.listing_id", "l.field", "l.region"
    else:
        source, field, region = "threads t", "NULL", "NULL"
    where, params = _where(flt, "t.created_at", field, region)
    rows = db.execute(f"SELECT t.created_at, {answered}, ({accepted}), t.state = '{DEAL_STATE}' FROM {source}{where}",
                      params).fetchall()
    return [(float(r[0]), None if r[1] is None else float(r[1]), bool(r[2]), bool(r[3])) for r in rows]


def _quantile(ordered: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile of sorted values, linearly interpolated (``None`` when empty), to 0.001."""
    if not ordered:
        return None
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    value = ordered[low] + (ordered[high] - ordered[low]) * (position - low)
    return round(value, 3)


def _funnel(search_days: dict[int, int], threads: Sequence[tuple[float, float | None, bool, bool]]) -> Stats:
    counts: dict[str, dict[str, int]] = {}

    def bump(ts: float, metric: str, amount: int = 1) -> None:
        counts.setdefault(week_label(ts), dict.fromkeys(FUNNEL_METRICS, 0))[metric] += amount

    for day, searches in search_days.items():
        bump(day * DAY_SECONDS, "searches", searches)
    for created, _, accepted, deal in threads:
        bump(created, "contacts")
        if accepted:
            bump(created, "accepted")
        if deal:
            bump(created, "deals")
    times = [day * DAY_SECONDS for day in search_days] + [row[0] for row in threads]
    if not times:
        return {}
    return {week: counts.get(week, dict.fromkeys(FUNNEL_METRICS, 0)) for week in _weeks(min(times), max(times))}


def _weeks(first: float, last: float) -> list[str]:
    """Every ISO week label from the week of ``first`` to the week of ``last``."""
    start = datetime.fromtimestamp(first, tz=timezone.utc)
    monday = (start - timedelta(days=start.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    end = week_label(last)
    labels = [week_label(monday.timestamp())]
    while labels[-1] != end:
        monday += timedelta(days=7)
        labels.append(week_label(monday.timestamp()))
    return labels
