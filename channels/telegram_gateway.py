"""The Telegram gateway: a python-telegram-bot application that relays chats to the Rasa server.

``python -m channels.telegram_gateway`` (started by ``make run`` when ``TELEGRAM_BOT_TOKEN``
is set) receives updates by webhook when ``TELEGRAM_WEBHOOK_URL`` is set (PTB's own webhook
server, which refuses a request without the ``X-Telegram-Bot-Api-Secret-Token`` of
``TELEGRAM_WEBHOOK_SECRET`` with 403) and by long polling otherwise. ``TELEGRAM_API_BASE``
points it at another Bot API server.

Every private chat is the Rasa sender ``tg:<chat id>``: its text messages, the payloads of
pressed inline buttons (callback queries) and the commands ``/start``, ``/help``,
``/threads`` and ``/login CODE`` become turns; the bot's answers come back as HTML messages
with inline keyboards, split at Telegram's limit. Photos, stickers, voice, files and the like
get a polite "text only" answer. A chat's updates are handled one at a time, in order;
different chats run concurrently. Pushes (thread messages) do not pass here: the action
server sends them through the outbox (``channels.telegram``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import secrets
import signal
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from telegram import Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.ext._utils import webhookhandler
from telegram.request import HTTPXRequest
from tornado.web import HTTPError

from channels.gateway import GATEWAY_SECRET_ENV, TELEGRAM_PREFIX
from channels.push import PushMessage
from channels.telegram import DEFAULT_API_BASE, telegram_parts
from channels.turns import RasaTurns
from matchmaker.messages import say
from nlu.language import detect_language

logger = logging.getLogger(__name__)

COMMAND_TEXTS = {"start": {"en": "hello", "zh": "你好"}, "help": {"en": "help", "zh": "帮助"},
                 "threads": {"en": "my threads", "zh": "我的洽谈"}}
SEND_ATTEMPTS = 4
FIRST_RETRY_SECONDS = 0.5


@dataclass(frozen=True)
class TelegramConfig:
    """What the gateway needs, from the environment."""

    token: str
    rasa_url: str
    gateway_secret: str
    api_base: str = DEFAULT_API_BASE
    webhook_url: str = ""
    webhook_secret: str = ""
    listen: str = "127.0.0.1"
    port: int = 8443

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> TelegramConfig:
        """The configuration in ``env``.

        Raises:
            ValueError: when the token or the gateway secret is missing.
        """
        token, secret = env.get("TELEGRAM_BOT_TOKEN", ""), env.get(GATEWAY_SECRET_ENV, "")
        if not token or not secret:
            raise ValueError(f"TELEGRAM_BOT_TOKEN and {GATEWAY_SECRET_ENV} must be set")
        return cls(token=token, rasa_url=env.get("MATCHMAKER_RASA_URL", "http://127.0.0.1:5005"),
                   gateway_secret=secret, api_base=env.get("TELEGRAM_API_BASE") or DEFAULT_API_BASE,
                   webhook_url=env.get("TELEGRAM_WEBHOOK_URL", ""),
                   webhook_secret=env.get("TELEGRAM_WEBHOOK_SECRET", ""),
                   listen=env.get("TELEGRAM_WEBHOOK_LISTEN", "127.0.0.1"),
                   port=int(env.get("TELEGRAM_WEBHOOK_PORT", "8443")))

    def __repr__(self) -> str:
        return f"TelegramConfig(rasa_url={self.rasa_url!r}, webhook_url={self.webhook_url!r}, <secrets hidden>)"


def chat_language(update: Update, context: ContextTypes.DEFAULT_TYPE, text: str = "") -> str:
    """The language to answer in: the message's own, else the chat's last one, else the user's setting."""
    chat_data = context.chat_data if context.chat_data is not None else {}
    user = update.effective_user
    code = (user.language_code or "").lower() if user is not None else ""
    setting = ("zh" if code.startswith("zh") else "en") if code else ""
    remembered = str(chat_data.get("language") or setting or "zh")
    language = detect_language(text, default=remembered) if text else remembered
    chat_data["language"] = language
    return language


class ChatRelay:
    """Runs a Telegram chat's turns on Rasa, one at a time per chat, and sends the answers."""

    def __init__(self, turns: RasaTurns) -> None:
        """Run turns through ``turns``."""
        self._turns = turns
        self._locks: dict[int, asyncio.Lock] = {}

    async def turn(self, update: Update, context: ContextTypes.DEFAULT_TYPE, text: str, language: str,
                   acknowledge: Callable[[], Awaitable[object]] | None = None) -> None:
        """Run ``text`` as the chat's turn and send the bot's answer to the chat.

        ``acknowledge`` (answering a callback query) runs first, inside the chat's turn, so
        it does not let a later update of the chat overtake this one.
        """
        chat = update.effective_chat
        if chat is None:
            return
        lock = self._locks.setdefault(chat.id, asyncio.Lock())
        async with lock:
            if acknowledge is not None:
                try:
                    await acknowledge()
                except TelegramError as error:
                    logger.info("a callback query could not be answered: %s", error.message)
            messages = await self._turns.turn(f"{TELEGRAM_PREFIX}{chat.id}", text, language,
                                              {"telegram_update_id": update.update_id})
            await send_messages(context, chat.id, messages)

    async def close(self) -> None:
        """Close the Rasa client."""
        await self._turns.close()


async def send_messages(context: ContextTypes.DEFAULT_TYPE, chat_id: int, messages: list[PushMessage]) -> None:
    """Send ``messages`` to the chat, each retried on network and server errors (429 waits in the limiter)."""
    for message in messages:
        for text, markup in telegram_parts(message):
            await send_with_retry(context, chat_id, text, markup)


async def send_with_retry(context: ContextTypes.DEFAULT_TYPE, chat_id: int, text: str, markup: object) -> None:
    """One ``send_message``, tried up to :data:`SEND_ATTEMPTS` times with doubling waits."""
    wait = FIRST_RETRY_SECONDS
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            await context.bot.send_message(chat_id, text, parse_mode=ParseMode.HTML,
                                           reply_markup=markup)  # type: ignore[arg-type]
            return
        except (Forbidden, BadRequest) as error:
            logger.warning("Telegram refused an answer to chat %s: %s", chat_id, error.message)
            return
        except (NetworkError, TelegramError) as error:
            if attempt == SEND_ATTEMPTS:
                logger.error("an answer to chat %s was not delivered after %d attempts: %s", chat_id, attempt,
                             error.message)
                return
            await asyncio.sleep(wait)
            wait *= 2


def relay_of(context: ContextTypes.DEFAULT_TYPE) -> ChatRelay:
    """The application's relay."""
    return relay_of_application(context.application)


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A text message: one turn."""
    message = update.effective_message
    text = message.text if message is not None and message.text else ""
    await relay_of(context).turn(update, context, text, chat_language(update, context, text))


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A pressed inline button: its payload is the turn."""
    query = update.callback_query
    if query is None or update.effective_chat is None:
        return
    if not query.data:
        await query.answer()
        return
    await relay_of(context).turn(update, context, query.data, chat_language(update, context), acknowledge=query.answer)


async def on_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """``/start``, ``/help`` and ``/threads``: the same words typed in the chat's language."""
    message = update.effective_message
    name = (message.text or "").split()[0].lstrip("/").split("@")[0].lower() if message is not None else ""
    language = chat_language(update, context)
    texts = COMMAND_TEXTS.get(name)
    if texts is None:
        await reply_text(update, say("unknown_command", language))
        return
    await relay_of(context).turn(update, context, texts[language], language)


async def on_login(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """``/login CODE``: the sign-in command with the code."""
    language = chat_language(update, context)
    if not context.args:
        await reply_text(update, say("login_usage", language))
        return
    await relay_of(context).turn(update, context, f"login {context.args[0]}", language)


async def on_other(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Photos, stickers, voice, files ...: text only, politely."""
    await reply_text(update, say("text_only", chat_language(update, context)))


async def reply_text(update: Update, text: str) -> None:
    """A plain answer in the update's chat."""
    message = update.effective_message
    if message is not None:
        await message.reply_text(text)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Log a failed update; the gateway keeps serving."""
    logger.error("handling update %s failed", getattr(update, "update_id", "?"), exc_info=context.error)


def build_application(config: TelegramConfig) -> Application:  # type: ignore[type-arg]
    """The PTB application with its handlers, rate limiter and the Rasa relay."""
    application = (ApplicationBuilder().token(config.token).base_url(config.api_base.rstrip("/"))
                   .rate_limiter(AIORateLimiter(max_retries=2)).concurrent_updates(64)
                   .request(HTTPXRequest(connection_pool_size=64, read_timeout=20, write_timeout=20))
                   .get_updates_request(HTTPXRequest(read_timeout=40)).build())
    application.bot_data["relay"] = ChatRelay(RasaTurns(config.rasa_url, config.gateway_secret, "telegram"))
    private = filters.ChatType.PRIVATE
    application.add_handler(CommandHandler("login", on_login, filters=private))
    application.add_handler(CommandHandler(["start", "help", "threads"], on_command, filters=private))
    application.add_handler(MessageHandler(private & filters.COMMAND, on_command))
    application.add_handler(MessageHandler(private & filters.TEXT, on_text))
    application.add_handler(CallbackQueryHandler(on_button))
    application.add_handler(MessageHandler(private & filters.UpdateType.MESSAGE & ~filters.TEXT, on_other))
    application.add_error_handler(on_error)
    return application


class CheckedTelegramHandler(webhookhandler.TelegramHandler):
    """PTB's webhook request handler, answering 400 (not 500) to a body that is not UTF-8 JSON.

    The content type and the secret token are checked first, as PTB does, so a forged request
    still gets 403 and is not read.
    """

    async def post(self) -> None:
        """Refuse a body PTB could not decode, then handle the update as PTB does."""
        self._validate_post()
        try:
            json.loads(self.request.body.decode("utf-8"))
        except (ValueError, RecursionError) as error:
            raise HTTPError(400, reason="The body is not a JSON update") from error
        await super().post()


def webhook_path(webhook_url: str) -> str:
    """The path PTB's webhook server listens on: the public URL's path (``telegram`` when it has none)."""
    return urlparse(webhook_url).path.strip("/") or "telegram"


async def serve(config: TelegramConfig, ready_file: Path | None) -> None:
    """Run until SIGINT/SIGTERM: webhook or long polling, then the update handling."""
    application = build_application(config)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    async with application:
        updater = application.updater
        assert updater is not None
        if config.webhook_url:
            secret = config.webhook_secret or secrets.token_urlsafe(32)
            webhookhandler.TelegramHandler = CheckedTelegramHandler  # type: ignore[misc]
            await updater.start_webhook(listen=config.listen, port=config.port, url_path=webhook_path(config.webhook_url),
                                        webhook_url=config.webhook_url, secret_token=secret,
                                        allowed_updates=Update.ALL_TYPES)
            logger.info("Telegram webhook at %s (listening on %s:%d)", config.webhook_url, config.listen, config.port)
        else:
            await updater.start_polling(allowed_updates=Update.ALL_TYPES, timeout=30, poll_interval=0.0)
            logger.info("Telegram long polling")
        await application.start()
        if ready_file is not None:
            ready_file.write_text("ready\n", encoding="utf-8")
        await stopping.wait()
        await updater.stop()
        await application.stop()
        await relay_of_application(application).close()


def relay_of_application(application: Application) -> ChatRelay:  # type: ignore[type-arg]
    """The relay stored in ``application``."""
    relay = application.bot_data["relay"]
    assert isinstance(relay, ChatRelay)
    return relay


def main() -> None:
    """Run the gateway from the environment."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ready-file", type=Path, help="written once the gateway receives updates")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    asyncio.run(serve(TelegramConfig.from_env(os.environ), args.ready_file))


if __name__ == "__main__":
    main()
