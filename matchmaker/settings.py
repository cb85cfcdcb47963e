"""Typed, frozen settings read from the environment (``MATCHMAKER_*``) with embedded defaults.

Non-secret defaults live here and in the versioned YAML files; secrets are read from the
environment only. Relative paths resolve against the project root, so the same code runs
from a clone anywhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PROFILES = ("embedded", "cluster", "production")
CLUSTER_PROFILES = ("cluster", "production")


class SettingsError(ValueError):
    """A configuration value is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    """Everything the serving side needs to know about where things live."""

    profile: str
    var_dir: Path
    database_path: Path
    index_uri: str
    listings_uri: str
    index_cache_dir: Path
    webhdfs_url: str | None
    index_poll_seconds: float
    event_store: str
    events_path: Path
    hbase_host: str
    hbase_port: int
    hbase_table_prefix: str
    cf_uri: str
    rank_weights: tuple[float, float, float]
    rerank_max_shift: float
    lexicon_path: Path
    demo_demands_path: Path
    nda_path: Path
    thread_expiry_days: int
    push_retry_seconds: float
    datasets_dir: Path
    model_name: str
    page_size: int
    max_message_chars: int
    cross_lingual: bool
    review_new_listings: bool = False
    low_match_score: float = 0.35
    unanswered_hours: float = 48.0
    alerts_per_day: int = 5
    demo_funding_path: Path = PROJECT_ROOT / "data" / "demo" / "funding.yml"
    database_url: str | None = None


def _path(env: Mapping[str, str], key: str, default: Path) -> Path:
    raw = env.get(key)
    path = Path(raw) if raw else default
    return path if path.is_absolute() else PROJECT_ROOT / path


def _location(env: Mapping[str, str], key: str, default: str) -> str:
    """A ``file://``/``hdfs://`` URI or a local path (relative paths resolve against the project)."""
    raw = env.get(key) or default
    if "://" in raw:
        return raw
    path = Path(raw)
    return str(path if path.is_absolute() else PROJECT_ROOT / path)


def _choice(env: Mapping[str, str], key: str, default: str, allowed: tuple[str, ...]) -> str:
    value = env.get(key) or default
    if value not in allowed:
        raise SettingsError(f"{key} must be one of {allowed}, got {value!r}")
    return value


def _weights(env: Mapping[str, str], key: str, default: tuple[float, float, float]) -> tuple[float, float, float]:
    """Three non-negative ranking weights (retrieval, CF, credit), e.g. ``0.6,0.3,0.1``."""
    raw = env.get(key)
    if not raw:
        return default
    try:
        values = tuple(float(part) for part in raw.split(","))
    except ValueError as error:
        raise SettingsError(f"{key} must be three numbers like 0.6,0.3,0.1, got {raw!r}") from error
    if len(values) != 3 or min(values) < 0 or sum(values) <= 0:
        raise SettingsError(f"{key} must be three non-negative numbers, not all zero, got {raw!r}")
    return values[0], values[1], values[2]


def _number(env: Mapping[str, str], key: str, default: float, allowed: Callable[[float], bool], what: str) -> float:
    """A number for which ``allowed`` holds (``what`` says which, in the error)."""
    raw = env.get(key)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as error:
        raise SettingsError(f"{key} must be {what}, got {raw!r}") from error
    if not allowed(value):
        raise SettingsError(f"{key} must be {what}, got {value}")
    return value


def _float(env: Mapping[str, str], key: str, default: float) -> float:
    """A positive number."""
    return _number(env, key, default, lambda value: value > 0, "a positive number")


def _fraction(env: Mapping[str, str], key: str, default: float) -> float:
    """A number between 0 and 1."""
    return _number(env, key, default, lambda value: 0.0 <= value <= 1.0, "a number between 0 and 1")


def _int(env: Mapping[str, str], key: str, default: int, lowest: int = 1) -> int:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as error:
        raise SettingsError(f"{key} must be an integer, got {raw!r}") from error
    if value < lowest:
        raise SettingsError(f"{key} must be at least {lowest}, got {value}")
    return value


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from ``env`` (default: the process environment).

    Raises:
        SettingsError: when a value is malformed.
    """
    env = os.environ if env is None else env
    profile = env.get("MATCHMAKER_PROFILE", "embedded")
    if profile not in PROFILES:
        raise SettingsError(f"MATCHMAKER_PROFILE must be one of {PROFILES}, got {profile!r}")
    var_dir = _path(env, "MATCHMAKER_VAR_DIR", Path("var"))
    database_url = env.get("MATCHMAKER_DATABASE_URL") or None
    if database_url is not None and not database_url.startswith(("postgresql://", "postgres://")):
        raise SettingsError("MATCHMAKER_DATABASE_URL must be a postgresql:// URL")
    if profile == "production" and database_url is None:
        raise SettingsError("the production profile needs MATCHMAKER_DATABASE_URL (postgresql://user:password@host:port/db)")
    if profile in CLUSTER_PROFILES:
        hdfs = env.get("MATCHMAKER_HDFS", "hdfs://127.0.0.1:8020").rstrip("/")
        base = env.get("MATCHMAKER_HDFS_BASE", "/matchmaker").rstrip("/")
        default_index, default_listings = f"{hdfs}{base}/index", f"{hdfs}{base}/listings"
        default_cf = f"{hdfs}{base}/cf"
    else:
        default_index, default_listings = str(var_dir / "index"), str(var_dir / "listings")
        default_cf = str(var_dir / "cf")
    return Settings(
        profile=profile,
        var_dir=var_dir,
        database_path=_path(env, "MATCHMAKER_DB", var_dir / "matchmaker.db"),
        index_uri=_location(env, "MATCHMAKER_INDEX_URI", default_index),
        listings_uri=_location(env, "MATCHMAKER_LISTINGS_URI", default_listings),
        index_cache_dir=_path(env, "MATCHMAKER_INDEX_CACHE", var_dir / "index-cache"),
        webhdfs_url=env.get("MATCHMAKER_WEBHDFS_URL") or None,
        index_poll_seconds=float(_int(env, "MATCHMAKER_INDEX_POLL_SECONDS", 10)),
        event_store=_choice(env, "MATCHMAKER_EVENT_STORE", "hbase" if profile in CLUSTER_PROFILES else "sqlite",
                            ("sqlite", "hbase")),
        events_path=_path(env, "MATCHMAKER_EVENTS_DB", var_dir / "events.db"),
        hbase_host=env.get("MATCHMAKER_HBASE_HOST", "127.0.0.1"),
        hbase_port=_int(env, "MATCHMAKER_HBASE_PORT", 9090),
        hbase_table_prefix=env.get("MATCHMAKER_HBASE_TABLE_PREFIX", "matchmaker_"),
        cf_uri=_location(env, "MATCHMAKER_CF_URI", default_cf),
        rank_weights=_weights(env, "MATCHMAKER_RANK_WEIGHTS", (0.6, 0.3, 0.1)),
        rerank_max_shift=_fraction(env, "MATCHMAKER_RERANK_MAX_SHIFT", 0.15),
        lexicon_path=_path(env, "MATCHMAKER_LEXICON", Path("data/lexicon.yml")),
        demo_demands_path=_path(env, "MATCHMAKER_DEMANDS", Path("data/demo/demands.yml")),
        nda_path=_path(env, "MATCHMAKER_NDA", Path("data/nda.yml")),
        thread_expiry_days=_int(env, "MATCHMAKER_THREAD_EXPIRY_DAYS", 14),
        push_retry_seconds=_float(env, "MATCHMAKER_PUSH_RETRY_SECONDS", 5.0),
        datasets_dir=_path(env, "MATCHMAKER_DATASETS", PROJECT_ROOT.parent / "shared" / "datasets"),
        model_name=env.get("MATCHMAKER_MODEL", "all-MiniLM-L6-v2"),
        page_size=_int(env, "MATCHMAKER_PAGE_SIZE", 5),
        max_message_chars=_int(env, "MATCHMAKER_MAX_MESSAGE_CHARS", 2000, lowest=50),
        cross_lingual=env.get("MATCHMAKER_CROSS_LINGUAL", "0") == "1",
        review_new_listings=env.get("MATCHMAKER_REVIEW_NEW_LISTINGS", "0") == "1",
        low_match_score=_fraction(env, "MATCHMAKER_LOW_MATCH_SCORE", 0.35),
        unanswered_hours=_float(env, "MATCHMAKER_UNANSWERED_HOURS", 48.0),
        alerts_per_day=_int(env, "MATCHMAKER_ALERTS_PER_DAY", 5),
        demo_funding_path=_path(env, "MATCHMAKER_FUNDING", Path("data/demo/funding.yml")),
        database_url=database_url,
    )
