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
import uuid
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


def json_body(request: Request) -> Dict[Text, Any]:
    """The request's JSON object, or an empty one when the body is not a JSON object."""
    try:
        body = request.json
    except Exception:
        return {}
    return body if isinstance(body, dict) else {}


class GuardedRestInput(RestInput):
    """Rasa's REST channel (``/webhooks/rest/webhook``) with the guard."""

    async def _extract_sender(self, req: Request) -> Optional[Text]:
        body = json_body(req)
        sender = body.get("sender")
        return str(sender)[:128] if sender not in (None, "") else "anonymous"

    def _extract_message(self, req: Request) -> Optional[Text]:
        body = json_body(req)
        message = body.get("message")
        return message if isinstance(message, str) else ""

    def get_metadata(self, request: Request) -> Optional[Dict[Text, Any]]:
        body = json_body(request)
        metadata = body.get("metadata")
        return metadata if isinstance(metadata, dict) else None

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        """Rasa's REST blueprint around the guarded handler."""
        return super().blueprint(guard(on_new_message, max_message_chars()))

    def _extract_input_channel(self, req: Request) -> Text:
        channel = json_body(req).get("input_channel")
        return channel if isinstance(channel, str) and channel else self.name()


class GuardedSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel (used by the web chat widget) with the guard."""

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        """Rasa's socket.io blueprint around the guarded handler.

        Rasa 3.6 calls ``sio.enter_room`` without awaiting it, which does nothing with
        python-socketio 5.x, so replies of a persistent session never reach the page;
        the ``session_request`` handler is replaced by one that awaits it.
        """
        blueprint = super().blueprint(guard(on_new_message, max_message_chars()))
        sio = self.sio
        if sio is None:
            return blueprint

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Any) -> None:
            data = data if isinstance(data, dict) else {}
            session_id = str(data.get("session_id") or uuid.uuid4().hex)[:128]
            if self.session_persistence:
                await sio.enter_room(sid, session_id, namespace=self.namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)

        return blueprint
