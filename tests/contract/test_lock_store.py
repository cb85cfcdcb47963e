"""The production profile's lock store (``bot.lock_store``) against a real Redis, in Rasa's
own Python: a turn queued behind the ticket of a Rasa server that died gets the lock once
that ticket expires, and leaves no ticket behind; Rasa's own store waits for ever there."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest

from matchmaker.settings import PROJECT_ROOT
from tests.conftest import LocalServer

pytestmark = pytest.mark.integration

RASA_PYTHON = PROJECT_ROOT / ".venv-rasa" / "bin" / "python"


def probe(kind: str, server: LocalServer) -> dict[str, object]:
    done = subprocess.run([str(RASA_PYTHON), str(PROJECT_ROOT / "tests" / "contract" / "rasa_lock_probe.py"), kind,
                           "127.0.0.1", str(server.port), server.password, f"probe:{uuid.uuid4().hex[:8]}:"],
                          cwd=PROJECT_ROOT, env={"PYTHONPATH": str(PROJECT_ROOT)}, capture_output=True, text=True,
                          timeout=120, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_a_turn_behind_a_dead_servers_ticket_gets_the_lock(redis_server: LocalServer) -> None:
    recovering = probe("recovering", redis_server)
    assert recovering["acquired"] is True, recovering
    assert float(str(recovering["seconds"])) < 5
    assert recovering["left"] == 0, "the ticket taken anew is the one released"


def test_rasas_own_store_would_wait_for_ever_there(redis_server: LocalServer) -> None:
    assert probe("rasa", redis_server)["acquired"] is False
