"""Negotiation between two signed-in parties through the real servers: the whole path, privacy, a kill."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import time
import urllib.error
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from behaviour.credit import compute_credits
from behaviour.hbase_store import HBaseEventStore
from bot.stack import APP_PYTHON, Stack, post_json
from matchmaker.settings import PROJECT_ROOT
from tests.conftest import EVENTS_TABLE_PREFIX, HBASE_THRIFT, Chat, make_chat

pytestmark = pytest.mark.integration

DEMAND = "We need a low-cost method to detect early sepsis in intensive care patients, budget 1 million yuan"


def texts(reply: list[dict[str, Any]]) -> str:
    return "\n".join(str(item.get("text") or "") for item in reply)


def payloads(reply: list[dict[str, Any]]) -> list[str]:
    return [str(b.get("payload")) for item in reply for b in item.get("buttons") or []]


def database(stack: Stack) -> sqlite3.Connection:
    connection = sqlite3.connect(str(stack.config.var_dir / "matchmaker.db"))
    connection.row_factory = sqlite3.Row
    return connection


def invite(stack: Stack, owner_id: str) -> str:
    """A one-time code from the operator's command line."""
    done = subprocess.run([str(APP_PYTHON), "-m", "matchmaker.accounts", "invite", "--owner-id", owner_id],
                          cwd=PROJECT_ROOT, env={**stack.environment(), "PYTHONPATH": str(PROJECT_ROOT)},
                          capture_output=True, text=True, check=True)
    match = re.search(r"invite code: (\S+)", done.stdout)
    assert match, done.stdout
    return match.group(1)


def open_request(stack: Stack, requester: Chat, sender: str) -> tuple[int, str]:
    """The requester finds a match and contacts it; returns the thread and the owner's participant id."""
    assert "/contact" in " ".join(payloads(requester(DEMAND)))
    opened = texts(requester("contact 1"))
    thread_id = int(re.search(r"thread #(\d+)", opened).group(1))  # type: ignore[union-attr]
    with database(stack) as db:
        row = db.execute("SELECT owner_id, requester_id FROM threads WHERE id = ?", (thread_id,)).fetchone()
    assert row["requester_id"] == sender
    return thread_id, str(row["owner_id"])


def test_two_parties_carry_a_thread_to_a_rated_deal(stack: Stack) -> None:
    requester_id, owner_sender = f"ent-{uuid.uuid4().hex[:8]}", f"own-{uuid.uuid4().hex[:8]}"
    requester, owner = make_chat(stack, requester_id), make_chat(stack, owner_sender)
    thread, owner_id = open_request(stack, requester, requester_id)

    assert "not signed in" in texts(owner("whoami"))
    assert "not valid" in texts(owner("login ZZZZ-ZZZZ"))
    code = invite(stack, owner_id)
    signed_in = owner(f"login {code}")
    assert "Signed in" in texts(signed_in) and re.search(r"You have \d+ thread\(s\) waiting", texts(signed_in))
    assert "already used" in texts(make_chat(stack, f"x-{uuid.uuid4().hex[:6]}")(f"login {code}"))
    listed = owner("my threads")
    assert f"New contact request in thread #{thread}" in texts(listed)
    assert requester_id not in texts(listed) and "an enterprise" in texts(listed)

    accepted = owner(f"accept {thread}")
    assert "standard NDA (version" in texts(accepted) and any('"command": "nda"' in p for p in payloads(accepted))
    notice = requester("inbox")
    assert f"request in thread #{thread} was accepted" in texts(notice)
    assert "Waiting for the other party" in texts(requester(f"I agree to the NDA {thread}"))
    disclosed = owner(f"I agree to the NDA {thread}")
    assert f"Thread #{thread} is open" in texts(disclosed)
    with database(stack) as db:
        owner_name = db.execute("SELECT display_name FROM participants WHERE id = ?", (owner_id,)).fetchone()[0]
    assert owner_name in texts(requester("inbox"))

    assert f"You are in thread #{thread}" in texts(requester(f"open thread {thread}"))
    for n in range(3):
        assert "Sent to the other party" in texts(requester(f"question {n}: can you share pilot data?"))
    waiting = texts(owner("inbox"))
    assert [int(n) for n in re.findall(r"question (\d)", waiting)] == [0, 1, 2]
    assert "No new thread messages" in texts(owner("inbox"))

    owner(f"open thread {thread}")
    assert "Sent" in texts(owner("Yes, we can share the pilot data under the NDA."))
    assert "pilot data under the NDA" in texts(requester("inbox"))
    assert "Proposal sent" in texts(owner("propose licence 500000 yuan 12 months milestones: prototype; pilot"))
    proposal = requester("inbox")
    assert "licence" in texts(proposal) and "¥500,000" in texts(proposal)
    assert "Proposal sent" in texts(requester("counter licence 400000 yuan 12 months"))
    assert "Counter-proposal" in texts(owner("inbox"))
    deal = owner("accept proposal")
    assert "Deal agreed" in texts(deal) and any('"command": "rate"' in p for p in payloads(deal))
    assert "Deal agreed" in texts(requester("inbox"))
    assert "recorded" in texts(owner("rate 5 reliable partner"))
    assert "recorded" in texts(requester(f"/command{json.dumps({'command': 'rate', 'thread_id': str(thread), 'cmd_rating': '4'})}"))
    assert "already" in texts(requester(f"/command{json.dumps({'command': 'rate', 'thread_id': str(thread), 'cmd_rating': '1'})}"))

    history = texts(requester(f"thread {thread} history"))
    assert "question 0" in history and "pilot data under the NDA" in history and "accepted" in history

    events = HBaseEventStore(*HBASE_THRIFT, table_prefix=EVENTS_TABLE_PREFIX)
    kinds = {e.kind for e in events.for_user(owner_id)} | {e.kind for e in events.for_user(requester_id)}
    assert {"contact", "accepted", "response", "disclosed", "deal", "rating"} <= kinds
    before = [e for e in events.scan() if e.kind not in ("deal", "rating")]
    after = list(events.scan())
    credit_before = {c.participant_id: c.score for c in compute_credits(before)}
    credit_after = {c.participant_id: c.score for c in compute_credits(after)}
    assert credit_after[owner_id] > credit_before.get(owner_id, 50.0)


PROBES = ("open thread {n}", "thread {n} history", "accept {n}", "decline {n}", "I agree to the NDA {n}",
          "close thread {n}", "进入洽谈{n}", "洽谈{n}记录")


def broker_chat(stack: Stack) -> Chat:
    """A signed-in technology broker who was assigned nothing."""
    done = subprocess.run([str(APP_PYTHON), "-m", "matchmaker.accounts", "invite", "--org",
                           f"Probe Broker {uuid.uuid4().hex[:6]}", "--role", "intermediary"], cwd=PROJECT_ROOT,
                          env={**stack.environment(), "PYTHONPATH": str(PROJECT_ROOT)},
                          capture_output=True, text=True, check=True)
    code = re.search(r"invite code: (\S+)", done.stdout).group(1)  # type: ignore[union-attr]
    chat = make_chat(stack, f"probe-broker-{uuid.uuid4().hex[:8]}")
    assert "Signed in" in texts(chat(f"login {code}"))
    return chat


@pytest.mark.parametrize("who", ["anonymous", "intermediary"])
def test_a_third_party_sees_no_thread_on_any_path(stack: Stack, who: str) -> None:
    requester_id = f"ent-{uuid.uuid4().hex[:8]}"
    requester = make_chat(stack, requester_id)
    thread, _ = open_request(stack, requester, requester_id)
    stranger = broker_chat(stack) if who == "intermediary" else make_chat(stack, f"stranger-{uuid.uuid4().hex[:8]}")
    missing = 9_999_999
    with database(stack) as db:
        listing = db.execute("SELECT MIN(id) FROM listings WHERE status = 'published'").fetchone()[0]
    for probe in (*PROBES, f"recommend {listing} to thread {{n}}"):
        seen = texts(stranger(probe.format(n=thread))).replace(str(thread), "N")
        absent = texts(stranger(probe.format(n=missing))).replace(str(missing), "N")
        assert seen == absent and ("no thread" in seen or "没有编号" in seen), (probe, seen)
    for command in ("accept_proposal", "reject_proposal", "rate", "propose"):
        body = {"command": command, "cmd_rating": "5", "cmd_kind": "licence", "cmd_price": "1", "cmd_days": "30"}
        seen = texts(stranger("/command" + json.dumps({**body, "thread_id": str(thread)}))).replace(str(thread), "N")
        absent = texts(stranger("/command" + json.dumps({**body, "thread_id": str(missing)}))).replace(str(missing), "N")
        assert seen == absent and ("no thread" in seen or "没有编号" in seen), (command, seen)
    assert str(thread) not in texts(stranger("my threads"))
    with database(stack) as db:
        count = db.execute("SELECT COUNT(*) FROM thread_messages WHERE thread_id = ?", (thread,)).fetchone()[0]
    assert count == 1


def test_a_message_stored_before_a_kill_is_delivered_once_after_the_restart(stack: Stack) -> None:
    requester_id, owner_sender = f"ent-{uuid.uuid4().hex[:8]}", f"own-{uuid.uuid4().hex[:8]}"
    requester, owner = make_chat(stack, requester_id), make_chat(stack, owner_sender)
    thread, owner_id = open_request(stack, requester, requester_id)
    assert "Signed in" in texts(owner(f"login {invite(stack, owner_id)}"))
    owner(f"accept {thread}")
    requester(f"open thread {thread}")
    assert "Sent" in texts(requester("message stored before the kill"))
    stack.kill_process("actions")
    try:
        assert "unavailable" in texts(owner("inbox"))
    finally:
        stack.start_actions()
    delivered = texts(owner("inbox"))
    assert delivered.count("message stored before the kill") == 1
    assert "message stored before the kill" not in texts(owner("inbox"))


def test_the_rest_inbox_long_poll_returns_what_arrives_and_checks_its_input(stack: Stack) -> None:
    requester_id, owner_sender = f"ent-{uuid.uuid4().hex[:8]}", f"own-{uuid.uuid4().hex[:8]}"
    requester, owner = make_chat(stack, requester_id), make_chat(stack, owner_sender)
    thread, owner_id = open_request(stack, requester, requester_id)
    owner(f"login {invite(stack, owner_id)}")
    owner(f"accept {thread}")
    requester(f"open thread {thread}")
    inbox = f"{stack.config.rasa_url}/webhooks/rest/inbox"
    assert post_json(inbox, {"sender": owner_sender, "wait": 0}) == {"messages": []}
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(post_json, inbox, {"sender": owner_sender, "wait": 20})
        time.sleep(1.0)
        assert not waiting.done()
        requester("arrives during the long poll")
        started = time.perf_counter()
        messages = waiting.result(timeout=30)["messages"]
    assert time.perf_counter() - started < 5
    assert [m["text"] for m in messages if "arrives during the long poll" in m["text"]]
    for body in ({"sender": ""}, {"sender": owner_sender, "wait": "soon"}, {"wait": 1}):
        with pytest.raises(urllib.error.HTTPError) as refused:
            post_json(inbox, body)
        assert refused.value.code == 400
    with pytest.raises(urllib.error.HTTPError) as forbidden:
        post_json(f"http://127.0.0.1:{stack.config.actions_port}/inbox", {"sender": owner_sender, "wait": 0})
    assert forbidden.value.code == 403
