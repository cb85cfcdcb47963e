"""Typed, frozen settings read from the environment (``MATCHMAKER_*``) with embedded defaults.

Non-secret defaults live here and in the versioned YAML files; secrets are read from the
environment only. Relative paths resolve against the project root, so the same code runs
from a clone anywhere.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

PROJECT_ROOT = Path(__file__).resolve().parents[1]
PROFILES = ("embedded", "cluster")


class SettingsError(ValueError):
    """A configuration value is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    """Everything the serving side needs to know about where things live."""

    profile: str
    var_dir: Path
    database_path: Path
    index_root: Path
    lexicon_path: Path
    demo_demands_path: Path
    datasets_dir: Path
    model_name: str
    page_size: int
    max_message_chars: int
    cross_lingual: bool


def _path(env: Mapping[str, str], key: str, default: Path) -> Path:
    raw = env.get(key)
    path = Path(raw) if raw else default
    return path if path.is_absolute() else PROJECT_ROOT / path


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
    return Settings(
        profile=profile,
        var_dir=var_dir,
        database_path=_path(env, "MATCHMAKER_DB", var_dir / "matchmaker.db"),
        index_root=_path(env, "MATCHMAKER_INDEX_ROOT", var_dir / "index"),
        lexicon_path=_path(env, "MATCHMAKER_LEXICON", Path("data/lexicon.yml")),
        demo_demands_path=_path(env, "MATCHMAKER_DEMANDS", Path("data/demo/demands.yml")),
        datasets_dir=_path(env, "MATCHMAKER_DATASETS", PROJECT_ROOT.parent / "shared" / "datasets"),
        model_name=env.get("MATCHMAKER_MODEL", "all-MiniLM-L6-v2"),
        page_size=_int(env, "MATCHMAKER_PAGE_SIZE", 5),
        max_message_chars=_int(env, "MATCHMAKER_MAX_MESSAGE_CHARS", 2000, lowest=50),
        cross_lingual=env.get("MATCHMAKER_CROSS_LINGUAL", "0") == "1",
    )
