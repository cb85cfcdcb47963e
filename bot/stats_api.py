"""The operator's statistics endpoints, served by ``bot.webpage`` next to the page ``/admin/stats``::

    GET /stats       the figures of ``matchmaker.stats.platform_stats`` as JSON
    GET /stats.csv   the same figures as CSV (a download)

Query parameters, all optional: ``since`` and ``until`` (dates ``YYYY-MM-DD`` in UTC, both
days included), ``field``, ``region`` (codes) and ``lang`` (``zh``, the default, or ``en``).

Every request carries the operator token in the header ``Authorization: Bearer <token>``
(never in the URL). Answers:

* 503 ``{"error": "statistics are disabled: ..."}``: no token is configured;
* 401 ``{"error": ...}``: no token or a wrong one was sent;
* 400 ``{"error": ...}``: a parameter is malformed, unknown or repeated;
* 503 ``{"error": "statistics are unavailable"}``: the database could not be read.

The database is opened on the first authorised request, never before, and only read.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from bot.thread_api import Names
from matchmaker.stats import LANGUAGES, StatsFilter, platform_stats, stats_csv
from storage.sql import Connection, Error, connect_sqlite, open_database

logger = logging.getLogger(__name__)

STATS_PATH = "/stats"
CSV_PATH = "/stats.csv"
TOKEN_ENV = "MATCHMAKER_ADMIN_TOKEN"
PARAMETERS = ("since", "until", "field", "region", "lang")
DATE_PATTERN = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
CODE_PATTERN = re.compile(r"[^\x00-\x1f\x7f]{1,100}")
MAX_QUERY_CHARS = 1000
JSON_TYPE = "application/json; charset=utf-8"
CSV_TYPE = "text/csv; charset=utf-8"
CSV_FILENAME = "platform-stats.csv"


@dataclass(frozen=True)
class StatsResponse:
    """A status, a content type, the body and any further headers."""

    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()


class QueryError(ValueError):
    """A query parameter is malformed; the message says which and why."""


@dataclass(frozen=True)
class StatsQuery:
    """What a request asks for: the filter and the language of the labels."""

    filter: StatsFilter
    language: str


def error_response(status: int, message: str, headers: tuple[tuple[str, str], ...] = ()) -> StatsResponse:
    """A JSON error reply ``{"error": message}``."""
    return StatsResponse(status, JSON_TYPE, _json({"error": message}), headers)


def parse_query(query: str) -> StatsQuery:
    """The filter and language of a query string (empty values count as absent).

    Raises:
        QueryError: for an unknown or repeated parameter, a malformed date or code, a period
            that ends before it starts, or a language other than ``zh`` and ``en``.
    """
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"the query string is longer than {MAX_QUERY_CHARS} characters")
    values: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name not in PARAMETERS:
            raise QueryError(f"unknown parameter {name!r}; known: {', '.join(PARAMETERS)}")
        if name in values:
            raise QueryError(f"parameter {name!r} is given twice")
        values[name] = value.strip()
    since = _day_start(values.get("since"), "since")
    until = _day_start(values.get("until"), "until", days_after=1)
    if since is not None and until is not None and until <= since:
        raise QueryError("until must not be before since")
    language = values.get("lang") or "zh"
    if language not in LANGUAGES:
        raise QueryError(f"lang must be one of {', '.join(LANGUAGES)}, got {language!r}")
    flt = StatsFilter(since, until, _code(values.get("field"), "field"), _code(values.get("region"), "region"))
    return StatsQuery(flt, language)


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (any case of the name), or ``None``."""
    for name, value in headers.items():
        if name.lower() == "authorization":
            scheme, _, token = value.strip().partition(" ")
            return token.strip() if scheme.lower() == "bearer" and token.strip() else None
    return None


def open_default_names() -> Names:
    """The field and region names of the configured lexicon (``load_settings().lexicon_path``)."""
    from matchmaker.settings import load_settings
    from nlu.lexicon import Lexicon

    return Lexicon.load(load_settings().lexicon_path)


def open_default_database() -> Connection:
    """The configured database (``storage.sql.open_database``), read-only."""
    from matchmaker.settings import load_settings

    return open_database(load_settings(), read_only=True)


class StatsApi:
    """Answers ``GET /stats`` and ``GET /stats.csv`` for the holder of the operator token."""

    def __init__(self, database_path: Path | None, admin_token: str,
                 open_names: Callable[[], Names] | None = None, clock: Callable[[], float] = time.time) -> None:
        """Configure the API; nothing is opened until the first authorised request.

        Args:
            database_path: an embedded database file, or ``None`` for the configured database.
            admin_token: the operator token; empty disables the statistics (503).
            open_names: loads display names of field and region codes (``None``: codes only).
            clock: the time source of ``generated_at``.
        """
        self._path = database_path
        self._token = admin_token.strip()
        self._open_names = open_names
        self._clock = clock
        self._lock = threading.Lock()
        self._db: Connection | None = None
        self._names: Names | None = None

    @staticmethod
    def handles(path: str) -> bool:
        """Whether a URL path belongs to the statistics API."""
        return path in (STATS_PATH, CSV_PATH)

    def handle(self, path: str, query: str, headers: Mapping[str, str]) -> StatsResponse:
        """Answer one ``GET`` (or ``HEAD``) request; a failure becomes an error reply.

        Args:
            path: the URL path, ``/stats`` or ``/stats.csv``.
            query: the query string (without ``?``).
            headers: the request headers.
        """
        if not self.handles(path):
            return error_response(404, "not found")
        refusal = self._authorise(headers)
        if refusal is not None:
            return refusal
        try:
            request = parse_query(query)
        except QueryError as error:
            return error_response(400, str(error))
        try:
            stats = self._stats(request)
        except (*Error, OSError):
            logger.exception("statistics %s failed", path)
            return error_response(503, "statistics are unavailable")
        if path == CSV_PATH:
            disposition = ("Content-Disposition", f'attachment; filename="{CSV_FILENAME}"')
            return StatsResponse(200, CSV_TYPE, stats_csv(stats).encode("utf-8"), (disposition,))
        return StatsResponse(200, JSON_TYPE, _json(stats))

    def _authorise(self, headers: Mapping[str, str]) -> StatsResponse | None:
        if not self._token:
            return error_response(503, f"statistics are disabled: set {TOKEN_ENV}")
        sent = bearer_token(headers)
        if sent is None or not hmac.compare_digest(sent.encode("utf-8"), self._token.encode("utf-8")):
            return error_response(401, "unauthorized: send the operator token as 'Authorization: Bearer <token>'",
                                  (("WWW-Authenticate", 'Bearer realm="matchmaker-stats"'),))
        return None

    def _stats(self, request: StatsQuery) -> dict[str, Any]:
        connection = self._connection()
        stats = platform_stats(connection, request.filter, self._clock(), request.language, lock=self._lock)
        stats["names"] = self._display_names(stats, request.language)
        return stats

    def _connection(self) -> Connection:
        """The database, opened now if needed, read-only."""
        with self._lock:
            if self._db is None:
                self._db = connect_sqlite(self._path, read_only=True) if self._path else open_default_database()
                self._names = self._load_names()
            return self._db

    def _load_names(self) -> Names | None:
        if self._open_names is None:
            return None
        try:
            return self._open_names()
        except Exception:
            logger.warning("statistics: no display names for field and region codes", exc_info=True)
            return None

    def _display_names(self, stats: dict[str, Any], language: str) -> dict[str, dict[str, str]]:
        """``{"fields": {code: name}, "regions": {code: name}}`` of every code listings use."""
        names = self._names
        codes = stats["codes"]
        fields = {code: names.field_name(code, language) if names else code for code in codes["fields"]}
        regions = {code: names.region_name(code, language) if names else code for code in codes["regions"]}
        return {"fields": fields, "regions": regions}


def _day_start(raw: str | None, name: str, days_after: int = 0) -> float | None:
    """Midnight UTC of a ``YYYY-MM-DD`` date (moved by ``days_after``) as Unix seconds (``None`` when absent).

    The moved day must be a date too: ``until=9999-12-31`` ends on a day no date can name.
    """
    if not raw:
        return None
    try:
        if not DATE_PATTERN.fullmatch(raw):
            raise ValueError(raw)
        day = date.fromisoformat(raw)
    except ValueError as error:
        raise QueryError(f"{name} must be a date YYYY-MM-DD, got {raw!r}") from error
    try:
        day += timedelta(days=days_after)
    except OverflowError as error:
        raise QueryError(f"{name} must be before {date.max.isoformat()}, got {raw!r}") from error
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()


def _code(raw: str | None, name: str) -> str | None:
    if not raw:
        return None
    if not CODE_PATTERN.fullmatch(raw):
        raise QueryError(f"{name} must be a code of 1-100 characters without control characters")
    return raw


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
