"""The Telegram push channel: thread messages to ``tg:<chat id>`` identities through the Bot API.

The action server's dispatcher hands each due ``telegram`` delivery to
:class:`TelegramPushChannel`, which renders it and sends it with python-telegram-bot's
``Bot.send_message`` (an ``ExtBot`` with PTB's ``AIORateLimiter``, so Telegram's flood limits
are kept): buttons become an inline keyboard (their payloads the callback data), texts longer
than Telegram's limit are split, a match card's title is bold. The Bot API's answers decide what happens to
the outbox row: a 429 (``RetryAfter``), a server error or a network failure is transient (the
row is retried with backoff); a 403 (the user blocked the bot) or a 400 (no such chat) is
permanent. ``TELEGRAM_API_BASE`` points the channel at another Bot API server (a local one,
or the tests' stand-in).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import AIORateLimiter, ExtBot
from telegram.request import HTTPXRequest

from channels.gateway import TELEGRAM_PREFIX
from channels.push import Button, PushMessage
from channels.replies import buttons_of, telegram_texts
from matchmaker.delivery import Delivery, PermanentChannelError, TransientChannelError

logger = logging.getLogger(__name__)

Renderer = Callable[[Delivery], Sequence[Mapping[str, Any]]]
MAX_TEXT_CHARS = 4096
MAX_CALLBACK_BYTES = 64
DEFAULT_API_BASE = "https://api.telegram.org/bot"


def split_text(text: str, limit: int = MAX_TEXT_CHARS) -> list[str]:
    """``text`` in parts of at most ``limit`` characters, cut at line ends where possible."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit)
        cut = cut if cut > 0 else limit
        parts.append(rest[:cut])
        rest = rest[cut:].lstrip("\n")
    parts.append(rest)
    return [part for part in parts if part] or [""]


def keyboard(buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
    """An inline keyboard of ``buttons`` (one per row); payloads over 64 bytes cannot be callbacks."""
    rows = []
    for button in buttons:
        if not button.payload or len(button.payload.encode()) > MAX_CALLBACK_BYTES:
            logger.warning("button %r left out: its payload does not fit Telegram's callback data", button.title)
            continue
        rows.append([InlineKeyboardButton(button.title[:64], callback_data=button.payload)])
    return InlineKeyboardMarkup(rows) if rows else None


def telegram_parts(message: PushMessage) -> list[tuple[str, InlineKeyboardMarkup | None]]:
    """One bot message as Telegram messages (HTML text, keyboard on the last part)."""
    return [(part.html, keyboard(part.buttons)) for part in telegram_texts(message, split_text)]


def rate_limited_bot(token: str, api_base: str, timeout: float, retries: int = 0) -> ExtBot[int]:
    """A bot of ``token`` at ``api_base`` whose calls keep to Telegram's flood limits (``AIORateLimiter``).

    ``RetryAfter`` answers are retried by the limiter ``retries`` times (after the wait
    Telegram asks for) before they reach the caller; the push channel leaves retrying to
    the outbox.
    """
    request = HTTPXRequest(connect_timeout=timeout, read_timeout=timeout, write_timeout=timeout)
    return ExtBot(token, base_url=api_base.rstrip("/"), request=request,
                  rate_limiter=AIORateLimiter(max_retries=retries))


def chat_id_of(identity: str) -> int:
    """The chat id of a ``tg:<chat id>`` identity.

    Raises:
        PermanentChannelError: for an identity that is not a Telegram chat.
    """
    raw = identity[len(TELEGRAM_PREFIX):] if identity.startswith(TELEGRAM_PREFIX) else ""
    try:
        return int(raw)
    except ValueError as error:
        raise PermanentChannelError(f"not a Telegram chat identity: {identity!r}") from error


class TelegramPushChannel:
    """Pushes deliveries to Telegram chats with python-telegram-bot, on an event loop of its own."""

    name = "telegram"

    def __init__(self, token: str, render: Renderer, api_base: str = DEFAULT_API_BASE,
                 timeout: float = 10.0) -> None:
        """Send as the bot of ``token`` through the Bot API at ``api_base``.

        Raises:
            ValueError: for an empty token or a timeout that is not positive.
        """
        if not token:
            raise ValueError("the bot token must not be empty")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self._bot = rate_limited_bot(token, api_base, timeout)
        self._render = render
        self._loop = asyncio.new_event_loop()
        self._lock = threading.Lock()
        self._ready = False
        self._sent_parts: dict[str, int] = {}

    def __repr__(self) -> str:
        return "TelegramPushChannel(<token hidden>)"

    def push(self, identity: str, delivery: Delivery) -> None:
        """Send ``delivery`` to the chat of ``identity``; raise a channel error when Telegram refuses."""
        chat_id = chat_id_of(identity)
        parts = [(part, markup) for message in self._render(delivery) for part, markup in _parts(message)]
        with self._lock:
            self._loop.run_until_complete(self._send_all(chat_id, delivery.key, parts))

    def close(self) -> None:
        """Close the HTTP client and the event loop."""
        with self._lock:
            self._loop.run_until_complete(self._bot.shutdown())
            self._loop.close()

    async def _send_all(self, chat_id: int, key: str, parts: Sequence[tuple[str, InlineKeyboardMarkup | None]]) -> None:
        """Send the parts not sent yet for ``key``, so a retry after a partial send doubles nothing."""
        try:
            if not self._ready:
                await self._bot.initialize()
                self._ready = True
            for index in range(self._sent_parts.get(key, 0), len(parts)):
                text, markup = parts[index]
                await self._bot.send_message(chat_id, text, parse_mode=ParseMode.HTML, reply_markup=markup)
                self._sent_parts[key] = index + 1
        except RetryAfter as error:
            raise TransientChannelError(f"rate limited, retry after {error.retry_after}") from error
        except (Forbidden, BadRequest) as error:
            self._sent_parts.pop(key, None)
            raise PermanentChannelError(f"Telegram refused: {error.message}") from error
        except NetworkError as error:
            raise TransientChannelError(f"Telegram not reached: {error.message}") from error
        except TelegramError as error:
            raise TransientChannelError(f"Telegram error: {error.message}") from error
        self._sent_parts.pop(key, None)


def _parts(message: Mapping[str, Any]) -> list[tuple[str, InlineKeyboardMarkup | None]]:
    """One rendered message as Telegram messages: the text split at the limit, the keyboard on the last."""
    return telegram_parts(PushMessage(str(message.get("text", "")), buttons_of(message.get("buttons"))))
