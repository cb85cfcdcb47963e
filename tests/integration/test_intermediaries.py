"""Intermediaries, saved needs, funding and statistics through the running assistant (Rasa REST channel).

Every user is a REST sender: notices for them (a person joining, alerts, queue items) come
through the REST inbox long poll, the same outbox every channel is fed from.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest

from bot.stack import APP_PYTHON, Stack, post_json
from matchmaker.settings import PROJECT_ROOT
from tests.conftest import ADMIN_TOKEN, Chat, make_chat

pytestmark = pytest.mark.integration


def texts(reply: list[dict[str, Any]]) -> str:
    return "\n".join(str(item.get("text") or "") for item in reply)


def broker_code(stack: Stack, name: str, *extra: str) -> str:
    """A one-time intermediary code from the operator's command line."""
    done = subprocess.run([str(APP_PYTHON), "-m", "matchmaker.accounts", "invite", "--org", name,
                           "--role", "intermediary", *extra], cwd=PROJECT_ROOT,
                          env={**stack.environment(), "PYTHONPATH": str(PROJECT_ROOT)},
                          capture_output=True, text=True, check=True)
    match = re.search(r"invite code: (\S+)", done.stdout)
    assert match, done.stdout
    return match.group(1)


def new_broker(stack: Stack, language: str = "en") -> tuple[str, Chat, str]:
    """A signed-in intermediary: sender id, chat and display name."""
    sender, name = f"broker-{uuid.uuid4().hex[:8]}", f"Broker {uuid.uuid4().hex[:6]}"
    chat = make_chat(stack, sender)
    signed = texts(chat(f"{'登录' if language == 'zh' else 'login'} {broker_code(stack, name)}"))
    assert name in signed, signed
    return sender, chat, name


def inbox(stack: Stack, sender: str, wait: float = 15.0, until: str = "") -> str:
    """What the REST inbox hands a sender within ``wait`` seconds (until a text containing ``until`` came)."""
    deadline, seen = time.monotonic() + wait, []
    while time.monotonic() < deadline:
        left = max(0.0, deadline - time.monotonic())
        reply = post_json(f"{stack.config.rasa_url}/webhooks/rest/inbox", {"sender": sender, "wait": min(left, 5.0)})
        seen += [str(m.get("text") or "") for m in reply["messages"]]
        if until and any(until in text for text in seen):
            break
        if not until and seen:
            break
    return "\n".join(seen)


def item_number(text: str) -> int:
    match = re.search(r"(?:request|请求|#)\s*#?(\d+)", text)
    assert match, text
    return int(match.group(1))


def test_a_person_asks_for_help_and_a_broker_takes_the_conversation_and_hands_it_back(stack: Stack) -> None:
    user_id = f"user-{uuid.uuid4().hex[:8]}"
    user = make_chat(stack, user_id)
    broker_id, broker, name = new_broker(stack)
    _, rival, _ = new_broker(stack)
    asked = texts(user("talk to a person"))
    assert "asked a person" in asked
    item = item_number(asked)
    taken = texts(broker(f"take {item}"))
    assert f"item #{item}" in taken and "done" in taken
    assert f"already taken by {name}" in texts(rival(f"take {item}"))
    assert f"#{item}" in texts(broker("queue"))
    assert name in inbox(stack, user_id, until=name)
    quiet = user("My pilot line for coated steel pipes needs a partner")
    assert [item.get("custom") for item in quiet] == [{"handoff": "relayed", "item": item}]
    assert "coated steel pipes" in inbox(stack, broker_id, until="coated steel pipes")
    assert "Sent to the person" in texts(broker("I can introduce two institutes; which region are you in?"))
    assert "which region are you in" in inbox(stack, user_id, until="which region")
    assert "not one you have taken" in texts(rival(f"done {item}"))
    assert "back with the assistant" in texts(broker(f"done {item}"))
    assert "back with the assistant" in inbox(stack, user_id, until="back with the assistant")
    assert user("We need a graphene anticorrosion coating for offshore steel pipes") != []


def test_intermediary_commands_are_refused_politely_to_others_and_for_unknown_items(stack: Stack) -> None:
    member = make_chat(stack, f"member-{uuid.uuid4().hex[:8]}")
    assert "Only the platform's technology brokers" in texts(member("queue"))
    assert "只有平台的技术经纪人" in texts(member("认领3"))
    assert "Only the platform's technology brokers" in texts(member("done 3"))
    _, broker, _ = new_broker(stack, "zh")
    assert "没有事项#99999" in texts(broker("认领99999"))
    assert "no technology broker called" in texts(broker("assign 1 to Nobody At All"))


def test_a_saved_need_is_alerted_within_seconds_when_a_matching_achievement_is_posted(stack: Stack) -> None:
    seeker_id = f"seeker-{uuid.uuid4().hex[:8]}"
    seeker, poster = make_chat(stack, seeker_id), make_chat(stack, f"lab-{uuid.uuid4().hex[:8]}")
    seeker("We need a sodium-ion battery electrolyte additive that stops capacity fade at low temperature")
    saved = texts(seeker("notify me of new matches"))
    need = int(re.search(r"need #(\d+)", saved).group(1))  # type: ignore[union-attr]
    assert "unknown" not in saved
    posted = texts(poster("post an achievement: A sodium-ion battery electrolyte additive that stops capacity fade "
                          "at low temperature, tested in pouch cells for 500 cycles"))
    assert "Published your achievement" in posted
    started = time.monotonic()
    alert = inbox(stack, seeker_id, wait=15, until="New match")
    assert f"saved need #{need}" in alert and "sodium-ion" in alert
    assert time.monotonic() - started < 10
    assert "no saved need #987654" in texts(seeker("stop alerts 987654"))
    assert f"need #{need} are stopped" in texts(seeker(f"stop alerts {need}"))
    poster("post an achievement: A second sodium-ion battery electrolyte additive against capacity fade at low "
           "temperature for pouch cells")
    assert "New match" not in inbox(stack, seeker_id, wait=4, until="New match")


def test_an_achievement_owner_finds_funding_offers_in_either_language(chat: Chat, stack: Stack) -> None:
    english = texts(chat("find funding for a seed-stage medical imaging diagnostics spin-out"))
    assert "Funding offers" in english and "seed" in english
    chinese = texts(make_chat(stack, f"zh-{uuid.uuid4().hex[:8]}")("找资金：锂电池固态电池中试项目"))
    assert "适合您成果的资金" in chinese and "天使轮" in chinese


def _stats(stack: Stack, token: str, query: str = "") -> tuple[int, Any]:
    request = urllib.request.Request(f"{stack.config.page_url.rstrip('/')}/stats{query}",
                                     headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, None


def test_statistics_need_the_operator_token_and_count_the_platform(stack: Stack) -> None:
    assert _stats(stack, "wrong")[0] == 401
    status, stats = _stats(stack, ADMIN_TOKEN, "?lang=en")
    assert status == 200
    assert stats["searches"] > 0
    assert sum(kinds["funding"] for kinds in stats["listings_by_field"].values()) == 12
    assert stats["labels"]["deals"]
    status, chinese = _stats(stack, ADMIN_TOKEN, "?lang=zh&region=anhui")
    assert status == 200 and set(chinese["listings_by_region"]) <= {"anhui"}
    assert _stats(stack, ADMIN_TOKEN, "?since=not-a-date")[0] == 400
