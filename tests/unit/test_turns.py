"""A messenger gateway's turn: the bot's messages, silence while a person has the user, politeness on failure."""

from __future__ import annotations

import asyncio
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from channels.replies import relayed_to_person
from channels.turns import RasaTurns


class _Rasa(BaseHTTPRequestHandler):
    reply: Any = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps(type(self).reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


@pytest.fixture()
def rasa_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Rasa)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _turn(url: str, reply: Any, language: str = "en") -> list[str]:
    _Rasa.reply = reply

    async def once() -> list[str]:
        turns = RasaTurns(url, "secret", "telegram", timeout=5)
        try:
            return [m.text for m in await turns.turn("tg:1", "hello", language)]
        finally:
            await turns.close()

    return asyncio.run(once())


def test_a_turn_handed_to_a_person_is_silent_and_an_empty_one_is_polite(rasa_url: str) -> None:
    handed = [{"recipient_id": "tg:1", "custom": {"handoff": "relayed", "item": 4}}]
    assert relayed_to_person(handed) and not relayed_to_person([{"text": "hi"}]) and not relayed_to_person("junk")
    assert _turn(rasa_url, handed) == []
    assert _turn(rasa_url, [{"text": "Hello!"}]) == ["Hello!"]
    assert _turn(rasa_url, [], "zh") == ["抱歉，匹配服务暂时不可用，请稍后再试。"]
