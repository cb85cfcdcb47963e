"""The WeChat official account's sending side: the customer-service message API, with wechatpy.

:class:`CustomerService` sends text to a follower (``wx:<openid>``) with wechatpy's
``WeChatClient``; its access token is kept in :class:`ChannelState` (a small SQLite file the
gateway and the action server share), so both use one token and refresh it once; wechatpy
fetches a new one when WeChat says the old one expired (40001 / 42001) and repeats the call.
WeChat's answers decide what happens to a push: system busy (-1), the API limit (45009), an
HTTP or network failure and a follower who has not written for 48 hours (45015) are
transient (the outbox retries; 45015 clears once the follower writes again); an
unknown openid (40003) or a follower who left (43004) is permanent.

:class:`WeChatPushChannel` is the outbox's adapter: a delivery becomes one short text with
numbered choices, which :class:`ChannelState` remembers so that the follower's "1" is the
first button. ``WECHAT_API_BASE`` points both at another API server.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import requests
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session import SessionStorage

from channels.gateway import WECHAT_PREFIX
from channels.push import PushMessage
from channels.replies import buttons_of, utf8_chunks, wechat_text
from matchmaker.delivery import Delivery, PermanentChannelError, TransientChannelError

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.weixin.qq.com/cgi-bin/"
PERMANENT_CODES = {40003: "not a follower's openid", 43004: "the follower unsubscribed"}
CHOICE_LIFETIME_SECONDS = 24 * 3600
Renderer = Callable[[Delivery], Sequence[Mapping[str, Any]]]

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at REAL)",
    "CREATE TABLE IF NOT EXISTS choices (identity TEXT PRIMARY KEY, payloads TEXT NOT NULL, updated_at REAL NOT NULL)",
)


class ChannelState:
    """Access tokens and numbered choices, in one SQLite file shared by the channel's processes."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        """Use (and create) the file at ``path``, on one connection shared by this process's threads."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        for statement in _SCHEMA:
            self._db.execute(statement)

    def _run(self, sql: str, values: tuple[Any, ...]) -> Any:
        """One statement; the first row of its result (``None`` when it has none)."""
        with self._lock:
            return self._db.execute(sql, values).fetchone()

    def get(self, key: str) -> str | None:
        """The value of ``key`` unless it expired."""
        row = self._run("SELECT value, expires_at FROM kv WHERE key = ?", (key,))
        if row is None or (row[1] is not None and row[1] <= self._clock()):
            return None
        return str(row[0])

    def put(self, key: str, value: str, ttl: float | None) -> None:
        """Keep ``value`` under ``key`` for ``ttl`` seconds (for ever when ``None``)."""
        expires = None if ttl is None else self._clock() + ttl
        self._run("INSERT OR REPLACE INTO kv (key, value, expires_at) VALUES (?, ?, ?)", (key, value, expires))

    def drop(self, key: str) -> None:
        """Forget ``key``."""
        self._run("DELETE FROM kv WHERE key = ?", (key,))

    def remember_choices(self, identity: str, payloads: Sequence[str]) -> None:
        """The numbered choices last shown to ``identity`` (a message without choices keeps the old ones)."""
        if not payloads:
            return
        self._run("INSERT OR REPLACE INTO choices (identity, payloads, updated_at) VALUES (?, ?, ?)",
                  (identity, json.dumps(list(payloads), ensure_ascii=False), self._clock()))

    def choice(self, identity: str, number: int) -> str | None:
        """The payload of choice ``number`` last shown to ``identity``, if it is recent and exists."""
        row = self._run("SELECT payloads, updated_at FROM choices WHERE identity = ?", (identity,))
        if row is None or row[1] < self._clock() - CHOICE_LIFETIME_SECONDS:
            return None
        payloads = json.loads(row[0])
        return str(payloads[number - 1]) if 1 <= number <= len(payloads) else None


class TokenStorage(SessionStorage):  # type: ignore[misc]
    """wechatpy's session storage on :class:`ChannelState`."""

    def __init__(self, state: ChannelState) -> None:
        """Keep tokens in ``state``."""
        self._state = state

    def get(self, key: str, default: Any = None) -> Any:
        """The stored value, or ``default``."""
        value = self._state.get(key)
        return default if value is None else value

    def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        """Store ``value`` for ``ttl`` seconds."""
        self._state.put(key, str(value), ttl)

    def delete(self, key: str) -> None:
        """Forget ``key``."""
        self._state.drop(key)


class PlatformClient(WeChatClient):  # type: ignore[misc]
    """wechatpy's client with the API base (token endpoint included) configurable."""

    def __init__(self, app_id: str, app_secret: str, api_base: str, session: SessionStorage, timeout: float) -> None:
        """Call the API at ``api_base`` (ending in ``/cgi-bin/``)."""
        super().__init__(app_id, app_secret, session=session, timeout=timeout)
        self.API_BASE_URL = api_base if api_base.endswith("/") else api_base + "/"

    def fetch_access_token(self) -> dict[str, Any]:
        """Fetch a token from this client's API base (wechatpy's own has the official host fixed)."""
        result: dict[str, Any] = self._fetch_access_token(
            url=f"{self.API_BASE_URL}token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret})
        return result


def channel_error(error: Exception) -> TransientChannelError | PermanentChannelError:
    """What a failed API call means for the outbox."""
    code = getattr(error, "errcode", None)
    if isinstance(code, int) and code in PERMANENT_CODES:
        return PermanentChannelError(f"WeChat refused ({code}): {PERMANENT_CODES[code]}")
    if isinstance(error, WeChatClientException):
        return TransientChannelError(f"WeChat answered {code if code is not None else 'an HTTP error'}: "
                                     f"{getattr(error, 'errmsg', '')}")
    return TransientChannelError(f"WeChat not reached: {type(error).__name__}")


class CustomerService:
    """Sends customer-service text messages to followers."""

    def __init__(self, app_id: str, app_secret: str, state: ChannelState, api_base: str = DEFAULT_API_BASE,
                 timeout: float = 10.0) -> None:
        """Send as the official account ``app_id``.

        Raises:
            ValueError: when the app id or secret is empty.
        """
        if not app_id or not app_secret:
            raise ValueError("the WeChat app id and app secret must not be empty")
        self._client = PlatformClient(app_id, app_secret, api_base, TokenStorage(state), timeout)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "CustomerService(<credentials hidden>)"

    def send_text(self, identity: str, text: str) -> None:
        """Send ``text`` to the follower of ``identity``.

        Raises:
            TransientChannelError: when it may work later.
            PermanentChannelError: when it never will.
        """
        openid = openid_of(identity)
        try:
            with self._lock:
                self._client.message.send_text(openid, text)
        except (WeChatClientException, requests.RequestException) as error:
            raise channel_error(error) from error


def openid_of(identity: str) -> str:
    """The openid of a ``wx:<openid>`` identity.

    Raises:
        PermanentChannelError: for an identity that is not a WeChat follower.
    """
    openid = identity[len(WECHAT_PREFIX):] if identity.startswith(WECHAT_PREFIX) else ""
    if not openid or len(openid) > 64:
        raise PermanentChannelError(f"not a WeChat identity: {identity!r}")
    return openid


class WeChatPushChannel:
    """Pushes deliveries to followers with the customer-service API."""

    name = "wechat"

    def __init__(self, service: CustomerService, state: ChannelState, render: Renderer,
                 language_of: Callable[[str], str]) -> None:
        """Render with ``render`` and send with ``service``; numbered choices are kept in ``state``."""
        self._service = service
        self._state = state
        self._render = render
        self._language_of = language_of
        self._sent_parts: dict[str, int] = {}

    def push(self, identity: str, delivery: Delivery) -> None:
        """Send ``delivery`` as short text; a retry after a partial send sends only the rest."""
        messages = [PushMessage(str(item.get("text", "")), buttons_of(item.get("buttons")))
                    for item in self._render(delivery)]
        text, payloads = wechat_text(messages, self._language_of(identity))
        parts = utf8_chunks(text)
        for index in range(self._sent_parts.get(delivery.key, 0), len(parts)):
            try:
                self._service.send_text(identity, parts[index])
            except PermanentChannelError:
                self._sent_parts.pop(delivery.key, None)
                raise
            self._sent_parts[delivery.key] = index + 1
        self._sent_parts.pop(delivery.key, None)
        self._state.remember_choices(identity, payloads)
