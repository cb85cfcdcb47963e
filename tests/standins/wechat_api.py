"""A local WeChat official-account API, close enough for the real wechatpy ``WeChatClient``, for tests and benchmarks.

``WeChatApi(app_id, app_secret).start()`` serves, under ``/cgi-bin/`` on 127.0.0.1:

* ``GET token?grant_type=client_credential&appid=..&secret=..`` -> ``{"access_token": ..., "expires_in": ...}``;
* ``POST message/custom/send?access_token=..`` (a customer-service message as UTF-8 JSON)
  -> ``{"errcode":0,"errmsg":"ok"}``;
* ``POST message/custom/typing?access_token=..`` -> ok.

Errors are answered like api.weixin.qq.com answers them: HTTP 200 with ``{"errcode": N, "errmsg": "<text> rid: <id>"}``
(40001 unknown token, 41001 no token, 42001 expired token, 45002 text over 2048 bytes, 45015 user out of the
48-hour window, 47001 unreadable JSON, -1 system busy, 45009 daily quota), as ``application/json; encoding=utf-8``.
A token stays valid after a newer one is issued (the real API keeps the previous one for a few minutes).

Point wechatpy at it by setting the client's ``API_BASE_URL`` to ``api_base`` (and its token URL to
``api_base + "token"``: ``WeChatClient.fetch_access_token`` hard-codes api.weixin.qq.com).

Nothing here does I/O until ``start()``.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.standins.server import HttpStandin, wait_for_items

JsonDict = dict[str, Any]
Reply = tuple[int, str, bytes]

JSON_TYPE = "application/json; encoding=utf-8"
MAX_TEXT_BYTES = 2048
FAILURE_KINDS = frozenset({"busy", "limit", "http500"})
MESSAGE_TYPES = frozenset({"text", "image", "voice", "video", "music", "news", "mpnews", "mpnewsarticle", "msgmenu",
                           "wxcard", "miniprogrampage"})
TYPING_COMMANDS = frozenset({"Typing", "CancelTyping"})

SYSTEM_BUSY = (-1, "system error")
INVALID_CREDENTIAL = (40001, "invalid credential, access_token is invalid or not latest")
INVALID_GRANT_TYPE = (40002, "invalid grant_type")
INVALID_OPENID = (40003, "invalid openid")
INVALID_MESSAGE_TYPE = (40008, "invalid message type")
INVALID_APPID = (40013, "invalid appid")
INVALID_URL = (40066, "invalid url")
INVALID_APPSECRET = (40125, "invalid appsecret")
ACCESS_TOKEN_MISSING = (41001, "access_token missing")
APPID_MISSING = (41002, "appid missing")
APPSECRET_MISSING = (41004, "appsecret missing")
ACCESS_TOKEN_EXPIRED = (42001, "access_token expired")
REQUIRE_POST = (43002, "require POST method")
EMPTY_POST_DATA = (44002, "empty post data")
EMPTY_CONTENT = (44004, "empty content")
CONTENT_TOO_LONG = (45002, "content size out of limit")
DAILY_QUOTA = (45009, "reach max api daily quota limit")
OUT_OF_WINDOW = (45015, "response out of time limit or subscription is canceled")
DATA_FORMAT_ERROR = (47001, "data format error")

HTTP500_BODY = (b"<html>\r\n<head><title>500 Internal Server Error</title></head>\r\n<body>\r\n"
                b"<center><h1>500 Internal Server Error</h1></center>\r\n</body>\r\n</html>\r\n")


# ----------------------------------------------------------------------------------------------- answers

def rid() -> str:
    """A request id like the one WeChat appends to its error messages."""
    return "-".join(secrets.token_hex(4) for _ in range(3))


def reply(body: JsonDict) -> Reply:
    """HTTP 200 with ``body`` as compact UTF-8 JSON, the way WeChat answers (errors too)."""
    return 200, JSON_TYPE, json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def ok() -> Reply:
    """``{"errcode":0,"errmsg":"ok"}``."""
    return reply({"errcode": 0, "errmsg": "ok"})


def wechat_error(code: tuple[int, str]) -> Reply:
    """``{"errcode": N, "errmsg": "<text> rid: <id>"}`` for one of the error constants."""
    return reply({"errcode": code[0], "errmsg": f"{code[1]} rid: {rid()}"})


def http500() -> Reply:
    """What the gateway in front of the API answers when it falls over: HTTP 500 with an HTML page."""
    return 500, "text/html", HTTP500_BODY


# ------------------------------------------------------------------------------------------ the stand-in

class WeChatApi(HttpStandin):
    """The official-account API of one app: issues tokens, records customer-service messages, can be told to fail.

    ``sent`` holds every accepted ``message/custom/send`` body and ``calls`` every request (endpoint,
    query parameters merged with the JSON body), both in arrival order; ``token_fetches`` counts the
    tokens issued.
    """

    def __init__(self, app_id: str, app_secret: str, token_lifetime: int = 7200) -> None:
        super().__init__("the WeChat stand-in", "wechat-api-standin")
        self.app_id = app_id
        self.app_secret = app_secret
        self.token_lifetime = token_lifetime
        self.sent: list[JsonDict] = []
        self.calls: list[tuple[str, JsonDict]] = []
        self.token_fetches = 0
        self.unreachable_users: set[str] = set()
        self._cond = threading.Condition()
        self._tokens: dict[str, float] = {}
        self._failure: tuple[float, str] | None = None

    # -- lifecycle (start, stop, with, port: from HttpStandin)

    @property
    def api_base(self) -> str:
        """``http://127.0.0.1:<port>/cgi-bin/``: what goes in wechatpy's ``API_BASE_URL``."""
        return f"http://127.0.0.1:{self.port}/cgi-bin/"

    # -- scripting

    def expire_tokens(self) -> None:
        """Every token issued so far is expired: calls with one answer 42001 "access_token expired"."""
        with self._cond:
            self._tokens = dict.fromkeys(self._tokens, float("-inf"))

    def fail(self, kind: str, seconds: float) -> None:
        """For the next ``seconds`` the message endpoints fail: "busy" (-1 system error), "limit" (45009 daily
        quota) or "http500" (HTTP 500 with an HTML page). Tokens are still issued."""
        if kind not in FAILURE_KINDS:
            raise ValueError(f"unknown failure {kind!r}: expected one of {sorted(FAILURE_KINDS)}")
        with self._cond:
            self._failure = (time.monotonic() + seconds, kind)

    def wait_for_sent(self, count: int, timeout: float) -> list[JsonDict]:
        """Blocks until at least ``count`` messages were accepted; a copy of ``sent``. AssertionError on timeout."""
        return wait_for_items(self._cond, self.sent, count, timeout, "customer-service message(s)")

    # -- dispatch

    def _respond(self, http_method: str, path: str, content_type: str, raw: bytes) -> Reply:
        parts = urlsplit(path)
        query = {key: values[0] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
        endpoint = parts.path.removeprefix("/cgi-bin/")
        self._record_call(endpoint, query, raw)
        if endpoint == "token":
            return self._token(query)
        if endpoint in ("message/custom/send", "message/custom/typing"):
            return self._message_endpoint(http_method, endpoint, query.get("access_token"), raw)
        if not parts.path.startswith("/cgi-bin/"):
            return 404, "text/html", b"<html><body><h1>404 Not Found</h1></body></html>"
        return wechat_error(INVALID_URL)

    def _record_call(self, endpoint: str, query: JsonDict, raw: bytes) -> None:
        try:
            body = json.loads(raw.decode("utf-8")) if raw else {}
        except ValueError:
            body = {"raw": raw.decode("utf-8", "replace")}
        with self._cond:
            self.calls.append((endpoint, {**query, **body} if isinstance(body, dict) else {**query, "body": body}))

    def _token(self, query: JsonDict) -> Reply:
        problem = self._credentials_problem(query)
        if problem:
            return wechat_error(problem)
        token = f"{secrets.randbelow(90) + 10}_{secrets.token_urlsafe(102)}"
        with self._cond:
            self._tokens[token] = time.monotonic() + self.token_lifetime
            self.token_fetches += 1
        return reply({"access_token": token, "expires_in": self.token_lifetime})

    def _credentials_problem(self, query: JsonDict) -> tuple[int, str] | None:
        appid, secret = query.get("appid"), query.get("secret")
        if query.get("grant_type") != "client_credential":
            return INVALID_GRANT_TYPE
        if not appid:
            return APPID_MISSING
        if appid != self.app_id:
            return INVALID_APPID
        if not secret:
            return APPSECRET_MISSING
        return None if secret == self.app_secret else INVALID_APPSECRET

    def _message_endpoint(self, http_method: str, endpoint: str, token: str | None, raw: bytes) -> Reply:
        failing = self._current_failure()
        if failing == "http500":
            return http500()
        problem = self._token_problem(token)
        if problem:
            return wechat_error(problem)
        if http_method != "POST":
            return wechat_error(REQUIRE_POST)
        if failing:
            return wechat_error(SYSTEM_BUSY if failing == "busy" else DAILY_QUOTA)
        if not raw.strip():
            return wechat_error(EMPTY_POST_DATA)
        try:
            body = json.loads(raw.decode("utf-8"))
        except ValueError:
            return wechat_error(DATA_FORMAT_ERROR)
        if not isinstance(body, dict):
            return wechat_error(DATA_FORMAT_ERROR)
        return self._typing(body) if endpoint.endswith("typing") else self._custom_send(body)

    def _current_failure(self) -> str | None:
        with self._cond:
            if self._failure and self._failure[0] > time.monotonic():
                return self._failure[1]
        return None

    def _token_problem(self, token: str | None) -> tuple[int, str] | None:
        if not token:
            return ACCESS_TOKEN_MISSING
        with self._cond:
            expires_at = self._tokens.get(token)
        if expires_at is None:
            return INVALID_CREDENTIAL
        return ACCESS_TOKEN_EXPIRED if expires_at <= time.monotonic() else None

    def _custom_send(self, body: JsonDict) -> Reply:
        problem = message_problem(body) or (OUT_OF_WINDOW if body["touser"] in self.unreachable_users else None)
        if problem:
            return wechat_error(problem)
        with self._cond:
            self.sent.append(body)
            self._cond.notify_all()
        return ok()

    def _typing(self, body: JsonDict) -> Reply:
        touser = body.get("touser")
        if not isinstance(touser, str) or not touser:
            return wechat_error(INVALID_OPENID)
        if body.get("command") not in TYPING_COMMANDS:
            return wechat_error(DATA_FORMAT_ERROR)
        return wechat_error(OUT_OF_WINDOW) if touser in self.unreachable_users else ok()


def message_problem(body: JsonDict) -> tuple[int, str] | None:
    """The error WeChat answers to a customer-service message it refuses (openid, msgtype, text size), or None."""
    touser, msgtype = body.get("touser"), body.get("msgtype")
    if not isinstance(touser, str) or not touser:
        return INVALID_OPENID
    if msgtype not in MESSAGE_TYPES:
        return INVALID_MESSAGE_TYPE
    if msgtype != "text":
        return None
    text = body.get("text")
    content = text.get("content") if isinstance(text, dict) else None
    if not isinstance(content, str) or not content:
        return EMPTY_CONTENT
    return CONTENT_TOO_LONG if len(content.encode("utf-8")) > MAX_TEXT_BYTES else None
