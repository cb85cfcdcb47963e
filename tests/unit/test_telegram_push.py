"""The Telegram push channel, with the real python-telegram-bot, against a local Bot API stand-in.

The stand-in answers like the Bot API does: ``{"ok": true, "result": ...}``, 429 with
``parameters.retry_after``, 403 "Forbidden: bot was blocked by the user", 400 "Bad Request:
chat not found", 502 from a proxy.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from channels.telegram import TelegramPushChannel, chat_id_of, split_text
from matchmaker.delivery import Delivery, PermanentChannelError, TransientChannelError

TOKEN = "123456:TEST-token"


class BotApi:
    """What the stand-in was sent, and the answers it gives next (a queue of (status, body))."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.answers: list[tuple[int, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def answer(self, method: str, fields: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if method == "getMe":
            return 200, {"ok": True, "result": {"id": 1, "is_bot": True, "first_name": "Matchmaker",
                                                "username": "matchmaker_bot"}}
        with self.lock:
            status, body = self.answers.pop(0) if self.answers else (200, {})
            if status == 200:
                self.sent.append(fields)
                body = {"ok": True, "result": {"message_id": len(self.sent), "date": int(time.time()),
                                               "chat": {"id": int(fields["chat_id"]), "type": "private"},
                                               "text": fields.get("text", "")}}
        return status, body


def fields_of(content_type: str, raw: bytes) -> dict[str, Any]:
    """The request's parameters, however python-telegram-bot encoded them."""
    if content_type.startswith("application/json"):
        return dict(json.loads(raw or b"{}"))
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
        return {part.get_param("name", header="content-disposition"): part.get_content()
                for part in message.iter_parts()}
    return {key: values[0] for key, values in parse_qs(raw.decode()).items()}


@pytest.fixture()
def bot_api() -> Iterator[tuple[BotApi, str]]:
    api = BotApi()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            method = self.path.rsplit("/", 1)[-1]
            if not self.path.startswith(f"/bot{TOKEN}/"):
                status, body = 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
            else:
                status, body = api.answer(method, fields_of(self.headers.get("Content-Type", ""), raw))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api, f"http://127.0.0.1:{server.server_address[1]}/bot"
    finally:
        server.shutdown()


def delivery(body: str = "hello", seq: int = 1) -> Delivery:
    return Delivery(id=seq, thread_id=3, seq=seq, identity="tg:4242", channel="telegram", kind="text", body=body,
                    data={}, from_role="owner", attempts=0, created_at=0.0)


def render(item: Delivery) -> list[dict[str, Any]]:
    return [{"text": item.body, "buttons": [{"title": "Open thread #3", "payload": '/command{"command": "open"}'}]}]


def channel(base: str) -> TelegramPushChannel:
    return TelegramPushChannel(TOKEN, render, api_base=base, timeout=5)


def test_a_delivery_becomes_a_message_with_an_inline_keyboard(bot_api: tuple[BotApi, str]) -> None:
    api, base = bot_api
    push = channel(base)
    push.push("tg:4242", delivery("Thread #3 · owner: hello"))
    push.close()
    assert len(api.sent) == 1 and api.sent[0]["text"] == "Thread #3 · owner: hello"
    assert int(api.sent[0]["chat_id"]) == 4242
    markup = api.sent[0]["reply_markup"]
    markup = json.loads(markup) if isinstance(markup, str) else markup
    assert markup["inline_keyboard"][0][0]["callback_data"] == '/command{"command": "open"}'


def test_long_texts_are_split_at_the_limit_with_the_keyboard_on_the_last_part(bot_api: tuple[BotApi, str]) -> None:
    api, base = bot_api
    push = channel(base)
    text = "\n".join(f"line {n} " + "x" * 90 for n in range(100))
    push.push("tg:4242", delivery(text))
    push.close()
    assert len(api.sent) == 3 and all(len(part["text"]) <= 4096 for part in api.sent)
    assert "".join(part["text"] for part in api.sent).replace("\n", "") == text.replace("\n", "")
    assert [bool(part.get("reply_markup")) for part in api.sent] == [False, False, True]


@pytest.mark.parametrize(("status", "body", "error"), [
    (429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 3",
           "parameters": {"retry_after": 3}}, TransientChannelError),
    (502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}, TransientChannelError),
    (403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"},
     PermanentChannelError),
    (400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}, PermanentChannelError),
])
def test_bot_api_errors_map_to_retry_or_give_up(bot_api: tuple[BotApi, str], status: int, body: dict[str, Any],
                                                 error: type[Exception]) -> None:
    api, base = bot_api
    api.answers.append((status, body))
    push = channel(base)
    with pytest.raises(error):
        push.push("tg:4242", delivery())
    push.close()
    assert api.sent == []


def test_a_retry_after_a_partial_send_sends_only_the_rest(bot_api: tuple[BotApi, str]) -> None:
    api, base = bot_api
    api.answers += [(200, {}), (429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
                                      "parameters": {"retry_after": 1}})]
    push = channel(base)
    text = "a" * 4000 + "\n" + "b" * 4000
    with pytest.raises(TransientChannelError):
        push.push("tg:4242", delivery(text))
    push.push("tg:4242", delivery(text))
    push.close()
    assert [part["text"][0] for part in api.sent] == ["a", "b"]


def test_identities_and_splitting() -> None:
    assert chat_id_of("tg:-100123") == -100123
    with pytest.raises(PermanentChannelError):
        chat_id_of("web:abc")
    assert split_text("short") == ["short"]
    assert [len(p) for p in split_text("y" * 9000)] == [4096, 4096, 808]
