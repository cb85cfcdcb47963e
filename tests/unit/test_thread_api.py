"""The web page's thread API (bot.thread_api through bot.webpage) on a temporary database."""

from __future__ import annotations

import http.client
import json
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.thread_api import Backend, ThreadApi
from bot.webpage import DEFAULT_WEB_ROOT, create_server
from matchmaker.accounts import SQLiteAccountStore
from matchmaker.listings import Listing, SQLiteListingStore, connect
from matchmaker.negotiation import Terms, Thread
from matchmaker.negotiation_store import SQLiteNegotiationStore
from matchmaker.settings import load_settings
from nlu.lexicon import Lexicon

SOCKET_URL = "http://127.0.0.1:5005"
OWNER = "org:heat-lab--demo-"
OWNER_NAME = "Heat Lab (demo)"
OWNER_SESSION = "web:" + "0" * 32
REQUESTER = "web:" + "1" * 32
STRANGER = "web:" + "2" * 32
NDA = "2024-01"


@dataclass
class World:
    """Stores on a temporary database and the API server in front of them."""

    store: SQLiteNegotiationStore
    accounts: SQLiteAccountStore
    listing_ids: list[int]
    address: tuple[str, int]

    def open(self, requester: str = REQUESTER, which: int = 0) -> Thread:
        thread, _ = self.store.open(self.listing_ids[which], requester, OWNER, "kiln heat recovery")
        return thread

    def to_open(self, thread: Thread) -> Thread:
        self.store.accept(thread.id, OWNER)
        self.store.confirm_nda(thread.id, OWNER, NDA)
        return self.store.confirm_nda(thread.id, thread.requester_id, NDA)

    def call(self, method: str, path: str, session: str | None = REQUESTER, body: Any = None,
             raw: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(*self.address, timeout=5)
        headers = {"Content-Type": "application/json"}
        if session is not None:
            headers["X-Session-Id"] = session
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        try:
            conn.request(method, path, body=data, headers=headers)
            reply = conn.getresponse()
            return reply.status, {k.lower(): v for k, v in reply.getheaders()}, reply.read()
        finally:
            conn.close()

    def json(self, method: str, path: str, session: str | None = REQUESTER, body: Any = None) -> tuple[int, Any]:
        status, _, raw = self.call(method, path, session, body)
        return status, json.loads(raw)


def _listing(source: str, title: str) -> Listing:
    return Listing(id=0, kind="achievement", title=title, text="Waste heat recovery for ceramic kilns.",
                   owner_id=OWNER, owner_name=OWNER_NAME, owner_type="institute", listing_type="paper",
                   region="jiangsu", field="new_energy", maturity=6, language="en", source=source)


def serve(api: ThreadApi) -> Iterator[tuple[str, int]]:
    server = create_server("127.0.0.1", 0, SOCKET_URL, DEFAULT_WEB_ROOT, thread_api=api)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield str(server.server_address[0]), int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture()
def world(tmp_path: Path) -> Iterator[World]:
    connection = connect(tmp_path / "matchmaker.db")
    listings = SQLiteListingStore(connection)
    ids = [listings.add(_listing("t:1", "Kiln heat exchanger")).id, listings.add(_listing("t:2", "Heat pump")).id]
    accounts = SQLiteAccountStore(connection)
    accounts.redeem(accounts.invite(None, OWNER), OWNER_SESSION)
    accounts.set_contact(OWNER, "tto@heatlab.example")
    store = SQLiteNegotiationStore(connection, accounts=accounts, listings=listings)
    names = Lexicon.load(load_settings().lexicon_path)
    api = ThreadApi(lambda: Backend(store, accounts, names))
    for address in serve(api):
        yield World(store, accounts, ids, address)


def test_the_list_shows_the_viewers_threads_without_naming_anyone(world: World) -> None:
    mine = world.open()
    world.open(STRANGER, which=1)
    status, headers, raw = world.call("GET", "/api/threads")
    assert status == 200
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert headers["cache-control"] == "no-store"
    [summary] = json.loads(raw)["threads"]
    assert summary["id"] == mine.id and summary["state"] == "requested" and summary["my_role"] == "requester"
    assert summary["counterpart"] == {"role": "owner", "org_type": "institute", "region": "jiangsu",
                                      "field": "new_energy", "disclosed": False, "name": None, "contact": None,
                                      "names": {"zh": {"region": "江苏", "field": "新能源"},
                                                "en": {"region": "Jiangsu", "field": "New energy"}}}
    assert summary["listing"]["title"] == "Kiln heat exchanger"
    for secret in (OWNER, OWNER_NAME, REQUESTER, STRANGER, "tto@heatlab.example"):
        assert secret.encode() not in raw


def test_a_linked_session_acts_as_its_participant(world: World) -> None:
    first, second = world.open(), world.open(STRANGER, which=1)
    status, body = world.json("GET", "/api/threads", OWNER_SESSION)
    assert status == 200
    assert sorted(t["id"] for t in body["threads"]) == sorted([first.id, second.id])
    assert {t["my_role"] for t in body["threads"]} == {"owner"}


def test_a_thread_reads_in_order_with_its_proposal_and_discloses_only_when_open(world: World) -> None:
    thread = world.open()
    world.store.post_message(thread.id, REQUESTER, "We fire 40 kilns a day.", "k1")
    status, before = world.json("GET", f"/api/threads/{thread.id}")
    assert status == 200
    assert before["thread"]["counterpart"]["name"] is None and before["proposal"] is None
    world.to_open(thread)
    world.store.post_message(thread.id, OWNER, "Which temperature?", "k2")
    world.store.propose(thread.id, OWNER, Terms("licence", 500_000, 180, ("pilot kiln",)))
    status, body = world.json("GET", f"/api/threads/{thread.id}")
    assert status == 200
    seqs = [m["seq"] for m in body["messages"]]
    assert seqs == sorted(seqs) == list(range(1, len(seqs) + 1))
    assert [(m["from"], m["kind"], m["body"]) for m in body["messages"]] == [
        ("me", "system", "request"), ("me", "text", "We fire 40 kilns a day."), ("them", "system", "accepted"),
        ("them", "system", "nda_confirmed"), ("me", "system", "disclosed"), ("them", "text", "Which temperature?"),
        ("them", "proposal", "proposal")]
    assert body["messages"][0]["data"] == {"context": "kiln heat recovery"}
    assert body["proposal"] == {**body["proposal"], "from": "them", "state": "open", "kind": "licence",
                                "price_yuan": 500_000, "duration_days": 180, "milestones": ["pilot kiln"]}
    counterpart = body["thread"]["counterpart"]
    assert (counterpart["disclosed"], counterpart["name"], counterpart["contact"]) == (
        True, OWNER_NAME, "tto@heatlab.example")
    assert body["thread"]["state"] == "open" and body["thread"]["can_write"] is True


def test_posting_is_idempotent_by_client_key_and_queues_the_web_delivery(world: World) -> None:
    thread = world.open()
    request = {"body": "  Can you visit our plant?  ", "client_key": "page-1"}
    status, first = world.json("POST", f"/api/threads/{thread.id}/messages", body=request)
    assert status == 201 and first["created"] is True
    assert first["message"]["body"] == "Can you visit our plant?" and first["message"]["from"] == "me"
    status, again = world.json("POST", f"/api/threads/{thread.id}/messages", body=request)
    assert status == 200 and again["created"] is False and again["message"]["seq"] == first["message"]["seq"]
    texts = [m.body for m in world.store.messages(thread.id, REQUESTER) if m.kind == "text"]
    assert texts == ["Can you visit our plant?"]
    due = world.store.due("web", 1e12, 10)
    assert [(d.identity, d.seq) for d in due] == [(OWNER_SESSION, 1)]


@pytest.mark.parametrize("session", [None, "", "alice", OWNER, "web:short", "web:" + "x" * 125,
                                     "web:" + "0" * 31 + "/", "rest:" + "0" * 32])
def test_a_missing_or_malformed_session_is_401(world: World, session: str | None) -> None:
    thread = world.open()
    for method, path, body in (("GET", "/api/threads", None), ("GET", f"/api/threads/{thread.id}", None),
                               ("POST", f"/api/threads/{thread.id}/messages", {"body": "x", "client_key": "k"})):
        status, reply = world.json(method, path, session, body)
        assert (status, reply) == (401, {"error": "unauthorized"})
    assert [m.kind for m in world.store.messages(thread.id, REQUESTER)] == ["system"]


def test_a_foreign_thread_is_a_404_exactly_like_a_missing_one(world: World) -> None:
    foreign = world.open(STRANGER, which=1)
    missing = foreign.id + 1000
    for method, suffix, body in (("GET", "", None), ("POST", "/messages", {"body": "hi", "client_key": "k"})):
        seen = world.call(method, f"/api/threads/{foreign.id}{suffix}", body=body)
        absent = world.call(method, f"/api/threads/{missing}{suffix}", body=body)
        assert seen[0] == absent[0] == 404
        assert seen[2] == absent[2] == b'{"error":"not_found"}'
        assert {k: v for k, v in seen[1].items() if k != "date"} == {k: v for k, v in absent[1].items() if k != "date"}
    assert [m.kind for m in world.store.messages(foreign.id, STRANGER)] == ["system"]
    assert world.call("GET", "/api/threads/abc")[0] == 404


@pytest.mark.parametrize(("raw", "error"), [
    (b"{not json", "bad_request"), (b"[1, 2]", "bad_request"), (b"\xff\xfe", "bad_request"), (b"", "bad_request"),
    (b'{"body": 5, "client_key": "k"}', "bad_request"), (b'{"body": "hi"}', "bad_request"),
    (b'{"body": "   ", "client_key": "k"}', "bad_message"), (b'{"body": "hi", "client_key": ""}', "bad_message"),
])
def test_bad_bodies_are_400(world: World, raw: bytes, error: str) -> None:
    thread = world.open()
    status, _, reply = world.call("POST", f"/api/threads/{thread.id}/messages", raw=raw)
    assert status == 400
    assert json.loads(reply)["error"] == error


def test_a_closed_thread_takes_no_message_and_other_refusals(world: World) -> None:
    thread = world.open()
    world.store.withdraw(thread.id, REQUESTER)
    status, reply = world.json("POST", f"/api/threads/{thread.id}/messages", body={"body": "hi", "client_key": "k"})
    assert (status, reply["error"]) == (409, "bad_state")
    status, headers, _ = world.call("GET", f"/api/threads/{thread.id}/messages")
    assert (status, headers["allow"]) == (405, "POST")
    status, headers, _ = world.call("POST", "/api/threads", body={})
    assert (status, headers["allow"]) == (405, "GET, HEAD")
    status, _, reply_raw = world.call("POST", f"/api/threads/{thread.id}/messages",
                                      raw=json.dumps({"body": "x" * 20_000, "client_key": "k"}).encode())
    assert (status, json.loads(reply_raw)["error"]) == (413, "too_large")
    assert world.call("POST", "/", body={})[0] == 405


def test_the_thread_page_is_served(world: World) -> None:
    status, headers, body = world.call("GET", "/threads", session=None)
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    assert b"/static/threads.js" in body and b"<script>" not in body


def test_a_broken_database_is_a_503_not_a_500(tmp_path: Path) -> None:
    def broken() -> Backend:
        raise sqlite3.OperationalError("unable to open database file")

    for address in serve(ThreadApi(broken)):
        conn = http.client.HTTPConnection(*address, timeout=5)
        conn.request("GET", "/api/threads", headers={"X-Session-Id": REQUESTER})
        reply = conn.getresponse()
        assert (reply.status, json.loads(reply.read())) == (503, {"error": "unavailable"})
        conn.close()


def test_the_default_server_opens_the_configured_database_on_first_use(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    database = tmp_path / "var" / "matchmaker.db"
    monkeypatch.setenv("MATCHMAKER_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("MATCHMAKER_DB", str(database))
    monkeypatch.setenv("MATCHMAKER_EVENT_STORE", "sqlite")
    server = create_server("127.0.0.1", 0, SOCKET_URL, DEFAULT_WEB_ROOT)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        assert not database.exists()
        conn = http.client.HTTPConnection("127.0.0.1", int(server.server_address[1]), timeout=5)
        conn.request("GET", "/api/threads", headers={"X-Session-Id": REQUESTER})
        reply = conn.getresponse()
        assert (reply.status, json.loads(reply.read())) == (200, {"threads": []})
        conn.close()
        assert database.exists()
    finally:
        server.shutdown()
        server.server_close()
