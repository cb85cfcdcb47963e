"""The bot's answers as messengers show them: Rasa's REST messages in, channel texts out.

Rasa answers a turn with a list of messages (``text``, ``buttons``, sometimes an
``attachment`` carousel or an ``image``). :func:`bot_messages` turns them into
:class:`~channels.push.PushMessage` values, the same shape the thread relay pushes; the
renderers below shape them for one messenger: Telegram gets HTML with the card title in bold
and inline keyboards, WeChat gets one short text with numbered choices.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from channels.push import Button, PushMessage
from matchmaker.messages import say

CARD_HEAD = re.compile(r"^\d+\.\s")
WECHAT_MAX_BYTES = 2000


def buttons_of(raw: object) -> tuple[Button, ...]:
    """The well-formed ``{"title", "payload"}`` buttons of ``raw`` (anything else is left out)."""
    if not isinstance(raw, list):
        return ()
    found = []
    for item in raw:
        if isinstance(item, Mapping) and isinstance(item.get("title"), str) and isinstance(item.get("payload"), str):
            found.append(Button(item["title"], item["payload"]))
    return tuple(found)


def _carousel(attachment: Mapping[str, Any]) -> list[PushMessage]:
    payload = attachment.get("payload") if isinstance(attachment.get("payload"), Mapping) else {}
    elements = payload.get("elements") if isinstance(payload, Mapping) else None
    messages = []
    for element in elements if isinstance(elements, list) else []:
        if isinstance(element, Mapping):
            text = "\n".join(str(element.get(key, "")) for key in ("title", "subtitle") if element.get(key))
            messages.append(PushMessage(text or "·", buttons_of(element.get("buttons"))))
    return messages


HANDOFF_MARK = "handoff"


def relayed_to_person(reply: object) -> bool:
    """Whether a Rasa reply says the user's text went to an intermediary (the assistant stays quiet)."""
    return any(isinstance(item, Mapping) and isinstance(item.get("custom"), Mapping)
               and HANDOFF_MARK in item["custom"] for item in (reply if isinstance(reply, list) else []))


def bot_messages(reply: object) -> list[PushMessage]:
    """The messages of a Rasa REST reply (anything that is not a list of messages gives none)."""
    messages: list[PushMessage] = []
    for item in reply if isinstance(reply, list) else []:
        if not isinstance(item, Mapping):
            continue
        if isinstance(item.get("text"), str) and item["text"].strip():
            messages.append(PushMessage(item["text"], buttons_of(item.get("buttons"))))
        elif isinstance(item.get("attachment"), Mapping):
            messages.extend(_carousel(item["attachment"]))
        elif isinstance(item.get("image"), str):
            messages.append(PushMessage(item["image"]))
    return messages


def is_card(message: PushMessage) -> bool:
    """Whether a message is a match card ("1. Title" then its facts, with buttons)."""
    return bool(message.buttons) and bool(CARD_HEAD.match(message.text)) and "\n" in message.text


@dataclass(frozen=True)
class TelegramText:
    """One Telegram message: HTML text and the buttons under it."""

    html: str
    buttons: tuple[Button, ...]


def telegram_texts(message: PushMessage, split: Any) -> list[TelegramText]:
    """``message`` as Telegram messages: escaped HTML, a card's title in bold, the buttons on the last part.

    ``split`` cuts a plain text at Telegram's limit (it is cut before escaping, so no tag is
    ever cut; escaping makes a part at most a few characters longer).
    """
    parts = split(message.text)
    rendered = []
    for number, part in enumerate(parts):
        if number == 0 and is_card(message):
            head, _, rest = part.partition("\n")
            text = f"<b>{html.escape(head)}</b>\n{html.escape(rest)}"
        else:
            text = html.escape(part)
        rendered.append(TelegramText(text, message.buttons if number == len(parts) - 1 else ()))
    return rendered


def _short(message: PushMessage) -> str:
    """A card as two lines (title and facts); any other message as it is."""
    if is_card(message):
        return "\n".join(message.text.split("\n")[:2])
    return message.text


def wechat_text(messages: Sequence[PushMessage], language: str) -> tuple[str, list[str]]:
    """All ``messages`` as one WeChat text, buttons as numbered choices, and the choices' payloads.

    Choice ``n`` (1-based) sends ``payloads[n - 1]`` when the user replies with the number.
    """
    blocks: list[str] = []
    payloads: list[str] = []
    for message in messages:
        lines = [_short(message)]
        for button in message.buttons:
            payloads.append(button.payload)
            lines.append(say("choice_line", language, number=len(payloads), title=button.title))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks), payloads


def utf8_chunks(text: str, limit: int = WECHAT_MAX_BYTES) -> list[str]:
    """``text`` in parts of at most ``limit`` UTF-8 bytes, cut at line ends where possible."""
    parts: list[str] = []
    current = ""
    for line in _lines_within(text, limit):
        candidate = f"{current}\n{line}" if current else line
        if len(candidate.encode()) > limit:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current or not parts:
        parts.append(current)
    return [part for part in parts if part] or [""]


def _lines_within(text: str, limit: int) -> Iterable[str]:
    """The lines of ``text``, any line longer than ``limit`` bytes cut into pieces that fit."""
    for line in text.split("\n"):
        while len(line.encode()) > limit:
            piece = line.encode()[:limit].decode("utf-8", errors="ignore")
            yield piece
            line = line[len(piece):]
        yield line
