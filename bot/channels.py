"""Rasa input channels that never leave a user in silence.

``GuardedRestInput`` and ``GuardedSocketIOInput`` are Rasa's own REST and socket.io
channels with one guard around message handling:

* an empty message or one longer than ``MATCHMAKER_MAX_MESSAGE_CHARS`` gets a polite
  reply in the user's language and is not passed on, so it changes nothing;
* metadata that is not a JSON object of at most ``MAX_METADATA_CHARS`` is dropped, so a
  client cannot make every tracker event carry megabytes;
* when a turn produces no bot message at all (for example because the action server is
  down, which Rasa only logs), the user is told the service is unavailable.

``GuardedSocketIOInput`` also names new web sessions ``web:<32 hex>`` (the channel identity
of a web user), takes a socket's messages as the session it asked for (never as the session
id a message names), tracks which sessions have a connected socket and adds the push route
``POST /webhooks/socketio/push`` (contract in ``channels.push``) through which the action
server shows negotiation-thread messages in an open page.

Sender ids carry their channel (``tg:``, ``wx:``, ``web:``) and a signed-in identity acts for
a participant, so nobody may choose one: the REST channel refuses sender ids with a channel
prefix, a web page gets a ``web:`` session only, and ``GatewayInput``
(``POST /webhooks/gateway/webhook``) takes ``tg:``/``wx:`` senders only from the messenger
gateways, which prove themselves with ``MATCHMAKER_GATEWAY_SECRET``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
from typing import Any, Awaitable, Callable, Dict, Optional, Text, Tuple

import aiohttp
from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketIOInput, SocketIOOutput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.gateway import GATEWAY_PREFIXES, GATEWAY_SECRET_ENV, GATEWAY_SECRET_HEADER, RESERVED_PREFIXES
from channels.presence import Presence
from channels.push import (
    MAX_BODY_BYTES,
    SECRET_ENV,
    SECRET_HEADER,
    PushRequest,
    PushRequestError,
    parse_push,
    secret_matches,
)
from channels.rate_limit import limiter_from
from matchmaker.messages import localised, say
from nlu.language import detect_language

logger = logging.getLogger(__name__)
Handler = Callable[[UserMessage], Awaitable[Any]]
DEFAULT_MAX_CHARS = 2000
MAX_METADATA_CHARS = 4096
NO_SESSION = {"en": "This page has no chat session yet. Please reload the page.",
              "zh": "此页面还没有会话，请刷新页面后再发送。"}
WEB_SESSION_PREFIX = "web:"
SESSION_ID_PATTERN = re.compile(r"web:[A-Za-z0-9_-]{1,124}")
# How often the server pings a page's socket, and how long it waits for the answer: a page
# that went away without closing its socket (network lost, tab killed) stops counting as
# present after at most the sum (python-socketio's defaults are 25 s and 20 s).
PING_INTERVAL_SECONDS = 10
PING_TIMEOUT_SECONDS = 10


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


def clean_text(text: Text) -> Text:
    """``text`` with lone surrogates (JSON can spell them, UTF-8 cannot encode them) replaced by U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def bounded_metadata(metadata: Any) -> Optional[Dict[Text, Any]]:
    """``metadata`` when it is a JSON object of at most ``MAX_METADATA_CHARS`` characters, else ``None``."""
    if not isinstance(metadata, dict):
        return None
    try:
        size = len(json.dumps(metadata, ensure_ascii=False, default=str))
    except (ValueError, RecursionError):
        return None
    return metadata if size <= MAX_METADATA_CHARS else None


def guard(on_new_message: Handler, limit: int, refused_prefixes: Tuple[Text, ...] = ()) -> Handler:
    """Wrap Rasa's message handler with the input checks, the per-sender rate limit and the silence guard.

    A sender id starting with one of ``refused_prefixes`` belongs to another channel: it gets
    a polite refusal and its conversation is not touched. A sender over the rate limit
    (``channels.rate_limit``) is asked to slow down, and the message is not handled.
    """
    limiter = limiter_from(os.environ)

    async def guarded(message: UserMessage) -> None:
        text = clean_text(message.text) if isinstance(message.text, str) else ""
        message.text = text
        language = detect_language(text)
        output = message.output_channel
        if str(message.sender_id).startswith(refused_prefixes):
            await output.send_text_message(message.sender_id, say("sender_reserved", language))
            return
        if limiter is not None and not limiter.allow(str(message.sender_id)):
            await output.send_text_message(message.sender_id, say("slow_down", language))
            return
        if not text.strip():
            await output.send_text_message(message.sender_id, say("empty", language))
            return
        if len(text) > limit:
            await output.send_text_message(
                message.sender_id, say("too_long", language, length=len(text), limit=limit))
            return
        message.metadata = bounded_metadata(message.metadata)
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
        return clean_text(str(sender))[:128] if sender not in (None, "") else "anonymous"

    def _extract_message(self, req: Request) -> Optional[Text]:
        body = json_body(req)
        message = body.get("message")
        return message if isinstance(message, str) else ""

    def get_metadata(self, request: Request) -> Optional[Dict[Text, Any]]:
        body = json_body(request)
        metadata = body.get("metadata")
        return metadata if isinstance(metadata, dict) else None

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        """Rasa's REST blueprint around the guarded handler, plus the thread inbox.

        ``POST /webhooks/rest/inbox`` with ``{"sender": "...", "wait": seconds}`` answers
        ``{"messages": [...]}`` with what waits for that sender (thread requests, messages,
        notices), waiting up to ``wait`` seconds (at most 25) for something to arrive: a
        REST client's push, without a dialogue turn. The action server holds the threads;
        this route forwards to it with the shared secret.
        """
        blueprint = super().blueprint(guard(on_new_message, max_message_chars(), RESERVED_PREFIXES))

        @blueprint.route("/inbox", methods=["POST"])
        async def inbox(request: Request) -> HTTPResponse:
            return await forward_inbox(request)

        return blueprint

    def _extract_input_channel(self, req: Request) -> Text:
        channel = json_body(req).get("input_channel")
        return channel if isinstance(channel, str) and channel else self.name()


class GatewayInput(GuardedRestInput):
    """The messenger gateways' way in: Rasa's REST webhook for ``tg:``/``wx:`` senders only.

    ``POST /webhooks/gateway/webhook`` takes the REST body (``sender``, ``message``,
    ``metadata``, ``input_channel`` = ``telegram`` or ``wechat``) and answers the bot's
    messages as the REST channel does. A request without the gateway secret
    (``X-Matchmaker-Gateway-Secret``) is refused with 403 before anything is parsed; a
    sender without a messenger prefix gets 400.
    """

    @classmethod
    def name(cls) -> Text:
        """The channel's route name."""
        return "gateway"

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        """The REST blueprint with the guard, behind the secret check."""
        blueprint = RestInput.blueprint(self, guard(on_new_message, max_message_chars()))

        @blueprint.on_request
        async def check_gateway(request: Request) -> Optional[HTTPResponse]:
            if request.method != "POST":
                return None
            if not secret_matches(os.environ.get(GATEWAY_SECRET_ENV), request.headers.get(GATEWAY_SECRET_HEADER)):
                return response.json({"error": "forbidden"}, status=403)
            sender = json_body(request).get("sender")
            if not isinstance(sender, str) or not sender.startswith(GATEWAY_PREFIXES):
                return response.json({"error": "sender must be a tg: or wx: id"}, status=400)
            return None

        return blueprint

    def _extract_input_channel(self, req: Request) -> Text:
        channel = json_body(req).get("input_channel")
        return channel if channel in ("telegram", "wechat") else self.name()


INBOX_TIMEOUT_SECONDS = 30.0


async def forward_inbox(request: Request) -> HTTPResponse:
    """Forward a REST inbox request to the action server; a polite 503 when it is down."""
    body = json_body(request)
    sender, wait = body.get("sender"), body.get("wait", 0)
    if not isinstance(sender, str) or not sender or isinstance(wait, bool) or not isinstance(wait, (int, float)):
        return response.json({"error": "body must be {\"sender\": str, \"wait\": seconds}"}, status=400)
    if sender.startswith(RESERVED_PREFIXES):
        return response.json({"error": "sender ids starting with tg:, wx: or web: belong to other channels"},
                             status=403)
    port = os.environ.get("MATCHMAKER_ACTIONS_PORT", "5055")
    url = os.environ.get("MATCHMAKER_ACTIONS_URL") or f"http://127.0.0.1:{port}"
    headers = {SECRET_HEADER: os.environ.get(SECRET_ENV, "")}
    try:
        timeout = aiohttp.ClientTimeout(total=INBOX_TIMEOUT_SECONDS)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.post(
                f"{url}/inbox", json={"sender": sender[:128], "wait": wait}, headers=headers) as reply:
            payload = await reply.json(content_type=None)
            return response.json(payload, status=reply.status)
    except (aiohttp.ClientError, TimeoutError, ValueError) as error:
        logger.warning("thread inbox unavailable: %s", error)
        return response.json({"error": "the thread inbox is unavailable, try again shortly"}, status=503)


def session_id_of(data: Any) -> Text:
    """The session id a ``session_request`` asks for, or a new ``web:<32 hex>`` one.

    A ``web:`` id of letters, digits, ``_`` and ``-`` (at most 128 characters) the client
    sends is kept, so a page that reconnects keeps its conversation; any other id (another
    channel's, a malformed one, or none) gets a new one, so a page cannot speak as a
    Telegram chat or a REST user.
    """
    requested = data.get("session_id") if isinstance(data, dict) else None
    if not isinstance(requested, str) or not SESSION_ID_PATTERN.fullmatch(requested):
        return f"{WEB_SESSION_PREFIX}{uuid.uuid4().hex}"
    return requested


def push_error(status: int, error: Text, detail: Text = "") -> HTTPResponse:
    """A JSON error reply of the push route."""
    body: Dict[Text, Any] = {"error": error}
    if detail:
        body["detail"] = detail
    return response.json(body, status=status)


class GuardedSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel (used by the web chat widget) with the guard and the push route."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Rasa's arguments; presence starts empty."""
        super().__init__(*args, **kwargs)
        self.presence = Presence()

    def blueprint(self, on_new_message: Handler) -> Blueprint:
        """Rasa's socket.io blueprint around the guarded handler, with presence and the push route.

        Rasa 3.6 calls ``sio.enter_room`` without awaiting it, which does nothing with
        python-socketio 5.x, so replies of a persistent session never reach the page;
        the ``session_request`` handler is replaced by one that awaits it. Rasa's
        ``disconnect`` handler (which only logs) is replaced by one that also updates
        presence. Rasa's message handler speaks as whatever ``session_id`` the message
        names (another page's, ``tg:...``) and fails on a body that is not an object; it is
        replaced by one that speaks as the socket's own session, or tells a socket that has
        none to reload. ``connect`` stays Rasa's. Pings are more frequent than
        python-socketio's default, so a vanished page stops counting as present sooner.
        """
        guarded = guard(on_new_message, max_message_chars())
        blueprint = super().blueprint(guarded)
        sio = self.sio
        if sio is None:
            return blueprint
        sio.eio.ping_interval = PING_INTERVAL_SECONDS
        sio.eio.ping_timeout = PING_TIMEOUT_SECONDS

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: Text, data: Any = None, *_more: Any) -> None:
            session_id = session_id_of(data)
            previous = self.presence.join(sid, session_id)
            if previous is not None:
                await sio.leave_room(sid, previous, namespace=self.namespace)
            await sio.enter_room(sid, session_id, namespace=self.namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: Text, data: Any = None, *_more: Any) -> None:
            body = data if isinstance(data, dict) else {}
            text = body.get("message") if isinstance(body.get("message"), str) else ""
            session_id = self.presence.session_of(sid)
            if session_id is None:
                await sio.emit(self.bot_message_evt, {"text": localised(NO_SESSION, detect_language(text))}, room=sid,
                               namespace=self.namespace)
                return
            await guarded(UserMessage(text, SocketIOOutput(sio, self.bot_message_evt), session_id,
                                      input_channel=self.name(), metadata=body.get(self.metadata_key)))

        @sio.on("disconnect", namespace=self.namespace)
        async def disconnect(sid: Text, *_reason: Any) -> None:
            session_id = self.presence.leave(sid)
            logger.debug("Socket %s of session %s disconnected.", sid, session_id)

        @blueprint.route("/push", methods=["POST"])
        async def push(request: Request) -> HTTPResponse:
            try:
                return await self._push(request)
            except Exception:
                logger.exception("Push to a web session failed")
                return push_error(503, "unavailable")

        return blueprint

    async def _push(self, request: Request) -> HTTPResponse:
        """Check the secret before parsing the body, then emit the messages to the recipient's sockets."""
        if not secret_matches(os.environ.get(SECRET_ENV), request.headers.get(SECRET_HEADER)):
            return push_error(403, "forbidden")
        body = request.body or b""
        if len(body) > MAX_BODY_BYTES:
            return push_error(413, "too_large")
        try:
            pushed = parse_push(json.loads(body))
        except (ValueError, RecursionError, PushRequestError) as error:
            return push_error(400, "bad_request", str(error)[:300])
        if not self.presence.connected(pushed.recipient):
            return response.json({"delivered": False})
        await self._emit(pushed)
        return response.json({"delivered": True})

    async def _emit(self, pushed: PushRequest) -> None:
        """Emit each message as the bot message event to the recipient's room."""
        sio = self.sio
        if sio is None:
            raise RuntimeError("the socket.io server is not set up")
        for message in pushed.messages:
            await sio.emit(self.bot_message_evt, message.bot_event(), room=pushed.recipient,
                           namespace=self.namespace)
