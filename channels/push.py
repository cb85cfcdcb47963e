"""The push contract between the action server and the Rasa server's socket.io channel.

``POST /webhooks/socketio/push`` with header ``X-Matchmaker-Push-Secret`` (the shared
secret from ``MATCHMAKER_PUSH_SECRET``) and the JSON body::

    {"recipient": "web:<session id>",
     "messages": [{"text": "...", "buttons": [{"title": "...", "payload": "..."}]}]}

answers ``200 {"delivered": true}`` when the recipient has a connected socket (every message
was emitted to it), ``200 {"delivered": false}`` when it has none, ``403`` for a missing or
wrong secret (nothing is parsed then), ``413`` for a body over :data:`MAX_BODY_BYTES`,
``400`` for a malformed body and ``503`` when emitting failed.

This module uses only the standard library: the Rasa process (Python 3.10) imports it too.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

PUSH_PATH = "/webhooks/socketio/push"
SECRET_HEADER = "X-Matchmaker-Push-Secret"
SECRET_ENV = "MATCHMAKER_PUSH_SECRET"
MAX_BODY_BYTES = 256 * 1024
MAX_RECIPIENT_CHARS = 128
MAX_MESSAGES = 20
MAX_TEXT_CHARS = 4000
MAX_BUTTONS = 10
MAX_TITLE_CHARS = 200
MAX_PAYLOAD_CHARS = 1000


class PushRequestError(ValueError):
    """A push body that does not follow the contract; the message says which part."""


@dataclass(frozen=True)
class Button:
    """A quick reply under a message: what it shows and what it sends back."""

    title: str
    payload: str


@dataclass(frozen=True)
class PushMessage:
    """One bot message for the page."""

    text: str
    buttons: Tuple[Button, ...] = ()

    def to_json(self) -> Dict[str, Any]:
        """The message as it travels in a push body."""
        body: Dict[str, Any] = {"text": self.text}
        if self.buttons:
            body["buttons"] = [{"title": b.title, "payload": b.payload} for b in self.buttons]
        return body

    def bot_event(self) -> Dict[str, Any]:
        """The socket.io bot message, shaped as Rasa's ``SocketIOOutput`` sends one.

        Buttons become ``quick_replies`` (``send_text_with_buttons``), which the web chat
        widget shows as buttons under the text.
        """
        event: Dict[str, Any] = {"text": self.text}
        if self.buttons:
            event["quick_replies"] = [{"content_type": "text", "title": b.title, "payload": b.payload}
                                      for b in self.buttons]
        return event


@dataclass(frozen=True)
class PushRequest:
    """Messages for one recipient session."""

    recipient: str
    messages: Tuple[PushMessage, ...]

    def to_json(self) -> Dict[str, Any]:
        """The request body."""
        return {"recipient": self.recipient, "messages": [m.to_json() for m in self.messages]}


def secret_matches(expected: Optional[str], given: Optional[str]) -> bool:
    """Whether ``given`` is the configured secret (constant time; no secret configured: never)."""
    if not expected or given is None:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def _text(value: object, what: str, limit: int, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise PushRequestError(f"{what} must be a string")
    if (not value.strip() and not allow_empty) or len(value) > limit:
        raise PushRequestError(f"{what} must be 1-{limit} characters")
    return value


def parse_button(raw: object, where: str) -> Button:
    """A button from its JSON form.

    Raises:
        PushRequestError: when it is not ``{"title": str, "payload": str}``.
    """
    if not isinstance(raw, dict):
        raise PushRequestError(f"{where} must be an object")
    return Button(_text(raw.get("title"), f"{where}.title", MAX_TITLE_CHARS),
                  _text(raw.get("payload"), f"{where}.payload", MAX_PAYLOAD_CHARS))


def parse_message(raw: object, where: str = "message") -> PushMessage:
    """A message from its JSON form.

    Raises:
        PushRequestError: when it is not ``{"text": str, "buttons": [button, ...]}`` (buttons
            optional) within the limits.
    """
    if not isinstance(raw, dict):
        raise PushRequestError(f"{where} must be an object")
    text = _text(raw.get("text"), f"{where}.text", MAX_TEXT_CHARS)
    buttons = raw.get("buttons", [])
    if buttons is None:
        buttons = []
    if not isinstance(buttons, list) or len(buttons) > MAX_BUTTONS:
        raise PushRequestError(f"{where}.buttons must be a list of at most {MAX_BUTTONS}")
    return PushMessage(text, tuple(parse_button(b, f"{where}.buttons[{i}]") for i, b in enumerate(buttons)))


def parse_push(body: object) -> PushRequest:
    """A push request from a decoded JSON body.

    Raises:
        PushRequestError: naming the first part that breaks the contract.
    """
    if not isinstance(body, dict):
        raise PushRequestError("the body must be a JSON object")
    recipient = _text(body.get("recipient"), "recipient", MAX_RECIPIENT_CHARS)
    messages = body.get("messages")
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
        raise PushRequestError(f"messages must be a list of 1-{MAX_MESSAGES}")
    parsed: List[PushMessage] = [parse_message(m, f"messages[{i}]") for i, m in enumerate(messages)]
    return PushRequest(recipient, tuple(parsed))
