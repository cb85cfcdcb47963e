"""Hostile input for every endpoint of the running assistant, generated with hypothesis.

Each test sends one endpoint random and hostile requests: empty, 1 MB and invalid UTF-8 bodies,
control characters, emoji, SQL and HBase row-key injection, JSON of the wrong types, missing
fields, button payloads with giant, negative and non-numeric ids, unknown thread and listing
ids, wrong or missing secrets and signatures, wrong methods and content types. For every
example it checks that

* the answer is clear: a reply in the user's language (REST, socket.io, the messengers), the
  endpoint's documented answer, or a 4xx; never a 5xx, a dropped connection, silence or an empty
  200 for a message the assistant took, and never the reply of an action that failed;
* no server fell over: each still answers its health check and ``stack.dead()`` is empty;
* nothing was stored where it should not be: a refused request leaves no tracker events and no
  listing, thread or message rows, injection strings are stored only as inert text, and every
  table is still there.

The examples are derandomized, so every run sends the same ones. Senders are new for every
example (the Rasa server limits each sender to 30 messages at once).
"""

from __future__ import annotations

import http.client
import itertools
import json
import re
import sqlite3
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit
from xml.etree import ElementTree

import happybase
import pytest
import socketio
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from behaviour.hbase_store import HBaseEventStore, salt
from bot.stack import Stack
from channels.gateway import GATEWAY_PATH, GATEWAY_SECRET_HEADER
from channels.push import PUSH_PATH, SECRET_HEADER
from channels.wechat_gateway import XML_FORBIDDEN
from matchmaker.messages import say
from nlu.language import detect_language
from tests.conftest import HBASE_THRIFT
from tests.standins.senders import WeChatFollower, wechat_signature
from tests.standins.telegram_api import TelegramBotApi, callback_update, text_update

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.heavy]


def abuse(max_examples: int) -> Any:
    """Hypothesis settings of one endpoint's examples: few, reproducible, no deadline."""
    return settings(max_examples=max_examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large, HealthCheck.filter_too_much])


# ------------------------------------------------------------------------------------------ talking to servers

@dataclass(frozen=True)
class Answer:
    """A status, the headers (lower-case names) and the body of an HTTP answer."""

    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


def call(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None,
         timeout: float = 60.0) -> Answer:
    """One HTTP request with exactly these headers (no Content-Type unless given); a dropped connection raises."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        connection.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), body=body,
                           headers=headers or {})
        reply = connection.getresponse()
        return Answer(reply.status, reply.read(), {k.lower(): v for k, v in reply.getheaders()})
    finally:
        connection.close()


JSON_HEADERS = {"Content-Type": "application/json"}
SENDERS = itertools.count()
RESERVED = ("tg:", "wx:", "web:")
FAILURES = tuple(say(key, language) for key in ("service_error", "unavailable") for language in ("en", "zh"))


def new_id(tag: str) -> str:
    """A sender, chat or session id no other example uses."""
    return f"abuse-{tag}-{next(SENDERS)}-{uuid.uuid4().hex[:8]}"


def clean(text: str) -> str:
    """What the servers make of a text with lone surrogates (each becomes U+FFFD)."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def chinese(text: str) -> bool:
    return bool(re.search(r"[\u4e00-\u9fff]", text))


def expects_chinese(text: str) -> bool:
    """Whether a message the assistant takes must be answered in Chinese (typed, not a button payload)."""
    return detect_language(clean(text)) == "zh" and not text.startswith("/")


def assert_no_failure(replies: list[str]) -> None:
    """None of the replies is the one a failed action or turn gives."""
    assert not [r for r in replies if any(failure in r for failure in FAILURES)], replies


def rest_texts(answer: Answer) -> list[str]:
    """The texts of a REST reply, which must be a non-empty list of messages with some text."""
    assert answer.status == 200, answer
    messages = answer.json()
    assert isinstance(messages, list) and messages, answer
    said = [str(m["text"]) for m in messages if isinstance(m, dict) and m.get("text")]
    assert said, messages
    return said


@dataclass
class Servers:
    """The stack's addresses and secrets, and checks of what it stored."""

    stack: Stack

    @property
    def rasa(self) -> str:
        return self.stack.config.rasa_url

    @property
    def actions(self) -> str:
        return f"http://{self.stack.config.host}:{self.stack.config.actions_port}"

    @property
    def web(self) -> str:
        return self.stack.config.page_url.rstrip("/")

    @property
    def telegram(self) -> str:
        return self.stack.environment()["TELEGRAM_WEBHOOK_URL"]

    @property
    def telegram_secret(self) -> str:
        return self.stack.environment()["TELEGRAM_WEBHOOK_SECRET"]

    @property
    def wechat(self) -> str:
        return self.stack.wechat_url

    @property
    def wechat_token(self) -> str:
        return self.stack.environment()["WECHAT_TOKEN"]

    def assert_up(self) -> None:
        """Every server still answers; none exited."""
        assert self.stack.dead() == []
        assert call("GET", f"{self.rasa}/", timeout=15).status == 200
        assert call("GET", f"{self.actions}/health", timeout=15).status == 200
        assert call("GET", f"{self.web}/", timeout=15).status == 200
        assert call("GET", self.wechat.replace("/wechat", "/health"), timeout=15).status == 200
        assert call("POST", self.telegram, b"{}", JSON_HEADERS, timeout=15).status == 403

    def rows(self, database: str, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        connection = sqlite3.connect(f"file:{self.stack.config.var_dir / database}?mode=ro", uri=True, timeout=30)
        try:
            return connection.execute(sql, params).fetchall()
        finally:
            connection.close()

    def tracker_events(self, sender: str) -> int:
        """How many events the Rasa server stored for ``sender``."""
        return int(self.rows("trackers.db", "SELECT COUNT(*) FROM events WHERE sender_id = ?", (sender,))[0][0])

    def stored(self) -> tuple[int, int, int]:
        """How many listings, threads and thread messages there are (notices, thread 0, left out)."""
        row = self.rows("matchmaker.db", "SELECT (SELECT COUNT(*) FROM listings), (SELECT COUNT(*) FROM threads),"
                                         " (SELECT COUNT(*) FROM thread_messages WHERE thread_id != 0)")[0]
        return int(row[0]), int(row[1]), int(row[2])

    def assert_tables(self) -> None:
        """Every table is still there, in both databases and in HBase."""
        names = {r[0] for r in self.rows("matchmaker.db", "SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert names >= TABLES, TABLES - names
        assert self.rows("trackers.db", "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'events'")
        connection = happybase.Connection(*HBASE_THRIFT, timeout=10000)
        try:
            assert f"{self.hbase_prefix}events".encode() in connection.tables()
        finally:
            connection.close()

    @property
    def hbase_prefix(self) -> str:
        return self.stack.environment()["MATCHMAKER_HBASE_TABLE_PREFIX"]

    def rest(self, sender: str, message: str) -> list[str]:
        """The texts of the reply to one REST message."""
        body = json.dumps({"sender": sender, "message": message}).encode()
        return rest_texts(call("POST", f"{self.rasa}/webhooks/rest/webhook", body, JSON_HEADERS))


TABLES = {"listings", "threads", "thread_messages", "proposals", "ratings", "outbox", "participants",
          "channel_identities", "invite_codes", "desk_items", "saved_needs", "alerts", "search_log"}


@pytest.fixture(scope="module")
def servers(stack: Stack) -> Iterator[Servers]:
    checked = Servers(stack)
    yield checked
    checked.assert_up()
    checked.assert_tables()


# ----------------------------------------------------------------------------------------------- strategies

INJECTIONS = ("'); DROP TABLE listings;--", "' OR '1'='1", "1; DELETE FROM threads; --", '" OR ""="',
              "a\x00b", "row|key", "\xff", "u0|abuse|", "c|org:x", "l0|00000000000000000001|", "~", "%00",
              "${jndi:ldap://x/a}", "<script>alert(1)</script>", "]]><xml><a>", "{{7*7}}", "../../etc/passwd",
              "\u202eevil", "\ud800", "\ufeff", "NULL", "0x7fffffffffffffff")
CHINESE = ("我们需要电池材料技术", "你好", "我们公司需要提高水稻产量的种植技术，最好是成熟技术", "联系第二个", "我的洽谈",
           "洽谈99999记录", "只要江苏的", "更多", "转人工", "同意保密协议")
ENGLISH = ("We need a better battery material for electric buses", "hello", "more", "contact 2", "my threads",
           "thread 999999 history", "only in Jiangsu", "help", "accept 3", "login ZZZZ-ZZZZ", "whoami", "leave")
INTENTS = ("contact", "more_like_this", "not_relevant", "command", "refine", "describe_demand",
           "describe_achievement", "post_listing", "more", "greet", "my_threads", "help", "no_such_intent", "")
ENTITIES = ("match_rank", "thread_id", "command", "cmd_item", "cmd_listing", "cmd_need", "cmd_rating", "cmd_price",
            "cmd_days", "cmd_kind", "cmd_code", "cmd_to", "cmd_text", "budget", "deadline", "maturity", "field",
            "region", "listing_id")
COMMANDS = ("open", "history", "accept", "decline", "nda", "close", "propose", "counter", "rate", "accept_proposal",
            "reject_proposal", "take", "done", "approve", "reject_listing", "assign", "recommend", "stop_alerts",
            "my_alerts", "login", "whoami", "inbox", "leave", "show_nda", "set_contact", "queue", "no_such_command")

control = st.text(st.characters(max_codepoint=0x1F), min_size=1, max_size=20)
emoji = st.text(st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF), min_size=1, max_size=12)
cjk = st.text(st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF), min_size=1, max_size=40)
long_text = st.builds(lambda unit, n: unit * n, st.sampled_from(["x", "长", "😀", "a b "]), st.integers(2001, 6000))
hostile_ids = st.one_of(
    st.integers(-10**30, 10**30), st.integers(2**63 - 3, 2**63 + 3), st.text("0123456789", min_size=1, max_size=40),
    st.sampled_from(["²", "٣", "-1", "0", "1e9", "0x10", " 7 ", "1_000", "NaN", "∞", "9223372036854775808", ""]),
    st.sampled_from(INJECTIONS), st.floats(), st.none(), st.booleans(), st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))


@st.composite
def button_payloads(draw: st.DrawFn) -> str:
    """A button payload (``/intent{entities}``) as a sender could forge it."""
    intent = draw(st.sampled_from(INTENTS))
    confidence = draw(st.sampled_from(["", "", "@0.9", "@1.5", "@abc", "@"]))
    entities: dict[str, Any] = draw(st.dictionaries(st.sampled_from(ENTITIES),
                                                    st.one_of(hostile_ids, st.sampled_from(COMMANDS)), max_size=4))
    if intent == "command" and "command" not in entities:
        entities["command"] = draw(st.sampled_from(COMMANDS))
    tail = draw(st.sampled_from(["", "", "", "}", "{", " trailing", "]"]))
    return f"/{intent}{confidence}{json.dumps(entities, ensure_ascii=draw(st.booleans()))}{tail}"


pieces = st.one_of(st.sampled_from(INJECTIONS), cjk, emoji, control, st.text(max_size=30))
texts = st.one_of(st.sampled_from(CHINESE + ENGLISH + INJECTIONS), control, emoji, cjk, st.text(max_size=60), long_text,
                  st.lists(pieces, min_size=2, max_size=4).map("".join), button_payloads())
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**53, 2**53),
                         st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
                         st.sampled_from(INJECTIONS))
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)
raw_bodies = st.one_of(st.sampled_from([b"", b"\xff\xfe\xfd", b"{", b"null", b"[]",
                                        b'{"sender": "x", "message": "\xff"}', b"[" * 5000 + b"]" * 5000,
                                        b'{"a":' * 3000 + b"1" + b"}" * 3000, b"\x00" * 64, b"x" * 1_000_000]),
                       st.binary(max_size=200))
content_types = st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain",
                                 "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None])


def header_text(value: str) -> str:
    """``value`` as an HTTP header can carry it (Latin-1, no line breaks)."""
    return value.encode("latin-1", "replace").decode("latin-1").replace("\r", "").replace("\n", "")


# --------------------------------------------------------------------------------------------- REST webhook

@dataclass(frozen=True)
class RestRequest:
    """A request to the REST webhook and what the Rasa server makes of it, when the body is an object."""

    method: str
    body: bytes
    content_type: str | None
    sender: str | None = None
    text: str | None = None

    def refused(self) -> bool:
        """Whether the channel's guard refuses the message (nothing reaches the dialogue)."""
        assert self.sender is not None
        text = clean(self.text or "")
        return clean(self.sender).startswith(RESERVED) or not text.strip() or len(text) > 2000


@st.composite
def rest_requests(draw: st.DrawFn) -> RestRequest:
    kind = draw(st.sampled_from(["object", "object", "object", "other json", "raw", "method"]))
    content_type = draw(content_types)
    if kind == "method":
        return RestRequest(draw(st.sampled_from(["GET", "PUT", "DELETE", "PATCH"])), b"{}", content_type)
    if kind == "raw":
        return RestRequest("POST", draw(raw_bodies), content_type)
    if kind == "other json":
        return RestRequest("POST", json.dumps(draw(json_values.filter(lambda v: not isinstance(v, dict)))).encode(),
                           content_type)
    body: dict[str, Any] = {}
    sender: str | None = None
    if draw(st.booleans()):
        prefix = draw(st.one_of(st.just(""), st.sampled_from(RESERVED + INJECTIONS), emoji, control))
        sender = f"{prefix}{new_id('rest')}"
        body["sender"] = sender
    elif draw(st.booleans()):
        body["sender"] = draw(json_values)
    message = draw(st.one_of(texts, texts, json_values))
    if draw(st.integers(0, 5)) > 0:
        body["message"] = message
    for key in ("metadata", "input_channel"):
        if draw(st.integers(0, 4)) == 0:
            body[key] = draw(json_values)
    text = body.get("message") if isinstance(body.get("message"), str) else ""
    return RestRequest("POST", json.dumps(body).encode(), "application/json", sender, text)


def test_the_rest_webhook_answers_every_body_clearly_and_stores_nothing_it_refuses(servers: Servers) -> None:
    url = f"{servers.rasa}/webhooks/rest/webhook"

    @abuse(60)
    @given(rest_requests())
    @example(RestRequest("POST", b"", None))
    @example(RestRequest("POST", b"\xff\xfe{\x80", "application/json"))
    @example(RestRequest("POST", json.dumps({"sender": "abuse-1mb", "message": "x" * 1_000_000}).encode(),
                         "application/json", "abuse-1mb", "x" * 1_000_000))
    @example(RestRequest("POST", json.dumps({"sender": "abuse-surrogate", "message": "我们需要\ud800电池材料"}).encode(),
                         "application/json", "abuse-surrogate", "我们需要\ud800电池材料"))
    @example(RestRequest("POST", json.dumps({"sender": "tg:abuse-claimed", "message": "我的洽谈"}).encode(),
                         "application/json", "tg:abuse-claimed", "我的洽谈"))
    def check(request: RestRequest) -> None:
        before = servers.stored()
        headers = {} if request.content_type is None else {"Content-Type": request.content_type}
        answer = call(request.method, url, request.body, headers)
        if request.method != "POST":
            assert answer.status == 405
        else:
            replies = rest_texts(answer)
            assert_no_failure(replies)
            if request.sender is not None and not request.refused() and expects_chinese(request.text or ""):
                assert chinese(" ".join(replies)), (request.text, replies)
            if request.sender is not None and request.refused():
                assert servers.tracker_events(clean(request.sender)) == 0
                assert servers.stored() == before
        servers.assert_up()

    check()


def test_rest_metadata_of_a_megabyte_is_not_stored_with_the_conversation(servers: Servers) -> None:
    sender = new_id("metadata")
    body = json.dumps({"sender": sender, "message": "hello", "metadata": {"blob": "x" * 1_000_000}}).encode()
    assert rest_texts(call("POST", f"{servers.rasa}/webhooks/rest/webhook", body, JSON_HEADERS))
    size = servers.rows("trackers.db", "SELECT SUM(LENGTH(data)) FROM events WHERE sender_id = ?", (sender,))[0][0]
    assert 0 < size < 100_000


# ----------------------------------------------------------------------------------- button payloads over REST

POSTER_TEXT = "post an achievement: an abuse-probe zqxvk widget {n} that tolerates hostile payloads in chat"
SEARCH_TEXT = "We need an abuse-probe zqxvk widget that tolerates hostile payloads"


@pytest.fixture(scope="module")
def searchers(servers: Servers) -> list[str]:
    """Senders who searched once and were shown listings of an abuse poster (so contacts reach nobody else)."""
    poster = new_id("poster")
    for n in range(1, 6):
        assert "#" in " ".join(servers.rest(poster, POSTER_TEXT.format(n=n)))
    found = []
    for _ in range(4):
        sender = new_id("searcher")
        assert servers.rest(sender, SEARCH_TEXT)
        found.append(sender)
    return found


def test_forged_button_payloads_get_a_polite_reply_never_a_failed_action(servers: Servers,
                                                                         searchers: list[str]) -> None:
    turns = itertools.count()

    @abuse(60)
    @given(st.one_of(button_payloads(), button_payloads(), texts), st.booleans())
    @example('/command{"command": "history", "thread_id": "99999999999999999999999"}', False)
    @example('/command{"command": "open", "thread_id": "²"}', False)
    @example('/command{"command": "take", "cmd_item": "²"}', False)
    @example('/command{"command": "stop_alerts", "cmd_need": "99999999999999999999999"}', False)
    @example('/command{"command": "recommend", "thread_id": "3", "cmd_listing": "abc"}', False)
    @example('/describe_demand{"budget": "abc", "maturity": "x", "deadline": "²"}', False)
    @example('/contact{"match_rank": "²"}', True)
    @example("post a demand: we need an abuse-probe zqxvk fixture, budget 99999999999999999999999 yuan", False)
    def check(message: str, searched: bool) -> None:
        sender = searchers[next(turns) % len(searchers)] if searched else new_id("payload")
        replies = servers.rest(sender, message)
        assert_no_failure(replies)
        servers.assert_up()

    check()


UNUSED_IDS = 10**6
"""Listings and saved needs of the test stack have smaller ids; any thread is unknown to a new sender."""


def test_unknown_thread_listing_and_need_ids_get_the_usual_not_found_reply(servers: Servers) -> None:
    known = 987654321
    usual = {
        "thread": servers.rest(new_id("usual"), f"thread {known} history"),
        "thread_zh": servers.rest(new_id("usual"), f"洽谈{known}记录"),
        "listing": servers.rest(new_id("usual"), f"recommend {known} to thread 1"),
        "need": servers.rest(new_id("usual"), f"stop alerts {known}"),
    }
    session = f"web:{uuid.uuid4().hex}"
    usual_api = call("GET", f"{servers.web}/api/threads/{known}", headers={"X-Session-Id": session})
    assert usual_api.status == 404

    def expected(kind: str, n: int) -> list[str]:
        return [text.replace(str(known), str(n)) for text in usual[kind]]

    @abuse(30)
    @given(st.one_of(st.integers(1, 10**9 - 1), st.integers(10**9, 10**40), st.integers(2**63 - 3, 2**63 + 3)))
    @example(2**63)
    @example(1)
    def check(n: int) -> None:
        sender = new_id("unknown")
        for value in (str(n), n):
            payload = json.dumps({"command": "history", "thread_id": value})
            assert servers.rest(sender, f"/command{payload}") == expected("thread", n)
            if n > UNUSED_IDS:
                payload = json.dumps({"command": "recommend", "thread_id": "1", "cmd_listing": value})
                assert servers.rest(sender, f"/command{payload}") == expected("listing", n)
                payload = json.dumps({"command": "stop_alerts", "cmd_need": value})
                assert servers.rest(sender, f"/command{payload}") == expected("need", n)
        if n < 10**9:
            assert servers.rest(sender, f"open thread {n}") == expected("thread", n)
            assert servers.rest(sender, f"洽谈{n}记录") == expected("thread_zh", n)
        answer = call("GET", f"{servers.web}/api/threads/{n}", headers={"X-Session-Id": session})
        assert (answer.status, answer.body) == (usual_api.status, usual_api.body)
        answer = call("POST", f"{servers.web}/api/threads/{n}/messages", b'{"body": "hi", "client_key": "k"}',
                      {"X-Session-Id": session})
        assert (answer.status, answer.body) == (usual_api.status, usual_api.body)
        servers.assert_up()

    check()


# ----------------------------------------------------------------------------- injection stored as inert text

def test_injection_strings_are_stored_only_as_text_and_every_table_survives(servers: Servers) -> None:
    listings_before = servers.stored()[0]

    @abuse(12)
    @given(st.sampled_from(INJECTIONS), st.sampled_from(INJECTIONS))
    @example("'); DROP TABLE listings;--", "a\x00b row|key \xff")
    def check(prefix: str, injection: str) -> None:
        sender = clean(f"{prefix}{new_id('inject')}")
        description = f"we need a sensor {injection} for hostile payloads {prefix} in chat"
        assert servers.rest(sender, f"post a demand: {description}")
        stored = servers.rows("matchmaker.db", "SELECT text FROM listings WHERE owner_id = ?", (sender,))
        assert [row[0] for row in stored] == [clean(description)]
        assert servers.rest(sender, "We need a better battery material for electric buses")
        events = HBaseEventStore(*HBASE_THRIFT, table_prefix=servers.hbase_prefix).for_user(sender)
        assert events and {e.user_id for e in events} == {sender}
        servers.assert_tables()
        servers.assert_up()

    check()
    assert servers.stored()[0] > listings_before


def test_a_user_id_with_the_row_key_separator_does_not_see_into_another_users_events(servers: Servers) -> None:
    user = new_id("rowkey")
    other = next(f"{user}|{n}" for n in itertools.count() if salt(f"{user}|{n}") == salt(user))
    assert servers.rest(other, "We need a better battery material for electric buses")
    events = HBaseEventStore(*HBASE_THRIFT, table_prefix=servers.hbase_prefix).for_user(user)
    assert [e for e in events if e.user_id != user] == []


# ------------------------------------------------------------------------------------------------- socket.io

@dataclass
class Page:
    """A python-socketio client standing in for an open chat page."""

    client: socketio.Client
    session: str | None = None
    received: list[Any] = field(default_factory=list)
    confirmed: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Event = field(default_factory=threading.Event)

    def texts(self) -> list[str]:
        return [str(m["text"]) for m in self.received if isinstance(m, dict) and m.get("text")]

    def wait_for_text(self, timeout: float = 30.0, quiet: float = 0.4) -> list[str]:
        """The texts received once one came and nothing more came for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        while not self.texts() and time.monotonic() < deadline:
            self.arrived.wait(0.1)
            self.arrived.clear()
        seen = -1
        while seen != len(self.received):
            seen = len(self.received)
            time.sleep(quiet)
        return self.texts()


def open_page(servers: Servers) -> Page:
    page = Page(socketio.Client(reconnection=False))

    @page.client.on("session_confirm")
    def confirmed(data: Any) -> None:
        page.session = data.get("session_id") if isinstance(data, dict) else data
        page.confirmed.set()

    @page.client.on("bot_uttered")
    def uttered(data: Any) -> None:
        page.received.append(data)
        page.arrived.set()

    page.client.connect(servers.rasa, socketio_path="/socket.io", transports=["polling"], wait_timeout=15)
    return page


session_requests = st.one_of(
    st.none(), st.just({}), st.just({"session_id": None}), st.builds(lambda: {"session_id": f"web:{uuid.uuid4().hex}"}),
    st.builds(lambda prefix: {"session_id": prefix + uuid.uuid4().hex[:12]},
              st.sampled_from(["tg:", "wx:", "web:", "org:", "web:a|", "web:../", "web:\ud800", "web:'); DROP"])),
    st.builds(lambda n: {"session_id": "web:" + "a" * n}, st.integers(120, 200)), json_values)


@st.composite
def socket_messages(draw: st.DrawFn) -> tuple[Any, str | None]:
    """A ``user_uttered`` body and the session id it claims (another one than the page's), if any."""
    if draw(st.integers(0, 4)) == 0:
        return draw(st.one_of(json_values, st.binary(max_size=50))), None
    body: dict[str, Any] = {}
    claimed = None
    if draw(st.booleans()):
        claimed = draw(st.sampled_from(RESERVED + ("", "org:", "'); DROP TABLE threads;--"))) + new_id("claimed")
        body["session_id"] = claimed
    if draw(st.integers(0, 5)) > 0:
        body["message"] = draw(st.one_of(texts, texts, json_values))
    if draw(st.integers(0, 3)) == 0:
        body["metadata"] = draw(st.one_of(json_values, st.just("{not json"), st.just({"blob": "x" * 300_000})))
    return body, claimed


def test_socketio_messages_are_answered_as_the_pages_own_session(servers: Servers) -> None:
    @abuse(40)
    @given(session_requests, socket_messages(), st.integers(0, 6))
    @example(None, ({"message": "x" * 900_000}, None), 1)
    @example({"session_id": "web:abuse-page"}, ({"message": "你好", "session_id": "tg:abuse-socket"}, "tg:abuse-socket"),
             1)
    @example(None, (["not", "an", "object"], None), 1)
    @example(None, ({"message": "hello"}, None), 0)
    def check(requested: Any, message: tuple[Any, str | None], ask_first: int) -> None:
        body, claimed = message
        page = open_page(servers)
        try:
            if ask_first:
                page.client.emit("session_request", requested)
                assert page.confirmed.wait(15)
                assert page.session is not None and re.fullmatch(r"web:[A-Za-z0-9_-]{1,124}", page.session)
                wanted = requested.get("session_id") if isinstance(requested, dict) else None
                if isinstance(wanted, str) and re.fullmatch(r"web:[A-Za-z0-9_-]{1,124}", wanted):
                    assert page.session == wanted
            page.client.emit("user_uttered", body)
            replies = page.wait_for_text()
        finally:
            page.client.disconnect()
        assert replies, body
        assert_no_failure(replies)
        text = body.get("message") if isinstance(body, dict) else None
        if ask_first and isinstance(text, str) and text.strip() and len(clean(text)) <= 2000 and expects_chinese(text):
            assert chinese(" ".join(replies)), (text, replies)
        if claimed is not None and claimed != page.session:
            assert servers.tracker_events(clean(claimed)) == 0
        servers.assert_up()

    check()


def test_the_push_route_refuses_forged_or_malformed_pushes_and_delivers_only_real_ones(servers: Servers) -> None:
    url = f"{servers.rasa}{PUSH_PATH}"
    secret = servers.stack.push_secret
    page = open_page(servers)
    page.client.emit("session_request", {"session_id": None})
    assert page.confirmed.wait(15) and page.session
    delivered: list[Any] = []
    messages = st.lists(st.fixed_dictionaries({"text": st.one_of(texts, json_values)},
                                              optional={"buttons": st.one_of(json_values, st.lists(
                                                  st.fixed_dictionaries({"title": texts, "payload": texts}),
                                                  max_size=3))}), max_size=3)
    bodies = st.one_of(
        st.builds(lambda recipient, items: json.dumps({"recipient": recipient, "messages": items}).encode(),
                  st.one_of(st.just(page.session), st.builds(lambda: f"web:{uuid.uuid4().hex}"), json_values),
                  st.one_of(messages, json_values)),
        raw_bodies, st.just(json.dumps({"recipient": page.session, "messages": [{"text": "x" * 300_000}]}).encode()))
    secrets_sent = st.sampled_from([secret, secret, None, "", secret + "x", secret.upper(), "forged"])

    @abuse(40)
    @given(st.sampled_from(["POST", "POST", "POST", "GET", "PUT"]), secrets_sent, bodies, content_types)
    def check(method: str, sent_secret: str | None, body: bytes, content_type: str | None) -> None:
        headers = {} if content_type is None else {"Content-Type": content_type}
        if sent_secret is not None:
            headers[SECRET_HEADER] = sent_secret
        answer = call(method, url, body, headers)
        if method != "POST":
            assert answer.status == 405
        elif sent_secret != secret:
            assert answer.status == 403
        elif len(body) > 256 * 1024:
            assert answer.status == 413
        else:
            assert answer.status in (200, 400), answer
            if answer.status == 200:
                pushed = json.loads(body)
                assert answer.json() == {"delivered": pushed["recipient"] == page.session}
                if pushed["recipient"] == page.session:
                    delivered.extend(m["text"] for m in pushed["messages"])
        servers.assert_up()

    try:
        check()
        time.sleep(1.0)
    finally:
        page.client.disconnect()
    assert page.texts() == delivered


# ---------------------------------------------------------------------------------------------- messengers

@dataclass(frozen=True)
class TelegramRequest:
    """A request to the Telegram gateway's webhook; ``chat`` and ``text`` when it is a private chat's update."""

    method: str
    secret: str | None
    content_type: str | None
    body: bytes
    chat: int | None = None
    text: str | None = None


CHATS = itertools.count(int(time.time()) % 100000 * 10000 + 5_000_000)


@st.composite
def telegram_requests(draw: st.DrawFn, secret: str) -> TelegramRequest:
    method = draw(st.sampled_from(["POST"] * 12 + ["GET", "PUT"]))
    sent = draw(st.sampled_from([secret] * 10 + [None, "", secret + "x", "forged"]))
    content_type = draw(st.sampled_from(["application/json"] * 10 + ["application/json; charset=utf-8", "text/plain",
                                                                      None]))
    kind = draw(st.sampled_from(["text", "text", "text", "button", "group", "malformed", "raw"]))
    chat = next(CHATS)
    if kind in ("text", "button", "group"):
        text = draw(texts)
        language = draw(st.sampled_from(["en", "zh"]))
        update = callback_update(chat, text) if kind == "button" else \
            text_update(-chat if kind == "group" else chat, text, language)
        update["update_id"] = next(CHATS)
        return TelegramRequest(method, sent, content_type, json.dumps(update).encode(),
                               chat if kind != "group" else None, text)
    if kind == "malformed":
        broken = draw(st.sampled_from([
            {}, [], {"update_id": "x"}, {"update_id": 1, "message": 5},
            {"update_id": 2, "message": {"message_id": 1, "date": "x", "chat": {"id": chat, "type": "private"}}},
            {"update_id": 3, "callback_query": {"id": "q", "from": None, "chat_instance": "c", "data": 5}}]))
        return TelegramRequest(method, sent, content_type, json.dumps(broken).encode())
    return TelegramRequest(method, sent, content_type, draw(raw_bodies))


def test_the_telegram_webhook_checks_its_secret_and_answers_every_update(servers: Servers,
                                                                         bot_api: TelegramBotApi) -> None:
    secret = servers.telegram_secret
    refused: list[int] = []

    def to_chat(chat: int) -> list[dict[str, Any]]:
        return [m for m in bot_api.sent if m.get("chat_id") == chat]

    @abuse(50)
    @given(telegram_requests(secret))
    def check(request: TelegramRequest) -> None:
        before = servers.stored()
        headers = {} if request.content_type is None else {"Content-Type": request.content_type}
        if request.secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = request.secret
        answer = call(request.method, servers.telegram, request.body, headers)
        if request.method != "POST":
            assert answer.status == 405
        elif request.content_type != "application/json" or request.secret != secret:
            assert answer.status == 403
        else:
            try:
                json.loads(request.body.decode("utf-8"))
                assert answer.status in (200, 400), answer
            except (ValueError, RecursionError):
                assert answer.status == 400, answer
        if answer.status != 200:
            assert servers.stored() == before
        if request.chat is not None and answer.status != 200:
            refused.append(request.chat)
        elif request.chat is not None and (request.text or not request.body.startswith(b'{"callback_query"')):
            deadline = time.monotonic() + 30
            while not to_chat(request.chat) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.3)
            replies = [str(m.get("text") or "") for m in to_chat(request.chat)]
            assert replies and all(replies), request
            assert_no_failure(replies)
            if request.text and expects_chinese(request.text) and len(clean(request.text)) <= 2000:
                assert chinese(" ".join(replies)), (request.text, replies)
        servers.assert_up()

    check()
    time.sleep(2.0)
    assert [chat for chat in refused if to_chat(chat) or servers.tracker_events(f"tg:{chat}")] == []




@dataclass(frozen=True)
class WeChatRequest:
    """A request to the WeChat gateway: how it is signed, its body, and the follower's text if it is a message."""

    method: str
    signing: str
    body: bytes
    text: str | None = None
    openid: str = ""


@st.composite
def wechat_requests(draw: st.DrawFn, follower: Callable[[], WeChatFollower]) -> WeChatRequest:
    method = draw(st.sampled_from(["POST"] * 12 + ["GET", "PUT"]))
    signing = draw(st.sampled_from(["valid"] * 10 + ["wrong", "missing", "stale", "aes", "nan"]))
    who = follower()
    kind = draw(st.sampled_from(["text", "text", "text", "event", "media", "malformed", "raw", "big"]))
    text = None
    if kind == "text":
        text = draw(texts)
        xml = who.xml("text", {"Content": text})
    elif kind == "event":
        xml = who.xml("event", {"Event": draw(st.sampled_from(["subscribe", "unsubscribe", "CLICK", "SCAN", "", "x"]))})
    elif kind == "media":
        xml = who.xml(draw(st.sampled_from(["image", "voice", "location", "link", "video", "unknown"])),
                      {"MediaId": draw(st.sampled_from(INJECTIONS)), "Recognition": draw(st.sampled_from(["", "你好"]))})
    elif kind == "malformed":
        xml = draw(st.sampled_from([
            "", "not xml", "<xml>", "<xml></xml>", "<xml><MsgType>text</MsgType><Content>hi</Content></xml>",
            f"<xml><FromUserName>{who.openid}</FromUserName><CreateTime>x</CreateTime><MsgType>text</MsgType>"
            "<Content>hi</Content></xml>",
            f"<xml><FromUserName>{who.openid}</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType>"
            "<Content>hi</Content><MsgId>abc</MsgId></xml>",
            f"<!DOCTYPE x [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;'>]><xml><FromUserName>"
            f"{who.openid}</FromUserName><MsgType>text</MsgType><Content>&b;</Content></xml>",
            f"<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><xml><FromUserName>{who.openid}</FromUserName>"
            "<CreateTime>1</CreateTime><MsgType>text</MsgType><Content>&e;</Content><MsgId>7</MsgId></xml>"]))
    elif kind == "big":
        xml = who.xml("text", {"Content": "长" * 400_000})
    else:
        return WeChatRequest(method, signing, draw(raw_bodies), openid=who.openid)
    return WeChatRequest(method, signing, xml.encode("utf-8", "surrogatepass"), text, who.openid)


def wechat_query(token: str, signing: str, echo: str) -> str:
    timestamp, nonce = str(int(time.time()) - (3600 if signing == "stale" else 0)), uuid.uuid4().hex[:10]
    if signing == "nan":
        timestamp = "nan"
    query = {"signature": wechat_signature(token, timestamp, nonce) if signing != "wrong" else "f" * 40,
             "timestamp": timestamp, "nonce": nonce, "echostr": echo}
    if signing == "aes":
        query.update(encrypt_type="aes", msg_signature="0" * 40)
    return "" if signing == "missing" else urlencode(query)


def wechat_text(text: str) -> WeChatRequest:
    """A new follower's signed text message."""
    follower = WeChatFollower("", "", openid=f"o{uuid.uuid4().hex[:27]}")
    return WeChatRequest("POST", "valid", follower.xml("text", {"Content": text}).encode(), text, follower.openid)


def test_the_wechat_gateway_checks_signatures_and_answers_every_message(servers: Servers) -> None:
    def follower() -> WeChatFollower:
        return WeChatFollower(servers.wechat, servers.wechat_token, openid=f"o{uuid.uuid4().hex[:27]}")

    @abuse(50)
    @given(wechat_requests(follower))
    @example(wechat_text("发布需求：我们需要一种]]><xml>抗干扰的探针夹具，用于异常报文测试"))
    def check(request: WeChatRequest) -> None:
        before = servers.stored()
        echo = uuid.uuid4().hex
        url = f"{servers.wechat}?{wechat_query(servers.wechat_token, request.signing, echo)}"
        answer = call(request.method, url, request.body if request.method == "POST" else None,
                      {"Content-Type": "text/xml"})
        if request.method == "GET":
            assert (answer.status, answer.body) == ((200, echo.encode()) if request.signing in ("valid", "aes") else
                                                    (403, b"forbidden"))
            return
        if request.method != "POST":
            assert answer.status == 405
        elif len(request.body) > 64 * 1024:
            assert answer.status == 413
        elif request.signing != "valid":
            assert answer.status == 403
        else:
            assert answer.status in (200, 400), answer
            assert b"root:" not in answer.body
        reply = answer.body.decode("utf-8")
        if answer.status == 200 and reply != "success":
            content = ElementTree.fromstring(reply).findtext("Content")
            assert content, reply
            assert_no_failure([content])
            if request.text is not None and expects_chinese(request.text):
                assert chinese(content), (request.text, content)
        if request.text is not None and request.text.strip() and not XML_FORBIDDEN.search(request.text) \
                and request.signing == "valid" and request.method == "POST" and len(request.body) <= 64 * 1024:
            assert answer.status == 200 and reply != "success", (request.text, reply)
        if answer.status != 200:
            assert servers.tracker_events(f"wx:{request.openid}") == 0
            assert servers.stored() == before
        servers.assert_up()

    check()


def test_the_gateway_route_needs_the_gateway_secret_and_a_messenger_sender(servers: Servers) -> None:
    url = f"{servers.rasa}{GATEWAY_PATH}"
    secret = servers.stack.gateway_secret

    @abuse(30)
    @given(st.sampled_from([secret, secret, None, "", secret + "x", "forged"]),
           st.sampled_from(["tg:", "wx:", "", "web:", "org:"]), texts, st.sampled_from(["POST", "POST", "GET"]))
    def check(sent_secret: str | None, prefix: str, text: str, method: str) -> None:
        before = servers.stored()
        sender = f"{prefix}{new_id('gateway')}"
        headers = dict(JSON_HEADERS)
        if sent_secret is not None:
            headers[GATEWAY_SECRET_HEADER] = sent_secret
        body = json.dumps({"sender": sender, "message": text, "input_channel": "telegram"}).encode()
        answer = call(method, url, body, headers)
        if method != "POST":
            assert answer.status == 405
        elif sent_secret != secret:
            assert answer.status == 403
        elif prefix not in ("tg:", "wx:"):
            assert answer.status == 400
        else:
            replies = rest_texts(answer)
            assert_no_failure(replies)
            if expects_chinese(text) and len(clean(text)) <= 2000:
                assert chinese(" ".join(replies)), (text, replies)
        if answer.status != 200:
            assert servers.tracker_events(sender) == 0
            assert servers.stored() == before
        servers.assert_up()

    check()


# ------------------------------------------------------------------------------------------ the action server

DOMAIN = {"version": "3.1", "intents": ["greet"], "entities": [], "slots": {}, "responses": {}, "actions": []}
ACTIONS = ("action_command", "action_handle_description", "action_contact_match", "action_post_listing",
           "action_list_threads", "action_refine_search", "action_show_more", "action_more_like_this",
           "action_not_relevant", "action_reply_smalltalk", "action_fallback")


@st.composite
def action_calls(draw: st.DrawFn) -> tuple[bytes, dict[str, str]]:
    """An action request as the Rasa server would send it, with hostile parts, or something else entirely."""
    kind = draw(st.sampled_from(["call", "call", "call", "raw", "deflate"]))
    if kind == "raw":
        return draw(st.one_of(raw_bodies, json_values.map(lambda v: json.dumps(v).encode()))), JSON_HEADERS
    entities = st.lists(st.one_of(st.fixed_dictionaries({"entity": st.sampled_from(ENTITIES),
                                                         "value": st.one_of(hostile_ids, st.sampled_from(COMMANDS))}),
                                  json_values), max_size=3)
    message = st.fixed_dictionaries({}, optional={"text": st.one_of(texts, json_values), "entities": st.one_of(
        entities, json_values), "intent": st.one_of(st.fixed_dictionaries({"name": st.sampled_from(INTENTS)}),
                                                    json_values), "message_id": json_values})
    tracker = st.fixed_dictionaries({}, optional={
        "sender_id": st.one_of(st.builds(lambda p: p + new_id("action"),
                                         st.sampled_from(("",) + RESERVED + INJECTIONS)), json_values),
        "slots": st.one_of(st.dictionaries(st.sampled_from(["language", "search", "shown_ids", "active_thread",
                                                            "desk_item", "post_pending"]), json_values), json_values),
        "latest_message": st.one_of(message, json_values), "events": st.one_of(st.lists(json_values, max_size=3),
                                                                                 json_values)})
    call_body = draw(st.fixed_dictionaries({}, optional={
        "next_action": st.one_of(st.sampled_from(ACTIONS), json_values), "tracker": st.one_of(tracker, json_values),
        "domain": st.one_of(st.just(DOMAIN), json_values), "version": st.one_of(st.just("3.6.21"), json_values)}))
    raw = json.dumps(call_body).encode()
    if kind == "deflate":
        return draw(st.sampled_from([zlib.compress(raw), raw, b"\x78\x9c garbage"])), {**JSON_HEADERS,
                                                                                      "Content-Encoding": "deflate"}
    return raw, JSON_HEADERS


def test_the_action_server_refuses_malformed_action_requests_with_a_4xx(servers: Servers) -> None:
    url = f"{servers.actions}/webhook"

    @abuse(50)
    @given(action_calls(), st.sampled_from(["POST"] * 6 + ["GET", "PUT"]))
    @example((b"[1, 2]", JSON_HEADERS), "POST")
    @example((json.dumps({"next_action": ["x"]}).encode(), JSON_HEADERS), "POST")
    @example((json.dumps({"next_action": "action_command", "domain": DOMAIN, "version": 3,
                          "tracker": {"sender_id": "abuse-x", "latest_message": {"text": 5}}}).encode(), JSON_HEADERS),
             "POST")
    def check(request: tuple[bytes, dict[str, str]], method: str) -> None:
        body, headers = request
        before = servers.stored()
        answer = call(method, url, body, headers)
        assert answer.status < 500, (answer, body[:300])
        if method != "POST":
            assert answer.status == 405
        elif answer.status == 200:
            result = answer.json()
            assert isinstance(result["events"], list) and isinstance(result["responses"], list)
        else:
            assert servers.stored() == before
        servers.assert_up()

    check()


# ------------------------------------------------------------------------------------- inboxes and thread API

def valid_wait(wait: Any) -> bool:
    return isinstance(wait, (int, float)) and not isinstance(wait, bool)


def test_the_rest_inbox_and_the_action_servers_inbox_refuse_what_is_not_theirs(servers: Servers) -> None:
    secret = servers.stack.push_secret
    waits = st.one_of(st.floats(-1e6, 0.3), st.just(0), json_values.filter(lambda v: not isinstance(v, (int, float))
                                                                           or isinstance(v, bool)))
    senders = st.one_of(st.builds(lambda p: p + new_id("inbox"), st.sampled_from(("",) + RESERVED + INJECTIONS)),
                        json_values)
    bodies = st.one_of(st.builds(lambda s, w: json.dumps({"sender": s, "wait": w}).encode(), senders, waits),
                       st.builds(lambda s: json.dumps({"sender": s}).encode(), senders), raw_bodies)

    @abuse(40)
    @given(bodies, st.sampled_from(["rasa", "rasa", "actions"]), st.sampled_from([secret, None, "forged"]))
    def check(body: bytes, where: str, sent_secret: str | None) -> None:
        if where == "rasa":
            answer = call("POST", f"{servers.rasa}/webhooks/rest/inbox", body, JSON_HEADERS)
        else:
            headers = dict(JSON_HEADERS) if sent_secret is None else {**JSON_HEADERS, SECRET_HEADER: sent_secret}
            answer = call("POST", f"{servers.actions}/inbox", body, headers)
        assert answer.status in (200, 400, 403), answer
        if where == "actions" and sent_secret != secret:
            assert answer.status == 403
        if answer.status == 200:
            assert isinstance(answer.json()["messages"], list)
        try:
            asked = json.loads(body)
        except (ValueError, RecursionError):
            asked = None
        if where == "rasa" and isinstance(asked, dict) and isinstance(asked.get("sender"), str) \
                and asked["sender"].startswith(RESERVED) and valid_wait(asked.get("wait", 0)):
            assert answer.status == 403
        servers.assert_up()

    check()


def test_the_thread_api_answers_every_request_with_a_4xx_or_its_own_data(servers: Servers) -> None:
    def quoted(value: Any) -> str:
        return quote(str(value), safe="")

    paths = st.one_of(st.just("/api/threads"), st.just("/api"), st.just("/api/threads/"),
                      st.builds(lambda i: f"/api/threads/{quoted(i)}", hostile_ids),
                      st.builds(lambda i: f"/api/threads/{quoted(i)}/messages", hostile_ids),
                      st.builds(lambda i: f"/api/threads/{quoted(i)}/messages/x", hostile_ids))
    sessions = st.one_of(st.none(), st.builds(lambda: f"web:{uuid.uuid4().hex}"),
                         st.sampled_from(["web:short", "org:eastlake-medical-university--demo-", "tg:1",
                                          "web:" + "a" * 200, " web:0123456789abcdef0123 "]),
                         st.sampled_from(INJECTIONS).map(header_text), st.text(max_size=30).map(header_text))
    bodies = st.one_of(st.builds(lambda b, k: json.dumps({"body": b, "client_key": k}).encode(),
                                 st.one_of(texts, json_values), st.one_of(st.text(max_size=20), json_values)),
                       raw_bodies, st.just(b"[" * 9000 + b"]" * 9000))
    methods = st.sampled_from(["GET", "GET", "POST", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"])

    @abuse(50)
    @given(methods, paths, sessions, bodies, st.sampled_from([{}, {}, {"Transfer-Encoding": "chunked"}]))
    @example("POST", "/api/threads/1/messages", f"web:{uuid.uuid4().hex}", b"[" * 5000 + b"]" * 5000, {})
    def check(method: str, path: str, session: str | None, body: bytes, extra: dict[str, str]) -> None:
        before = servers.stored()
        headers = dict(extra) if method == "POST" else {}
        if session is not None:
            headers["X-Session-Id"] = session
        answer = call(method, f"{servers.web}{path}", body if method == "POST" else None, headers)
        assert answer.status in (200, 400, 401, 404, 405, 409, 411, 413), answer
        if method != "HEAD":
            decoded = answer.json() if answer.headers.get("content-type", "").startswith("application/json") else None
            if answer.status >= 400 and decoded is not None:
                assert isinstance(decoded.get("error"), str)
            if answer.status == 200 and path == "/api/threads":
                assert decoded == {"threads": []}
        assert servers.stored() == before
        servers.assert_up()

    check()


# ------------------------------------------------------------------------------------------------ statistics

def test_statistics_answer_only_the_operator_and_every_query_clearly(servers: Servers) -> None:
    token = servers.stack.admin_token
    authorizations = st.sampled_from([f"Bearer {token}", f"Bearer {token}", f"bearer  {token} ", f"Bearer {token}x",
                                      "Bearer", "Bearer ", f"Basic {token}", token, "", None, "Bearer '); DROP--"])
    values = st.one_of(st.sampled_from(["2026-01-01", "9999-12-31", "0001-01-01", "2026-13-01", "zh", "en", "xx",
                                        "anhui", "new_energy", "\x00", "%ff", "9" * 2000]),
                       st.sampled_from(INJECTIONS), st.text(max_size=20))
    queries = st.one_of(st.builds(lambda pairs: urlencode(pairs), st.lists(st.tuples(
        st.sampled_from(["since", "until", "field", "region", "lang", "other", ""]), values), max_size=4)),
        st.sampled_from(["%ff=1", "since=%zz", "&&&", "=", "since=2026-01-01&since=2026-01-02", "a" * 1001,
                         "until=9999-12-31", "since=0001-01-01&until=9999-12-30", "field=%00"]))

    @abuse(40)
    @example("GET", "/stats", "until=9999-12-31", f"Bearer {token}")
    @given(st.sampled_from(["GET", "GET", "GET", "HEAD", "POST", "PUT", "DELETE"]),
           st.sampled_from(["/stats", "/stats.csv", "/admin/stats"]), queries, authorizations)
    def check(method: str, path: str, query: str, authorization: str | None) -> None:
        headers = {} if authorization is None else {"Authorization": header_text(authorization)}
        answer = call(method, f"{servers.web}{path}?{query}", b"" if method in ("POST", "PUT") else None, headers)
        scheme, _, sent = (authorization or "").strip().partition(" ")
        accepted = scheme.lower() == "bearer" and sent.strip() == token
        if method not in ("GET", "HEAD"):
            assert answer.status == 405
        elif path == "/admin/stats":
            assert answer.status == 200
        elif not accepted:
            assert answer.status == 401
        else:
            assert answer.status in (200, 400), answer
            if method == "GET" and answer.status == 400:
                assert isinstance(answer.json()["error"], str)
            if method == "GET" and answer.status == 200 and path == "/stats":
                assert isinstance(answer.json()["filter"], dict)
        servers.assert_up()

    check()
    servers.assert_tables()
