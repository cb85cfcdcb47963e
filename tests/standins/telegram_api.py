"""A local Telegram Bot API, close enough for the real python-telegram-bot, for tests and benchmarks.

``TelegramBotApi(token).start()`` serves ``/bot<token>/<method>`` on 127.0.0.1 and answers the way
api.telegram.org does: ``{"ok": true, "result": ...}`` on success and
``{"ok": false, "error_code": N, "description": "..."}`` (plus ``parameters.retry_after`` on 429) on
failure, always as ``application/json``. Parameters are read from the query string and from JSON,
multipart or urlencoded bodies; python-telegram-bot sends urlencoded forms whose non-string values
are JSON-encoded, so those are decoded back (``chat_id`` to an int, ``reply_markup`` to a dict).

The ``*_update`` helpers build Update JSON like the one Telegram delivers, to queue with
``push_update`` (served by ``getUpdates``) or to post to a webhook.

Nothing here does I/O until ``start()``.
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP
from http import HTTPStatus
from typing import Any, TypeGuard, cast
from urllib.parse import parse_qs, urlsplit

from tests.standins.server import HttpStandin, wait_for_items

JsonDict = dict[str, Any]
Answer = tuple[int, JsonDict]

MAX_TEXT_LENGTH = 4096
BOT_FIRST_NAME = "Matchmaker"
BOT_USERNAME = "matchmaker_bot"
CHAT_ACTIONS = frozenset({"typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
                          "upload_document", "choose_sticker", "find_location", "record_video_note",
                          "upload_video_note"})
PARSE_MODES = frozenset({"html", "markdown", "markdownv2"})

# Parameters whose values python-telegram-bot JSON-encodes in a form (everything that is not a plain string).
_JSON_FIELDS = frozenset({
    "chat_id", "message_id", "message_thread_id", "reply_markup", "reply_parameters", "link_preview_options",
    "entities", "caption_entities", "disable_notification", "protect_content", "allow_sending_without_reply",
    "disable_web_page_preview", "reply_to_message_id", "offset", "limit", "timeout", "allowed_updates",
    "commands", "scope", "cache_time", "show_alert", "max_connections", "drop_pending_updates",
})
_COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
_SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
_helper_ids = itertools.count(1)

BLOCKED = "Forbidden: bot was blocked by the user"
CHAT_NOT_FOUND = "Bad Request: chat not found"
CHAT_ID_EMPTY = "Bad Request: chat_id is empty"
TEXT_EMPTY = "Bad Request: message text is empty"
TEXT_TOO_LONG = "Bad Request: message is too long"
BAD_MARKUP = "Bad Request: can't parse reply keyboard markup JSON object"
NOT_MODIFIED = ("Bad Request: message is not modified: specified new message content and reply markup are exactly "
                "the same as a current content and reply markup of the message")
WEBHOOK_CONFLICT = ("Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
                    "the webhook first")
POLL_CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
_DESCRIPTIONS = {400: "Bad Request", 401: "Unauthorized", 403: BLOCKED, 404: "Not Found", 409: "Conflict",
                 500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
                 504: "Gateway Timeout"}


# ----------------------------------------------------------------------------------------------- answers

def ok(result: Any, description: str | None = None) -> Answer:
    """A successful Bot API answer."""
    body: JsonDict = {"ok": True, "result": result}
    if description:
        body["description"] = description
    return 200, body


def error(status: int, description: str, parameters: JsonDict | None = None) -> Answer:
    """A failed Bot API answer: ``{"ok": false, "error_code": status, "description": ...}``."""
    body: JsonDict = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return status, body


def failure(status: int, retry_after: int = 1) -> Answer:
    """The answer Telegram gives for ``status``: 429 with ``retry_after``, otherwise its usual description."""
    if status == HTTPStatus.TOO_MANY_REQUESTS:
        return error(status, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})
    try:
        default = HTTPStatus(status).phrase
    except ValueError:
        default = "Unknown Error"
    return error(status, _DESCRIPTIONS.get(status, default))


# ------------------------------------------------------------------------------------------- parameters

def fields_of(content_type: str, raw: bytes) -> JsonDict:
    """The request body's parameters, however the client encoded them (JSON, multipart or urlencoded)."""
    if not raw:
        return {}
    if content_type.startswith("application/json"):
        loaded = json.loads(raw)
        return dict(loaded) if isinstance(loaded, dict) else {}
    if content_type.startswith("multipart/form-data"):
        message = cast(EmailMessage, BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw))
        return {str(part.get_param("name", header="content-disposition")): part.get_content()
                for part in message.iter_parts()}
    return query_fields(raw.decode("utf-8", "replace"))


def query_fields(query: str) -> JsonDict:
    """A query string's (or urlencoded form's) parameters, first value of each, blanks kept."""
    return {key: values[0] for key, values in parse_qs(query, keep_blank_values=True).items()}


def decode_fields(fields: Mapping[str, Any]) -> JsonDict:
    """The parameters with JSON-encoded values decoded (``"4242"`` -> 4242, reply_markup -> dict)."""
    return {key: _decode_value(key, value) for key, value in fields.items()}


def _decode_value(key: str, value: Any) -> Any:
    if key not in _JSON_FIELDS or not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def is_int(value: Any) -> TypeGuard[int]:
    """Whether ``value`` is an int (and not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _int_or(value: Any, default: int) -> int:
    return value if is_int(value) else default


# ------------------------------------------------------------------------------------------ update JSON

def bot_user(token: str = "1:standin") -> JsonDict:
    """The bot's User object; its id is the token's numeric part, as on Telegram."""
    head = token.split(":", 1)[0]
    return {"id": int(head) if head.isdigit() else 1, "is_bot": True, "first_name": BOT_FIRST_NAME,
            "username": BOT_USERNAME}


def user(user_id: int, language_code: str = "en") -> JsonDict:
    """A human User object."""
    return {"id": user_id, "is_bot": False, "first_name": "Test", "last_name": f"User{abs(user_id)}",
            "username": f"user{abs(user_id)}", "language_code": language_code}


def chat(chat_id: int) -> JsonDict:
    """A Chat object: private for positive ids, a supergroup for -100…, a group otherwise."""
    if chat_id > 0:
        return {"id": chat_id, "first_name": "Test", "last_name": f"User{chat_id}", "username": f"user{chat_id}",
                "type": "private"}
    kind = "supergroup" if str(chat_id).startswith("-100") else "group"
    return {"id": chat_id, "title": f"Test {kind}", "type": kind}


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's entity offsets and lengths."""
    return len(text.encode("utf-16-le")) // 2


def command_entities(text: str) -> list[JsonDict]:
    """The bot_command entity Telegram attaches to a text starting with ``/command``."""
    match = _COMMAND.match(text)
    return [{"type": "bot_command", "offset": 0, "length": utf16_length(match.group())}] if match else []


def _user_message(chat_id: int, language_code: str, user_id: int | None) -> JsonDict:
    sender = user_id if user_id is not None else (chat_id if chat_id > 0 else 4242)
    return {"message_id": next(_helper_ids), "from": user(sender, language_code), "chat": chat(chat_id),
            "date": int(time.time())}


def _update(key: str, payload: JsonDict, update_id: int | None) -> JsonDict:
    update: JsonDict = {} if update_id is None else {"update_id": update_id}
    update[key] = payload
    return update


def _file_ids(prefix: str) -> JsonDict:
    return {"file_id": prefix + secrets.token_urlsafe(48), "file_unique_id": "AQAD" + secrets.token_urlsafe(12)}


def _media_update(chat_id: int, key: str, media: Any, caption: str | None, language_code: str,
                  update_id: int | None, user_id: int | None) -> JsonDict:
    message = _user_message(chat_id, language_code, user_id)
    message[key] = media
    if caption:
        message["caption"] = caption
    return _update("message", message, update_id)


def text_update(chat_id: int, text: str, language_code: str = "en", update_id: int | None = None,
                user_id: int | None = None) -> JsonDict:
    """An Update with a text message from the user (``/commands`` carry their bot_command entity).

    Without ``update_id`` the key is left out, and ``TelegramBotApi.push_update`` assigns the next one.
    """
    message = _user_message(chat_id, language_code, user_id)
    message["text"] = text
    entities = command_entities(text)
    if entities:
        message["entities"] = entities
    return _update("message", message, update_id)


def callback_update(chat_id: int, data: str, message_text: str = "Choose an option", message_id: int | None = None,
                    language_code: str = "en", update_id: int | None = None, user_id: int | None = None,
                    bot: JsonDict | None = None) -> JsonDict:
    """An Update with a callback_query: the user pressed the inline button ``data`` under a message of the bot."""
    sender = user_id if user_id is not None else (chat_id if chat_id > 0 else 4242)
    message: JsonDict = {
        "message_id": message_id if message_id is not None else next(_helper_ids), "from": bot or bot_user(),
        "chat": chat(chat_id), "date": int(time.time()), "text": message_text,
        "reply_markup": {"inline_keyboard": [[{"text": data[:64] or "button", "callback_data": data}]]},
    }
    query = {"id": str(secrets.randbits(62)), "from": user(sender, language_code), "message": message,
             "chat_instance": str(-secrets.randbits(62)), "data": data}
    return _update("callback_query", query, update_id)


def photo_update(chat_id: int, caption: str | None = None, language_code: str = "en", update_id: int | None = None,
                 user_id: int | None = None) -> JsonDict:
    """An Update with a photo (three sizes, as Telegram sends them) and an optional caption."""
    sizes = [{**_file_ids("AgACAgIAAxkBAAI"), "file_size": width * height // 12, "width": width, "height": height}
             for width, height in ((90, 67), (320, 240), (800, 600))]
    return _media_update(chat_id, "photo", sizes, caption, language_code, update_id, user_id)


def sticker_update(chat_id: int, emoji: str = "👍", language_code: str = "en", update_id: int | None = None,
                   user_id: int | None = None) -> JsonDict:
    """An Update with a regular (static) sticker."""
    sticker = {**_file_ids("CAACAgIAAxkBAAI"), "type": "regular", "width": 512, "height": 512, "emoji": emoji,
               "set_name": "StandinStickers", "is_animated": False, "is_video": False, "file_size": 24310,
               "thumbnail": {**_file_ids("AAMCAgADGQEAAg"), "file_size": 5416, "width": 128, "height": 128}}
    return _media_update(chat_id, "sticker", sticker, None, language_code, update_id, user_id)


def voice_update(chat_id: int, duration: int = 3, language_code: str = "en", update_id: int | None = None,
                 user_id: int | None = None) -> JsonDict:
    """An Update with a voice note (OGG/Opus)."""
    voice = {**_file_ids("AwACAgIAAxkBAAI"), "duration": duration, "mime_type": "audio/ogg",
             "file_size": 4000 * max(duration, 1)}
    return _media_update(chat_id, "voice", voice, None, language_code, update_id, user_id)


def document_update(chat_id: int, file_name: str = "report.pdf", mime_type: str = "application/pdf",
                    caption: str | None = None, language_code: str = "en", update_id: int | None = None,
                    user_id: int | None = None) -> JsonDict:
    """An Update with a document (a file sent as a file)."""
    document = {**_file_ids("BQACAgIAAxkBAAI"), "file_name": file_name, "mime_type": mime_type, "file_size": 48213}
    return _media_update(chat_id, "document", document, caption, language_code, update_id, user_id)


# ------------------------------------------------------------------------------------------ the stand-in

class TelegramBotApi(HttpStandin):
    """The Bot API for one bot token: records what it is sent, and can be told to fail.

    ``sent`` holds the decoded fields of every successful sendMessage and ``calls`` every method call
    (failed ones too), both in arrival order; read them directly or through ``wait_for_sent``.
    A scripted answer (``queue_answer``) wins over a failure window (``fail``), which wins over the
    normal checks (chat_id, text, ``blocked_chats``).
    """

    def __init__(self, token: str) -> None:
        super().__init__("the Telegram stand-in", "telegram-bot-api-standin")
        self.token = token
        self.sent: list[JsonDict] = []
        self.calls: list[tuple[str, JsonDict]] = []
        self.blocked_chats: set[int] = set()
        self._cond = threading.Condition()
        self._answers: deque[Answer] = deque()
        self._failure: tuple[float, int, int] | None = None
        self._updates: list[JsonDict] = []
        self._next_update_id = 1
        self._next_message_id = 1
        self._messages: dict[tuple[int, int], JsonDict] = {}
        self._webhook: JsonDict = {"url": ""}
        self._poll_generation = 0
        self._stopping = False
        self._methods: dict[str, Callable[[JsonDict], Answer]] = {
            "getMe": self._get_me, "sendMessage": self._send_message,
            "answerCallbackQuery": self._answer_callback_query,
            "editMessageReplyMarkup": self._edit_message_reply_markup, "setWebhook": self._set_webhook,
            "deleteWebhook": self._delete_webhook, "getWebhookInfo": self._get_webhook_info,
            "getUpdates": self._get_updates, "setMyCommands": self._true, "sendChatAction": self._send_chat_action,
            "close": self._true, "logOut": self._true,
        }
        self._by_lower_name = {name.lower(): name for name in self._methods}

    # -- lifecycle (start, stop, with, port: from HttpStandin; these hooks wake the long polls)

    def _on_start(self) -> None:
        """Lets long polls wait again."""
        self._stopping = False

    def _on_stop(self) -> None:
        """Ends the pending long polls."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/bot``: python-telegram-bot's ``base_url`` form (it appends the token)."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def bot(self) -> JsonDict:
        """The bot's User object, as getMe answers it."""
        return bot_user(self.token)

    @property
    def webhook(self) -> JsonDict:
        """The webhook set last (``url`` is "" when none), with its ``secret_token`` and options."""
        with self._cond:
            return dict(self._webhook)

    @property
    def pending_updates(self) -> list[JsonDict]:
        """The queued updates getUpdates has not had confirmed yet."""
        with self._cond:
            return list(self._updates)

    # -- scripting

    def fail(self, status: int, seconds: float, retry_after: int = 1) -> None:
        """For the next ``seconds``, sendMessage answers ``status`` the way Telegram does (429 with retry_after)."""
        with self._cond:
            self._failure = (time.monotonic() + seconds, status, retry_after)

    def queue_answer(self, status: int, body: JsonDict) -> None:
        """Scripts the answer to the next sendMessage: returned as is (a 2xx one counts the message as sent;
        an empty 2xx body is replaced by the usual Message)."""
        with self._cond:
            self._answers.append((status, body))

    def push_update(self, update: JsonDict) -> JsonDict:
        """Queues ``update`` for getUpdates (the next update_id when it has none); returns the queued copy."""
        with self._cond:
            queued = dict(update)
            queued.setdefault("update_id", self._next_update_id)
            self._next_update_id = max(self._next_update_id, int(queued["update_id"]) + 1)
            self._updates.append(queued)
            self._remember_bot_message(queued)
            self._cond.notify_all()
        return queued

    def wait_for_sent(self, count: int, timeout: float) -> list[JsonDict]:
        """Blocks until at least ``count`` messages were sent; a copy of ``sent``. AssertionError on timeout."""
        return wait_for_items(self._cond, self.sent, count, timeout, "sendMessage call(s)")

    # -- dispatch

    def _respond(self, http_method: str, path: str, content_type: str, raw: bytes) -> tuple[int, str, bytes]:
        status, body = self._answer(path, content_type, raw)
        return status, "application/json", json.dumps(body, ensure_ascii=False).encode("utf-8")

    def _answer(self, path: str, content_type: str, raw: bytes) -> Answer:
        parts = urlsplit(path)
        if not parts.path.startswith("/bot"):
            return error(404, "Not Found")
        token, _, method = parts.path[len("/bot"):].partition("/")
        try:
            fields = decode_fields({**query_fields(parts.query), **fields_of(content_type, raw)})
        except ValueError:
            return error(400, "Bad Request: can't parse JSON object")
        name = self._by_lower_name.get(method.lower(), method)
        with self._cond:
            self.calls.append((name, fields))
        if token != self.token:
            return error(401, "Unauthorized")
        handler = self._methods.get(name)
        return handler(fields) if handler else error(404, "Not Found")

    # -- methods

    def _true(self, fields: JsonDict) -> Answer:
        return ok(True)

    def _get_me(self, fields: JsonDict) -> Answer:
        return ok({**self.bot, "can_join_groups": True, "can_read_all_group_messages": False,
                   "supports_inline_queries": False, "can_connect_to_business": False, "has_main_web_app": False})

    def _send_message(self, fields: JsonDict) -> Answer:
        with self._cond:
            scripted = self._answers.popleft() if self._answers else None
            failing = self._failure if self._failure and self._failure[0] > time.monotonic() else None
        if scripted is not None:
            status, body = scripted
            if not 200 <= status < 300:
                return scripted
            message = self._accept(fields)
            return (status, body) if body else ok(message)
        if failing is not None:
            return failure(failing[1], failing[2])
        problem = message_problem(fields)
        if problem:
            return error(400, problem)
        if fields["chat_id"] in self.blocked_chats:
            return error(403, BLOCKED)
        return ok(self._accept(fields))

    def _accept(self, fields: JsonDict) -> JsonDict:
        with self._cond:
            chat_id = _int_or(fields.get("chat_id"), 0)
            message: JsonDict = {"message_id": self._next_message_id, "from": self.bot, "chat": chat(chat_id),
                                 "date": int(time.time()), "text": str(fields.get("text", ""))}
            markup = inline_markup(fields.get("reply_markup"))
            if markup:
                message["reply_markup"] = markup
            self._next_message_id += 1
            self._messages[(chat_id, message["message_id"])] = message
            self.sent.append(fields)
            self._cond.notify_all()
            return dict(message)

    def _answer_callback_query(self, fields: JsonDict) -> Answer:
        if not fields.get("callback_query_id"):
            return error(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        return ok(True)

    def _edit_message_reply_markup(self, fields: JsonDict) -> Answer:
        if fields.get("inline_message_id"):
            return ok(True)
        chat_id, message_id, markup = fields.get("chat_id"), fields.get("message_id"), fields.get("reply_markup")
        problem = chat_problem(chat_id) or (None if is_int(message_id) else
                                            "Bad Request: message identifier is not specified")
        if problem or (markup not in (None, "") and not isinstance(markup, dict)):
            return error(400, problem or BAD_MARKUP)
        return self._edit_markup((_int_or(chat_id, 0), _int_or(message_id, 0)), inline_markup(markup))

    def _edit_markup(self, key: tuple[int, int], markup: JsonDict | None) -> Answer:
        """Replaces a message's inline keyboard; a message the stand-in never saw is made up on the spot."""
        with self._cond:
            known = self._messages.get(key)
            if known is not None and known.get("reply_markup") == markup:
                return error(400, NOT_MODIFIED)
            message = dict(known) if known else {"message_id": key[1], "from": self.bot, "chat": chat(key[0]),
                                                 "date": int(time.time()), "text": ""}
            message.pop("reply_markup", None)
            if markup:
                message["reply_markup"] = markup
            message["edit_date"] = int(time.time())
            self._messages[key] = message
        return ok(dict(message))

    def _set_webhook(self, fields: JsonDict) -> Answer:
        url = str(fields.get("url") or "")
        if not url:
            return self._delete_webhook(fields)
        secret = fields.get("secret_token")
        if secret not in (None, "") and not _SECRET_TOKEN.fullmatch(str(secret)):
            return error(400, "Bad Request: secret token contains unallowed characters")
        with self._cond:
            already = self._webhook.get("url") == url
            self._webhook = {"url": url, "secret_token": secret or None,
                             "max_connections": _int_or(fields.get("max_connections"), 40),
                             "allowed_updates": fields.get("allowed_updates")}
            self._drop_pending(fields)
        return ok(True, "Webhook is already set" if already else "Webhook was set")

    def _delete_webhook(self, fields: JsonDict) -> Answer:
        with self._cond:
            had = bool(self._webhook.get("url"))
            self._webhook = {"url": ""}
            self._drop_pending(fields)
        return ok(True, "Webhook was deleted" if had else "Webhook is already deleted")

    def _drop_pending(self, fields: JsonDict) -> None:
        if fields.get("drop_pending_updates") is True:
            self._updates.clear()

    def _get_webhook_info(self, fields: JsonDict) -> Answer:
        with self._cond:
            info: JsonDict = {"url": self._webhook["url"], "has_custom_certificate": False,
                              "pending_update_count": len(self._updates)}
            if info["url"]:
                info["max_connections"] = self._webhook["max_connections"]
                if self._webhook.get("allowed_updates"):
                    info["allowed_updates"] = self._webhook["allowed_updates"]
        return ok(info)

    def _get_updates(self, fields: JsonDict) -> Answer:
        offset = _int_or(fields.get("offset"), 0)
        limit = min(max(_int_or(fields.get("limit"), 100), 1), 100)
        deadline = time.monotonic() + max(_int_or(fields.get("timeout"), 0), 0)
        with self._cond:
            if self._webhook["url"]:
                return error(409, WEBHOOK_CONFLICT)
            self._poll_generation += 1
            generation = self._poll_generation
            self._cond.notify_all()
            self._confirm(offset)
            while not self._updates and not self._stopping and generation == self._poll_generation:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            if generation != self._poll_generation:
                return error(409, POLL_CONFLICT)
            return ok([dict(update) for update in self._updates[:limit]])

    def _confirm(self, offset: int) -> None:
        """Forgets the updates getUpdates' ``offset`` confirms (negative: keeps only the last -offset)."""
        if offset > 0:
            self._updates = [update for update in self._updates if update["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]

    def _send_chat_action(self, fields: JsonDict) -> Answer:
        problem = chat_problem(fields.get("chat_id"))
        if problem:
            return error(400, problem)
        if fields.get("action") not in CHAT_ACTIONS:
            return error(400, "Bad Request: wrong parameter action in request")
        if fields["chat_id"] in self.blocked_chats:
            return error(403, BLOCKED)
        return ok(True)

    def _remember_bot_message(self, update: JsonDict) -> None:
        """Keeps the bot's message under a queued callback query, so editMessageReplyMarkup finds it."""
        message = (update.get("callback_query") or {}).get("message")
        if not isinstance(message, dict):
            return
        chat_id, message_id = (message.get("chat") or {}).get("id"), message.get("message_id")
        if is_int(chat_id) and is_int(message_id):
            self._messages[(chat_id, message_id)] = dict(message)


def chat_problem(chat_id: Any) -> str | None:
    """What Telegram says about a chat_id: empty, or not a chat it knows (anything but an int here)."""
    if chat_id is None or chat_id == "":
        return CHAT_ID_EMPTY
    return None if is_int(chat_id) else CHAT_NOT_FOUND


def message_problem(fields: JsonDict) -> str | None:
    """Telegram's 400 description for a sendMessage it would refuse, or None."""
    text = fields.get("text")
    parse_mode = fields.get("parse_mode")
    markup = fields.get("reply_markup")
    if chat_problem(fields.get("chat_id")):
        return chat_problem(fields.get("chat_id"))
    if not isinstance(text, str) or not text.strip():
        return TEXT_EMPTY
    if len(text) > MAX_TEXT_LENGTH:
        return TEXT_TOO_LONG
    if parse_mode not in (None, "") and str(parse_mode).lower() not in PARSE_MODES:
        return "Bad Request: unsupported parse_mode"
    if markup not in (None, "") and not isinstance(markup, dict):
        return BAD_MARKUP
    return None


def inline_markup(markup: Any) -> JsonDict | None:
    """The reply_markup a Message carries back: only an inline keyboard is echoed."""
    if isinstance(markup, dict) and markup.get("inline_keyboard"):
        return {"inline_keyboard": markup["inline_keyboard"]}
    return None
