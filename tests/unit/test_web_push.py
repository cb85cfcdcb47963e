"""The web push channel: the push contract, presence, WebPushChannel against a local HTTP
server, and DispatchLoop driving a real outbox."""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from channels.loop import DispatchLoop
from channels.presence import Presence
from channels.push import PUSH_PATH, SECRET_HEADER, PushRequestError, parse_push, secret_matches
from channels.web import WebPushChannel
from matchmaker.delivery import (
    Delivery,
    Dispatcher,
    DispatchReport,
    PermanentChannelError,
    TransientChannelError,
)
from matchmaker.listings import connect
from matchmaker.negotiation_store import SQLiteNegotiationStore

SECRET = "s3cret-for-tests"
REQUESTER = "web:" + "a" * 32
OWNER = "web:" + "b" * 32


def render(delivery: Delivery) -> list[dict[str, Any]]:
    """A tiny renderer: the body, and a reply button for text messages."""
    message: dict[str, Any] = {"text": f"[{delivery.from_role}] {delivery.body}"}
    if delivery.kind == "text":
        message["buttons"] = [{"title": "Reply", "payload": f"/reply{{\"thread\": {delivery.thread_id}}}"}]
    return [message]


def delivery(body: str = "hello", kind: str = "text", identity: str = OWNER) -> Delivery:
    return Delivery(id=1, thread_id=7, seq=3, identity=identity, channel="web", kind=kind, body=body, data={},
                    from_role="requester", attempts=0, created_at=0.0)


# -- the contract ---------------------------------------------------------------------------


def test_a_push_body_is_parsed_and_shaped_like_rasas_socketio_output() -> None:
    pushed = parse_push({"recipient": OWNER, "messages": [
        {"text": "plain"}, {"text": "with buttons", "buttons": [{"title": "Yes", "payload": "/affirm"}]}]})
    assert pushed.recipient == OWNER
    assert [m.bot_event() for m in pushed.messages] == [
        {"text": "plain"},
        {"text": "with buttons", "quick_replies": [{"content_type": "text", "title": "Yes", "payload": "/affirm"}]},
    ]
    assert parse_push(pushed.to_json()) == pushed


@pytest.mark.parametrize("body", [
    None, [], "x", {"messages": [{"text": "a"}]}, {"recipient": "", "messages": [{"text": "a"}]},
    {"recipient": 5, "messages": [{"text": "a"}]}, {"recipient": "x" * 129, "messages": [{"text": "a"}]},
    {"recipient": OWNER}, {"recipient": OWNER, "messages": []}, {"recipient": OWNER, "messages": {"text": "a"}},
    {"recipient": OWNER, "messages": ["a"]}, {"recipient": OWNER, "messages": [{"text": 3}]},
    {"recipient": OWNER, "messages": [{"text": "  "}]}, {"recipient": OWNER, "messages": [{"text": "a" * 4001}]},
    {"recipient": OWNER, "messages": [{"text": "a", "buttons": "no"}]},
    {"recipient": OWNER, "messages": [{"text": "a", "buttons": [{"title": "t"}]}]},
    {"recipient": OWNER, "messages": [{"text": "a", "buttons": [{"title": 1, "payload": "p"}]}]},
    {"recipient": OWNER, "messages": [{"text": "a"}] * 21},
])
def test_bad_push_bodies_are_refused(body: object) -> None:
    with pytest.raises(PushRequestError):
        parse_push(body)


def test_the_secret_must_be_configured_and_equal() -> None:
    assert secret_matches(SECRET, SECRET)
    assert not secret_matches(SECRET, SECRET + "x")
    assert not secret_matches(SECRET, None)
    assert not secret_matches("", "")
    assert not secret_matches(None, SECRET)


def test_presence_follows_sockets_of_a_session() -> None:
    presence = Presence()
    presence.join("sid-1", OWNER)
    presence.join("sid-2", OWNER)
    assert presence.connected(OWNER) and not presence.connected(REQUESTER)
    assert presence.leave("sid-1") == OWNER
    assert presence.connected(OWNER)
    assert presence.join("sid-2", REQUESTER) == OWNER
    assert not presence.connected(OWNER) and presence.connected(REQUESTER)
    assert presence.leave("sid-2") == REQUESTER
    assert presence.leave("sid-2") is None
    assert presence.sessions() == 0


# -- WebPushChannel against a local server --------------------------------------------------


@dataclass
class FakeRasa:
    """What the local push server answers, and what it received."""

    status: int = 200
    reply: bytes = b'{"delivered": true}'
    delay: float = 0.0
    received: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)

    def answer(self, status: int, reply: Mapping[str, Any] | bytes = b"", delay: float = 0.0) -> None:
        self.status = status
        self.reply = reply if isinstance(reply, bytes) else json.dumps(reply).encode()
        self.delay = delay


@pytest.fixture()
def rasa() -> Iterator[tuple[str, FakeRasa]]:
    with fake_rasa_server() as running:
        yield running


@contextlib.contextmanager
def fake_rasa_server() -> Iterator[tuple[str, FakeRasa]]:
    """A local HTTP server answering the push route as :class:`FakeRasa` says."""
    fake = FakeRasa()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            fake.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            time.sleep(fake.delay)
            self.send_response(fake.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(fake.reply)))
            self.end_headers()
            self.wfile.write(fake.reply)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", fake
    finally:
        server.shutdown()
        server.server_close()


def test_a_delivered_push_posts_the_rendered_messages_with_the_secret(rasa: tuple[str, FakeRasa]) -> None:
    url, fake = rasa
    WebPushChannel(url + "/", SECRET, render).push(OWNER, delivery("We fire 40 kilns a day."))
    [(path, headers, body)] = fake.received
    assert path == PUSH_PATH
    assert headers[SECRET_HEADER.lower()] == SECRET
    assert body == {"recipient": OWNER, "messages": [{
        "text": "[requester] We fire 40 kilns a day.",
        "buttons": [{"title": "Reply", "payload": '/reply{"thread": 7}'}]}]}


@pytest.mark.parametrize(("status", "reply", "error", "text"), [
    (200, {"delivered": False}, TransientChannelError, "not connected"),
    (200, b"<html>", TransientChannelError, "unreadable"),
    (200, {"delivered": "yes"}, TransientChannelError, "unreadable"),
    (500, {"error": "boom"}, TransientChannelError, "500"),
    (503, {"error": "unavailable"}, TransientChannelError, "503"),
    (429, b"", TransientChannelError, "429"),
    (403, {"error": "forbidden"}, PermanentChannelError, "403"),
    (400, {"error": "bad_request"}, PermanentChannelError, "400"),
    (404, b"", PermanentChannelError, "404"),
])
def test_replies_map_to_channel_errors(rasa: tuple[str, FakeRasa], status: int, reply: Mapping[str, Any] | bytes,
                                       error: type[Exception], text: str) -> None:
    url, fake = rasa
    fake.answer(status, reply)
    with pytest.raises(error, match=text) as raised:
        WebPushChannel(url, SECRET, render).push(OWNER, delivery())
    assert type(raised.value) is error
    assert len(fake.received) == 1


def test_of_several_rasa_servers_the_one_holding_the_socket_delivers() -> None:
    with fake_rasa_server() as (first_url, first), fake_rasa_server() as (second_url, second):
        first.answer(200, {"delivered": False})
        WebPushChannel([first_url, second_url], SECRET, render).push(OWNER, delivery("to the second"))
        assert len(first.received) == 1 and len(second.received) == 1

        second.answer(200, {"delivered": False})
        with pytest.raises(TransientChannelError, match="not connected"):
            WebPushChannel([first_url, second_url], SECRET, render).push(OWNER, delivery())

        first.answer(200, {"delivered": True})
        before = len(second.received)
        WebPushChannel([first_url, second_url], SECRET, render).push(OWNER, delivery())
        assert len(second.received) == before, "a delivered push is not sent to the next server"

        first.answer(403, {"error": "forbidden"})
        with pytest.raises(PermanentChannelError):
            WebPushChannel([first_url, second_url], SECRET, render).push(OWNER, delivery())
        assert len(second.received) == before


def test_a_rasa_server_that_is_down_is_skipped_for_the_next(rasa: tuple[str, FakeRasa]) -> None:
    url, fake = rasa
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{probe.getsockname()[1]}"
    WebPushChannel([down, url], SECRET, render, timeout=1.0).push(OWNER, delivery())
    assert len(fake.received) == 1
    fake.answer(200, {"delivered": False})
    with pytest.raises(TransientChannelError, match="unreachable"):
        WebPushChannel([down, url], SECRET, render, timeout=1.0).push(OWNER, delivery())


def test_a_timeout_is_transient(rasa: tuple[str, FakeRasa]) -> None:
    url, fake = rasa
    fake.answer(200, {"delivered": True}, delay=1.5)
    started = time.monotonic()
    with pytest.raises(TransientChannelError, match="unreachable"):
        WebPushChannel(url, SECRET, render, timeout=0.3).push(OWNER, delivery())
    assert time.monotonic() - started < 1.4


def test_a_server_that_is_down_is_transient() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TransientChannelError, match="unreachable"):
        WebPushChannel(f"http://127.0.0.1:{port}", SECRET, render, timeout=1.0).push(OWNER, delivery())


def test_a_rendering_that_breaks_the_contract_is_permanent_and_sends_nothing(rasa: tuple[str, FakeRasa]) -> None:
    url, fake = rasa
    for bad in (lambda d: [], lambda d: [{"text": ""}], lambda d: [{"text": "a", "buttons": [{"title": "t"}]}]):
        with pytest.raises(PermanentChannelError):
            WebPushChannel(url, SECRET, bad).push(OWNER, delivery())
    assert fake.received == []


@pytest.mark.parametrize(("url", "secret", "timeout"), [
    ("127.0.0.1:5005", SECRET, 5.0), ("ftp://x", SECRET, 5.0), ("http://x", "", 5.0), ("http://x", SECRET, 0.0),
    ([], SECRET, 5.0), (["http://x", "x:1"], SECRET, 5.0)])
def test_bad_settings_are_refused(url: str | list[str], secret: str, timeout: float) -> None:
    with pytest.raises(ValueError):
        WebPushChannel(url, secret, render, timeout=timeout)


def test_the_secret_is_not_in_the_repr() -> None:
    assert SECRET not in repr(WebPushChannel("http://127.0.0.1:5005", SECRET, render))


# -- the dispatcher and its loop on a real outbox --------------------------------------------


@pytest.fixture()
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "matchmaker.db"


@pytest.fixture()
def store(db_path: Path) -> SQLiteNegotiationStore:
    return SQLiteNegotiationStore(connect(db_path))


def first_row_of(db_path: Path, identity: str) -> int:
    """The outbox row id of an identity's first delivery."""
    with sqlite3.connect(str(db_path)) as db:
        return int(db.execute("SELECT id FROM outbox WHERE identity = ? ORDER BY seq LIMIT 1", (identity,)).fetchone()[0])


def seed(store: SQLiteNegotiationStore) -> int:
    """A thread between two anonymous web users with three web deliveries (two to the owner)."""
    thread, _ = store.open(11, REQUESTER, OWNER, "kiln heat recovery")
    store.post_message(thread.id, REQUESTER, "We fire 40 kilns a day.", "k1")
    store.post_message(thread.id, OWNER, "Which temperature?", "k2")
    return thread.id


class RecordingChannel:
    """A fake web channel that records what it was asked to push."""

    name = "web"

    def __init__(self) -> None:
        self.pushed: list[tuple[str, int, str]] = []

    def push(self, identity: str, delivery: Delivery) -> None:
        self.pushed.append((identity, delivery.seq, delivery.body))


def wait_for(condition: Any, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_the_loop_delivers_every_due_row_in_order_and_stops(store: SQLiteNegotiationStore) -> None:
    seed(store)
    channel = RecordingChannel()
    loop = DispatchLoop(Dispatcher(store, [channel]), interval=0.05)
    loop.start()
    try:
        assert wait_for(lambda: len(channel.pushed) == 3)
    finally:
        loop.stop()
    assert not loop.running
    assert sorted(channel.pushed, key=lambda p: p[1]) == [
        (OWNER, 1, "request"), (OWNER, 2, "We fire 40 kilns a day."), (REQUESTER, 3, "Which temperature?")]
    assert [p for p in channel.pushed if p[0] == OWNER] == [(OWNER, 1, "request"),
                                                            (OWNER, 2, "We fire 40 kilns a day.")]
    assert store.due("web", time.time() + 10_000, 10) == []
    passes = loop.passes
    time.sleep(0.2)
    assert loop.passes == passes


def test_a_closed_page_keeps_the_row_pending_until_the_page_is_back(store: SQLiteNegotiationStore, db_path: Path,
                                                                    rasa: tuple[str, FakeRasa]) -> None:
    url, fake = rasa
    thread_id = seed(store)
    dispatcher = Dispatcher(store, [WebPushChannel(url, SECRET, render)])
    fake.answer(200, {"delivered": False})
    now = time.time()
    assert dispatcher.deliver_once(now) == DispatchReport(delivered=0, retried=2, failed=0)
    first_owner_row = first_row_of(db_path, OWNER)
    state = store.delivery_state(first_owner_row)
    assert (state.state, state.attempts, state.last_error) == ("pending", 1, "not connected")
    assert state.next_attempt_at >= now + 5
    fake.answer(200, {"delivered": True})
    fake.received.clear()
    assert dispatcher.deliver_once(now + 20_000).delivered == 3
    owner_texts = [m["text"] for _, _, body in fake.received if body["recipient"] == OWNER for m in body["messages"]]
    assert owner_texts == ["[system] request", "[requester] We fire 40 kilns a day."]
    assert store.delivery_state(first_owner_row).state == "delivered"
    assert len(store.messages(thread_id, OWNER)) == 3


class FlakyDispatcher:
    """Fails its first pass, then counts passes."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def deliver_once(self, now: float) -> DispatchReport:
        self.calls.append(now)
        if len(self.calls) == 1:
            raise RuntimeError("database is locked")
        return DispatchReport()


def test_the_loop_logs_a_failed_pass_with_its_traceback_and_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    dispatcher = FlakyDispatcher()
    with caplog.at_level(logging.ERROR, logger="channels.loop"), DispatchLoop(dispatcher, interval=0.02) as loop:
        assert wait_for(lambda: len(dispatcher.calls) >= 3)
        assert loop.running
    assert not loop.running
    [record] = [r for r in caplog.records if r.name == "channels.loop"]
    assert record.exc_info is not None and "database is locked" in str(record.exc_info[1])


def test_the_loop_uses_its_clock_and_refuses_a_bad_interval() -> None:
    dispatcher = FlakyDispatcher()
    loop = DispatchLoop(dispatcher, interval=0.01, clock=lambda: 42.0)
    assert loop.run_once() is None
    assert loop.run_once() == DispatchReport()
    assert dispatcher.calls == [42.0, 42.0]
    with pytest.raises(ValueError):
        DispatchLoop(dispatcher, interval=0)
