"""The assistant a benchmark talks to: the one answering at a URL, or one started for the run."""

from __future__ import annotations

import contextlib
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.stack import Stack, StackConfig
from matchmaker.settings import PROJECT_ROOT, load_settings


@dataclass(frozen=True)
class Running:
    """A Rasa server to talk to, and its HTTP API token when known."""

    url: str
    token: str | None


def answers(url: str) -> bool:
    """Whether something answers HTTP at ``url``."""
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except (urllib.error.URLError, OSError):
        return False


def newest_model() -> Path:
    """The most recently trained Rasa model (exits with a hint when there is none)."""
    models = sorted((PROJECT_ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        sys.exit("no trained Rasa model: run `make model` (or `make run`) first")
    return models[-1]


@contextlib.contextmanager
def assistant(url: str, model: Path | None, ports: tuple[int, int, int]) -> Iterator[Running]:
    """The assistant at ``url`` when it answers, else one started on ``ports`` (Rasa, actions, web).

    The one started here serves the data under ``MATCHMAKER_VAR_DIR`` (default ``var/``) with
    ``model`` (default: the newest) and is stopped when the block ends.
    """
    if answers(url):
        yield Running(url, os.environ.get("MATCHMAKER_RASA_TOKEN"))
        return
    var_dir = load_settings().var_dir
    print(f"nothing answers at {url}; starting the assistant on {var_dir}", file=sys.stderr)
    rasa_port, actions_port, web_port = ports
    config = StackConfig(model=model or newest_model(), rasa_port=rasa_port, actions_port=actions_port,
                         web_port=web_port, var_dir=var_dir)
    with Stack(config) as stack:
        yield Running(stack.config.rasa_url, stack.token)
