"""One running assistant (action server, Rasa server, web page) shared by the integration tests.

The stack runs on a small demo (a few hundred listings per corpus) in a temporary folder,
with the Rasa model that ``make test`` trained (``MATCHMAKER_MODEL_ARCHIVE``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from bot.stack import APP_PYTHON, Stack, StackConfig, post_json
from matchmaker.settings import PROJECT_ROOT

DEMO_LIMIT = "120"


def _model() -> Path:
    archive = os.environ.get("MATCHMAKER_MODEL_ARCHIVE")
    if archive:
        return Path(archive)
    models = sorted((PROJECT_ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        pytest.fail("no trained Rasa model: run `make model` (make test does) first")
    return models[-1]


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    var_dir = tmp_path_factory.mktemp("var")
    env = {**os.environ, "MATCHMAKER_VAR_DIR": str(var_dir), "MATCHMAKER_DEMO_LIMIT": DEMO_LIMIT,
           "PYTHONPATH": str(PROJECT_ROOT)}
    subprocess.run([str(APP_PYTHON), "-m", "matchmaker.bootstrap"], cwd=PROJECT_ROOT, env=env, check=True)
    config = StackConfig(model=_model(), rasa_port=5205, actions_port=5255, web_port=8280, var_dir=var_dir,
                         extra_env=(("MATCHMAKER_VAR_DIR", str(var_dir)),))
    with Stack(config) as running:
        yield running


Chat = Callable[[str], list[dict[str, Any]]]


@pytest.fixture()
def chat(stack: Stack) -> Chat:
    """Send messages as one new user over the REST channel."""
    sender = f"test-{uuid.uuid4().hex[:8]}"
    return make_chat(stack, sender)


def make_chat(stack: Stack, sender: str) -> Chat:
    def send(text: str) -> list[dict[str, Any]]:
        reply = post_json(f"{stack.config.rasa_url}/webhooks/rest/webhook", {"sender": sender, "message": text})
        print(f"{sender} > {text}\n  < {reply}", file=sys.stderr)
        return list(reply)

    return send


@pytest.fixture()
def web_page_url(stack: Stack) -> str:
    return stack.config.page_url
