"""Behaviour events in the real HBase: written while chatting, never lost during an outage."""

from __future__ import annotations

import subprocess
import time

import pytest

from behaviour.hbase_store import HBaseEventStore
from bot.stack import Stack
from matchmaker.settings import PROJECT_ROOT
from tests.conftest import EVENTS_TABLE_PREFIX, HBASE_THRIFT, hbase_answers, make_chat

pytestmark = pytest.mark.integration


def events_of(user: str) -> list[str]:
    return [e.kind for e in HBaseEventStore(*HBASE_THRIFT, table_prefix=EVENTS_TABLE_PREFIX).for_user(user)]


def wait_for(condition: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(1)
    return False


def test_matches_shown_and_contacts_become_events_in_hbase(stack: Stack) -> None:
    chat = make_chat(stack, "events-writer")
    reply = chat("We need a technology to diagnose sepsis early in ICU patients")
    assert any(m.get("buttons") for m in reply)
    chat("contact 1")
    kinds = events_of("events-writer")
    assert kinds.count("shown") == 5 and kinds.count("contact") == 1


def test_no_event_is_lost_while_hbase_is_down(stack: Stack) -> None:
    chat = make_chat(stack, "events-outage")
    chat("Our company needs a lithium battery recycling technology")
    assert len(events_of("events-outage")) == 5
    subprocess.run([str(PROJECT_ROOT / "infra" / "hbase.sh"), "stop"], check=True)
    try:
        assert not hbase_answers()
        during = chat("We are looking for a low-temperature battery electrolyte")
        assert any(m.get("buttons") for m in during), during
        contacted = chat("contact 2")
        assert "thread" in " ".join(m.get("text") or "" for m in contacted).lower()
    finally:
        subprocess.run([str(PROJECT_ROOT / "infra" / "hbase.sh"), "start"], check=True)
    assert wait_for(lambda: len(events_of("events-outage")) >= 11, 120)
    time.sleep(3)
    kinds = events_of("events-outage")
    assert len(kinds) == 11 and kinds.count("shown") == 10 and kinds.count("contact") == 1
