"""Rasa input channels that never leave a user in silence.

``GuardedRestInput`` and ``GuardedSocketIOInput`` are Rasa's own REST and socket.io
channels with one guard around message handling:

* an empty message or one longer than ``MATCHMAKER_MAX_MESSAGE_CHARS`` gets a polite
  reply in the user's language and is not passed on, so it changes nothing;
* when a turn produces no bot message at all (for example because the action server is
  down, which Rasa only logs), the user is told the service is unavailable.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint
from sanic.request import Request

from matchmaker.messages import say
from nlu.language import detect_language

logger = logging.getLogger(__name__)
Handler = Callable[[UserMessage], Awaitable[Any]]
DEFAULT_MAX_CHARS = 2000


class CountingOutputChannel(OutputChannel):
    """Forwards every bot message to ``inner`` and counts them."""

    def __init__(self, inner: OutputChannel) -> None:
        """Wrap ``inner``."""
        self.inner = inner
        self.sent = 0

    def name(self) -> Text:
        """The wrapped channel's name."""
        return self.inner.name()

    async def send_response(self, recipient_id: Text, message: Dict[Text, Any]) -> None:
        """Count and forward one bot message."""
        self.sent += 1
        await self.inner.send_response(recipient_id, message)


def max_message_chars() -> int:
    """The longest message accepted, from the environment."""
    raw = os.environ.get("MATCHMAKER_MAX_MESSAGE_CHARS", "")
    return int(raw) if raw.isdigit() and int(raw) >= 50 else DEFAULT_MAX_CHARS


def guard(on_new_message: Handler, limit: int) -> Handler:
    """Wrap Rasa's message handler with the input checks and the silence guard."""

    async def guarded(message: UserMessage) -> None:
        text = message.text if isinstance(message.text, str) else ""
        language = detect_language(text)
        output = message.output_channel
        if not text.strip():
            await output.send_text_message(message.sender_id, say("empty", language))
            return
        if len(text) > limit:
            await output.send_text_message(
                message.sender_id, say("too_long", language, length=len(text), limit=limit))
            return
        counting = CountingOutputChannel(output)
        message.output_channel = counting
        try:
            await on_new_message(message)
        except Exception:
            logger.exception("Handling a message failed for sender %s", message.sender_id)
        if counting.sent == 0:
            await output.send_text_message(message.sender_id, say("unavailable", language))

    return guarded


class GuardedRestInput(RestInput):
    """Rasa's REST channel (``/webhooks/rest/webhook``) with the guard."""

    async def _extract_sender(self, req: Request) -> Optional[Text]:
        body = req.json if isinstance(req.json, dict) else {}
        sender = body.get("sender")
        return str(sender)[:128] if sender not in (None, "") else "anonymous"

    def _extract_message(self, req: Request) -> Optional[Text]:
        body = req.json if isinstance(req.json, dict) else {}
        message = body.get("message")
        return message if isinstance(message, str) else ""

    def get_metadata(self, request: Request) -> Optional[Dict[Text, Any]]:
        body = request.json if isinstance(request.json, dict) else {}
        metadata = body.get("metadata")
        return metadata if isinstance(metadata, dict) else None

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        """Rasa's REST blueprint around the guarded handler."""
        return super().blueprint(guard(on_new_message, max_message_chars()))


class GuardedSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel (used by the web chat widget) with the guard."""

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        """Rasa's socket.io blueprint around the guarded handler."""
        return super().blueprint(guard(on_new_message, max_message_chars()))
