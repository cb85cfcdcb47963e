"""Pushing into an open chat page through the real Rasa server's socket.io channel.

A python-socketio client plays the page: it connects, asks for a session as the web chat
widget does and listens for bot messages; the test then pushes to that session.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import socketio

from bot.stack import Stack
from channels.push import PUSH_PATH, SECRET_HEADER
from channels.web import WebPushChannel
from matchmaker.delivery import Delivery, TransientChannelError

pytestmark = pytest.mark.integration

QUIET_SECONDS = 1.5
# The python-socketio client's disconnect over long polling does not always reach the server,
# like a page whose network went away: the server notices at its ping timeout (10 s + 10 s).
GONE_SECONDS = 40


@dataclass
class Page:
    """A socket.io client standing in for an open chat page."""

    client: socketio.Client
    session_id: str
    received: list[Any] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Any]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            self.arrived.wait(0.1)
            self.arrived.clear()
        return list(self.received)


def open_page(stack: Stack, session_id: str | None = None) -> Page:
    client = socketio.Client(reconnection=False)
    confirmed: list[str] = []
    ready = threading.Event()
    page = Page(client, "")

    @client.on("session_confirm")
    def on_confirm(data: Any) -> None:
        confirmed.append(data.get("session_id") if isinstance(data, dict) else data)
        ready.set()

    @client.on("bot_uttered")
    def on_bot(data: Any) -> None:
        page.received.append(data)
        page.arrived.set()

    client.connect(stack.config.rasa_url, socketio_path="/socket.io", transports=["polling"], wait_timeout=15)
    client.emit("session_request", {"session_id": session_id})
    assert ready.wait(15), "no session_confirm from the Rasa server"
    page.session_id = confirmed[0]
    return page


@pytest.fixture()
def page(stack: Stack) -> Iterator[Page]:
    opened = open_page(stack)
    try:
        yield opened
    finally:
        opened.client.disconnect()


def push(stack: Stack, body: Any, secret: str | None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SECRET_HEADER] = secret
    request = urllib.request.Request(stack.config.rasa_url + PUSH_PATH, data=json.dumps(body).encode(),
                                     method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=15) as reply:
            return int(reply.status), json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return int(error.code), json.loads(error.read() or b"null")


def test_a_new_page_gets_a_web_session_id(page: Page) -> None:
    assert re.fullmatch(r"web:[0-9a-f]{32}", page.session_id)


def test_a_push_with_the_secret_reaches_the_open_page(stack: Stack, page: Page) -> None:
    body = {"recipient": page.session_id, "messages": [
        {"text": "The owner accepted your request."},
        {"text": "Confirm the NDA?", "buttons": [{"title": "Confirm", "payload": "/confirm_nda"}]}]}
    assert push(stack, body, stack.push_secret) == (200, {"delivered": True})
    received = page.wait_for(2)
    assert received[:2] == [
        {"text": "The owner accepted your request."},
        {"text": "Confirm the NDA?",
         "quick_replies": [{"content_type": "text", "title": "Confirm", "payload": "/confirm_nda"}]},
    ]


def test_a_wrong_or_missing_secret_is_403_and_nothing_arrives(stack: Stack, page: Page) -> None:
    body = {"recipient": page.session_id, "messages": [{"text": "should not arrive"}]}
    assert push(stack, body, stack.push_secret + "x")[0] == 403
    assert push(stack, body, None)[0] == 403
    assert push(stack, body, "")[0] == 403
    time.sleep(QUIET_SECONDS)
    assert page.received == []


def test_a_bad_body_is_400(stack: Stack, page: Page) -> None:
    status, reply = push(stack, {"recipient": page.session_id, "messages": [{"text": 5}]}, stack.push_secret)
    assert (status, reply["error"]) == (400, "bad_request")
    time.sleep(QUIET_SECONDS)
    assert page.received == []


def test_a_session_without_a_connection_is_not_delivered(stack: Stack) -> None:
    body = {"recipient": f"web:{uuid.uuid4().hex}", "messages": [{"text": "anyone there?"}]}
    assert push(stack, body, stack.push_secret) == (200, {"delivered": False})


def test_a_closed_page_is_not_connected_and_a_reopened_one_is(stack: Stack) -> None:
    first = open_page(stack)
    session = first.session_id
    first.client.disconnect()
    probe = {"recipient": session, "messages": [{"text": "probe"}]}
    deadline = time.monotonic() + GONE_SECONDS
    while push(stack, probe, stack.push_secret) != (200, {"delivered": False}) and time.monotonic() < deadline:
        time.sleep(0.5)
    body = {"recipient": session, "messages": [{"text": "while you were away"}]}
    assert push(stack, body, stack.push_secret) == (200, {"delivered": False})
    again = open_page(stack, session)
    try:
        assert again.session_id == session
        assert push(stack, body, stack.push_secret) == (200, {"delivered": True})
        assert again.wait_for(1) == [{"text": "while you were away"}]
    finally:
        again.client.disconnect()


def test_the_web_push_channel_talks_to_the_real_route(stack: Stack, page: Page) -> None:
    def render(delivery: Delivery) -> list[dict[str, Any]]:
        return [{"text": f"thread {delivery.thread_id}: {delivery.body}"}]

    def delivery(identity: str) -> Delivery:
        return Delivery(id=1, thread_id=9, seq=2, identity=identity, channel="web", kind="text",
                        body="Which temperature?", data={}, from_role="owner", attempts=0, created_at=0.0)

    channel = WebPushChannel(stack.config.rasa_url, stack.push_secret, render)
    channel.push(page.session_id, delivery(page.session_id))
    assert page.wait_for(1) == [{"text": "thread 9: Which temperature?"}]
    closed = f"web:{uuid.uuid4().hex}"
    with pytest.raises(TransientChannelError, match="not connected"):
        channel.push(closed, delivery(closed))
