"""The WeChat gateway: the official account's server URL, relaying followers' messages to Rasa.

``python -m channels.wechat_gateway`` (started by ``make run`` when ``WECHAT_TOKEN`` is set)
serves ``/wechat``:

* ``GET`` answers WeChat's URL verification: the ``echostr`` when ``signature`` is the SHA-1
  of the sorted token, ``timestamp`` and ``nonce``; 403 otherwise.
* ``POST`` checks that signature on every request (403, nothing processed, when it is wrong
  or the timestamp is more than five minutes off) and, in safe mode (``WECHAT_AES_KEY`` set,
  ``encrypt_type=aes``), the message signature and decryption; then parses the message with
  wechatpy and answers with the passive XML reply (encrypted in safe mode).

A follower is the Rasa sender ``wx:<openid>``. Text (and voice with WeChat's recognition)
becomes a turn; the reply "1", "2" ... stands for the numbered choices last shown; a new
follower (``subscribe``) is welcomed in Chinese; pictures, video, locations and links get a
polite "text only" answer. WeChat drops a reply after 5 s and retries the request three
times: a message is recognised by its MsgId, so a retry waits for the same turn and gets the
same reply, and the turn runs once. When the turn takes longer than ``WECHAT_PASSIVE_SECONDS``
(4 s), the passive reply says it is being worked on and the answer follows through the
customer-service API (``channels.wechat``); so does the part of an answer over the passive
reply's size.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sanic import Sanic, response
from sanic.request import Request
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

from channels.gateway import GATEWAY_SECRET_ENV, WECHAT_PREFIX
from channels.push import PushMessage
from channels.replies import utf8_chunks, wechat_text
from channels.turns import RasaTurns
from channels.wechat import DEFAULT_API_BASE, ChannelState, CustomerService
from matchmaker.delivery import PermanentChannelError, TransientChannelError
from matchmaker.messages import say
from nlu.language import detect_language

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
SIGNATURE_WINDOW_SECONDS = 300.0
DEDUPE_SECONDS = 60.0
SEND_WAITS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
NON_TEXT_TYPES = ("image", "video", "shortvideo", "location", "link", "voice", "file", "music", "news")
XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


@dataclass(frozen=True)
class WeChatConfig:
    """The official account's settings, from the environment."""

    token: str
    rasa_url: str
    gateway_secret: str
    app_id: str = ""
    app_secret: str = ""
    aes_key: str = ""
    api_base: str = DEFAULT_API_BASE
    passive_seconds: float = 4.0
    state_path: Path = Path("var/wechat.db")

    @classmethod
    def from_env(cls, env: Mapping[str, str], var_dir: Path) -> WeChatConfig:
        """The configuration in ``env``.

        Raises:
            ValueError: when the token or the gateway secret is missing, or safe mode lacks the app id.
        """
        token, secret = env.get("WECHAT_TOKEN", ""), env.get(GATEWAY_SECRET_ENV, "")
        if not token or not secret:
            raise ValueError(f"WECHAT_TOKEN and {GATEWAY_SECRET_ENV} must be set")
        config = cls(token=token, rasa_url=env.get("MATCHMAKER_RASA_URL", "http://127.0.0.1:5005"),
                     gateway_secret=secret, app_id=env.get("WECHAT_APP_ID", ""),
                     app_secret=env.get("WECHAT_APP_SECRET", ""), aes_key=env.get("WECHAT_AES_KEY", ""),
                     api_base=env.get("WECHAT_API_BASE") or DEFAULT_API_BASE,
                     passive_seconds=float(env.get("WECHAT_PASSIVE_SECONDS", "4.0")),
                     state_path=var_dir / "wechat.db")
        if config.aes_key and not config.app_id:
            raise ValueError("safe mode (WECHAT_AES_KEY) needs WECHAT_APP_ID")
        return config

    def __repr__(self) -> str:
        return f"WeChatConfig(rasa_url={self.rasa_url!r}, safe_mode={bool(self.aes_key)}, <secrets hidden>)"


def cdata_text(text: str) -> str:
    """``text`` as wechatpy may put it in a CDATA section: characters XML forbids dropped, ``]]>`` split.

    An answer can quote what others wrote (a listing's title), so it may hold either.
    """
    return XML_FORBIDDEN.sub("", text).replace("]]>", "]]]]><![CDATA[>")


@dataclass
class Turn:
    """One follower message being answered (kept a minute, so WeChat's retries find it)."""

    task: asyncio.Task[list[PushMessage]]
    language: str
    started: float
    by_api: bool = False
    passive: str | None = None


class WeChatGateway:
    """Turns WeChat's webhook requests into Rasa turns and passive replies."""

    def __init__(self, config: WeChatConfig, turns: RasaTurns, service: CustomerService | None,
                 state: ChannelState, clock: Callable[[], float] = time.time) -> None:
        """Serve ``config``'s account; ``service`` sends what does not fit the passive reply (none: dropped)."""
        self._config = config
        self._turns = turns
        self._service = service
        self._state = state
        self._clock = clock
        self._crypto = WeChatCrypto(config.token, config.aes_key, config.app_id) if config.aes_key else None
        self._pending: dict[str, Turn] = {}
        self._background: set[asyncio.Task[None]] = set()

    def verify(self, args: Mapping[str, str]) -> str | None:
        """The ``echostr`` answering WeChat's URL verification, or ``None`` for a forged request."""
        return args.get("echostr", "") if self.signed(args) else None

    def signed(self, args: Mapping[str, str]) -> bool:
        """Whether the request's ``signature`` is the token's and its timestamp is recent."""
        signature, timestamp, nonce = args.get("signature", ""), args.get("timestamp", ""), args.get("nonce", "")
        try:
            check_signature(self._config.token, signature, timestamp, nonce)
        except InvalidSignatureException:
            return False
        try:
            return abs(self._clock() - float(timestamp)) <= SIGNATURE_WINDOW_SECONDS
        except ValueError:
            return False

    async def receive(self, args: Mapping[str, str], body: bytes) -> tuple[int, str]:
        """The status and body answering one ``POST /wechat``."""
        if not self.signed(args):
            return 403, "forbidden"
        safe = args.get("encrypt_type", "raw") == "aes"
        if safe != (self._crypto is not None):
            return 403, "forbidden"
        xml = body.decode("utf-8", errors="replace")
        if self._crypto is not None:
            try:
                xml = self._crypto.decrypt_message(xml, args.get("msg_signature", ""), args["timestamp"], args["nonce"])
            except (InvalidSignatureException, InvalidAppIdException):
                return 403, "forbidden"
            except Exception:
                return 400, "bad request"
        try:
            message = parse_message(xml)
            if message is None or not message.source:
                return 400, "bad request"
            _ = (message.create_time, getattr(message, "id", None))  # converted when read: a malformed one fails here
        except Exception:
            return 400, "bad request"
        text = await self.answer(message)
        if text is None:
            return 200, "success"
        reply = TextReply(content=cdata_text(text), message=message).render()
        if self._crypto is not None:
            reply = self._crypto.encrypt_message(reply, args["nonce"], args["timestamp"])
        return 200, reply

    async def answer(self, message: Any) -> str | None:
        """The passive reply's text for a parsed message (``None``: answer "success", nothing shown)."""
        kind = getattr(message, "type", "unknown")
        identity = f"{WECHAT_PREFIX}{message.source}"
        if kind == "event":
            return self._event(message, identity)
        text = getattr(message, "content", None) if kind == "text" else getattr(message, "recognition", None)
        if not isinstance(text, str) or not text.strip():
            return say("text_only", "zh") if kind in NON_TEXT_TYPES or kind == "unknown" else None
        key = f"msg:{getattr(message, 'id', None) or f'{message.source}:{message.create_time}'}"
        return await self._turn_reply(key, identity, text)

    def _event(self, message: Any, identity: str) -> str | None:
        event = str(getattr(message, "event", ""))
        if event in ("subscribe", "subscribe_scan"):
            return say("wechat_welcome", "zh")
        return None

    async def _turn_reply(self, key: str, identity: str, text: str) -> str | None:
        """Run (once per ``key``) the turn and wait for it up to the passive deadline."""
        now = self._clock()
        self._forget_old(now)
        turn = self._pending.get(key)
        if turn is None:
            language = detect_language(text, default="zh")
            turn = Turn(asyncio.ensure_future(self._run(identity, self._typed(identity, text), language)),
                        language, now)
            self._pending[key] = turn
        if turn.by_api:
            return None
        if turn.passive is not None:
            return turn.passive
        remaining = max(0.0, self._config.passive_seconds - (now - turn.started))
        try:
            messages = await asyncio.wait_for(asyncio.shield(turn.task), timeout=remaining)
        except TimeoutError:
            if turn.by_api or turn.passive is not None:
                return turn.passive
            turn.by_api = True
            self._later(self._send_when_done(identity, turn))
            return say("working_on_it", turn.language)
        if turn.by_api:
            return None
        if turn.passive is None:
            first, *rest = self._render(identity, messages, turn.language)
            turn.passive = first
            if rest:
                self._later(self._send_parts(identity, rest))
        return turn.passive

    def _typed(self, identity: str, text: str) -> str:
        """What the follower's text means: a number stands for the choice shown with it."""
        stripped = text.strip()
        if stripped.isdigit() and len(stripped) <= 2:
            payload = self._state.choice(identity, int(stripped))
            if payload is not None:
                return payload
        return text

    async def _run(self, identity: str, text: str, language: str) -> list[PushMessage]:
        return await self._turns.turn(identity, text, language, {"channel": "wechat"})

    def _render(self, identity: str, messages: list[PushMessage], language: str) -> list[str]:
        text, payloads = wechat_text(messages, language)
        self._state.remember_choices(identity, payloads)
        return utf8_chunks(text)

    async def _send_when_done(self, identity: str, turn: Turn) -> None:
        messages = await turn.task
        await self._send_parts(identity, self._render(identity, messages, turn.language))

    async def _send_parts(self, identity: str, parts: list[str]) -> None:
        """Send ``parts`` in order with the customer-service API, retrying transient failures."""
        if self._service is None:
            logger.error("an answer to %s did not fit the passive reply and WECHAT_APP_ID/SECRET are not set",
                         identity)
            return
        for part in parts:
            for wait in (*SEND_WAITS, None):
                try:
                    await asyncio.to_thread(self._service.send_text, identity, part)
                    break
                except PermanentChannelError as error:
                    logger.warning("WeChat refused an answer to %s: %s", identity, error)
                    return
                except TransientChannelError as error:
                    if wait is None:
                        logger.error("an answer to %s was not delivered: %s", identity, error)
                        return
                    await asyncio.sleep(wait)

    def _later(self, coroutine: Any) -> None:
        task = asyncio.ensure_future(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _forget_old(self, now: float) -> None:
        for key in [key for key, turn in self._pending.items()
                    if now - turn.started > DEDUPE_SECONDS and turn.task.done()]:
            del self._pending[key]

    async def settle(self) -> None:
        """Wait for the answers still being sent (at shutdown)."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)


def create_app(config: WeChatConfig, state: ChannelState, service: CustomerService | None = None) -> Sanic:
    """The gateway's Sanic app."""
    app = Sanic("wechat_gateway")
    app.config.REQUEST_MAX_SIZE = MAX_BODY_BYTES
    holder: dict[str, WeChatGateway] = {}

    @app.before_server_start
    async def start(_app: Sanic) -> None:
        holder["gateway"] = WeChatGateway(config, RasaTurns(config.rasa_url, config.gateway_secret, "wechat"),
                                          service, state)

    @app.after_server_stop
    async def stop(_app: Sanic) -> None:
        await holder["gateway"].settle()

    def query(request: Request) -> dict[str, str]:
        return {key: str(request.args.get(key, "")) for key in request.args}

    @app.get("/wechat")
    async def verify(request: Request) -> response.HTTPResponse:
        echo = holder["gateway"].verify(query(request))
        return response.text(echo, status=200) if echo is not None else response.text("forbidden", status=403)

    @app.post("/wechat")
    async def receive(request: Request) -> response.HTTPResponse:
        status, body = await holder["gateway"].receive(query(request), request.body or b"")
        return response.text(body, status=status, content_type="application/xml" if body.startswith("<")
                             else "text/plain")

    @app.get("/health")
    async def health(_request: Request) -> response.HTTPResponse:
        return response.json({"status": "ok", "safe_mode": bool(config.aes_key)})

    return app


def customer_service(config: WeChatConfig, state: ChannelState) -> CustomerService | None:
    """The customer-service sender, when the app id and secret are set."""
    if not config.app_id or not config.app_secret:
        logger.warning("WECHAT_APP_ID / WECHAT_APP_SECRET not set: answers slower than the passive reply are "
                       "not delivered and threads are not pushed to WeChat")
        return None
    return CustomerService(config.app_id, config.app_secret, state, config.api_base)


def main() -> None:
    """Serve the gateway from the environment."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    from matchmaker.settings import load_settings

    config = WeChatConfig.from_env(os.environ, load_settings().var_dir)
    state = ChannelState(config.state_path)
    create_app(config, state, customer_service(config, state)).run(host=args.host, port=args.port, single_process=True,
                                                     access_log=False, motd=False)


if __name__ == "__main__":
    main()
