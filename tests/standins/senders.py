"""What Telegram and WeChat send to a gateway: signed webhook requests, as the real servers make them."""

from __future__ import annotations

import hashlib
import json
import time
import urllib.error
import urllib.request
import uuid
import xml.sax.saxutils
from dataclasses import dataclass, field
from itertools import count
from typing import Any
from urllib.parse import urlencode

from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException

_MSG_IDS = count(int(time.time() * 1000) % 10**12)
_UPDATE_IDS = count(int(time.time()) % 10**6 * 100)


def post(url: str, body: bytes, headers: dict[str, str], timeout: float = 30.0) -> tuple[int, bytes]:
    """POST ``body``; the status and the body of the answer (error statuses included)."""
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return int(reply.status), reply.read()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read()


def get(url: str, timeout: float = 10.0) -> tuple[int, bytes]:
    """GET ``url``; the status and the body (error statuses included)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return int(reply.status), reply.read()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read()


def telegram_webhook(url: str, update: dict[str, Any], secret: str | None) -> int:
    """Deliver ``update`` as Telegram does (JSON, the secret header when given); the HTTP status.

    An update without an ``update_id`` gets the next one, as Telegram numbers every update.
    """
    if update.get("update_id") is None:
        update = {**update, "update_id": next(_UPDATE_IDS)}
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    status, _ = post(url, json.dumps(update).encode(), headers)
    return status


def wechat_signature(token: str, timestamp: str, nonce: str) -> str:
    """WeChat's request signature: SHA-1 of the sorted token, timestamp and nonce."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


@dataclass
class WeChatFollower:
    """A follower of the official account, talking to the gateway at ``url`` as WeChat's servers would."""

    url: str
    token: str
    openid: str = field(default_factory=lambda: f"o{uuid.uuid4().hex[:27]}")
    account: str = "gh_matchmaker"
    aes_key: str = ""
    app_id: str = ""

    @property
    def crypto(self) -> WeChatCrypto | None:
        """The safe-mode cipher, when the account uses safe mode."""
        return WeChatCrypto(self.token, self.aes_key, self.app_id) if self.aes_key else None

    def xml(self, kind: str, fields: dict[str, str], msg_id: int | None = None) -> str:
        """A message of ``kind`` with ``fields`` (a new MsgId unless given; events have none)."""
        parts = {"ToUserName": self.account, "FromUserName": self.openid, "CreateTime": str(int(time.time())),
                 "MsgType": kind, **fields}
        if kind != "event":
            parts["MsgId"] = str(msg_id if msg_id is not None else next(_MSG_IDS))
        body = "".join(f"<{key}>{_cdata(value) if not value.isdigit() else value}</{key}>"
                       for key, value in parts.items())
        return f"<xml>{body}</xml>"

    def send_xml(self, xml: str, signature: str | None = None, timeout: float = 30.0) -> tuple[int, str]:
        """POST ``xml`` signed (or with ``signature`` instead); the status and the reply's text (decrypted)."""
        timestamp, nonce = str(int(time.time())), uuid.uuid4().hex[:10]
        query = {"signature": signature or wechat_signature(self.token, timestamp, nonce), "timestamp": timestamp,
                 "nonce": nonce, "openid": self.openid}
        body = xml
        crypto = self.crypto
        if crypto is not None:
            encrypted = crypto.encrypt_message(xml, nonce, timestamp)
            envelope = _element(encrypted, "Encrypt")
            body = f"<xml><ToUserName>{_cdata(self.account)}</ToUserName><Encrypt>{_cdata(envelope)}</Encrypt></xml>"
            query.update({"encrypt_type": "aes", "msg_signature": _element(encrypted, "MsgSignature")})
        status, answer = post(f"{self.url}?{urlencode(query)}", body.encode(), {"Content-Type": "text/xml"},
                              timeout=timeout)
        text = answer.decode("utf-8", errors="replace")
        if crypto is not None and status == 200 and text.startswith("<xml>"):
            text = self._decrypt(crypto, text)
        return status, text

    def _decrypt(self, crypto: WeChatCrypto, text: str) -> str:
        try:
            return str(crypto.decrypt_message(text, _element(text, "MsgSignature"), _element(text, "TimeStamp"),
                                              _element(text, "Nonce")))
        except InvalidSignatureException as error:
            raise AssertionError(f"the encrypted reply's signature is wrong: {text}") from error

    def say(self, text: str, msg_id: int | None = None) -> tuple[int, str]:
        """Send a text message; the status and the reply's Content (or the raw body when it has none)."""
        status, reply = self.send_xml(self.xml("text", {"Content": text}, msg_id))
        return status, content_of(reply)

    def event(self, event: str) -> tuple[int, str]:
        """Send an event (``subscribe`` ...)."""
        status, reply = self.send_xml(self.xml("event", {"Event": event}))
        return status, content_of(reply)


def _element(xml: str, name: str) -> str:
    start = xml.index(f"<{name}>") + len(name) + 2
    value = xml[start:xml.index(f"</{name}>", start)]
    if value.startswith("<![CDATA["):
        value = value[len("<![CDATA["):-len("]]>")]
    return xml_unescape(value)


def xml_unescape(value: str) -> str:
    """Undo XML escaping."""
    return xml.sax.saxutils.unescape(value)


def content_of(reply: str) -> str:
    """The Content of a passive text reply (the body itself when it is not one)."""
    return _element(reply, "Content") if "<Content>" in reply else reply
