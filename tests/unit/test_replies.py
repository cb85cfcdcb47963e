"""Rendering the bot's answers for the messengers."""

from __future__ import annotations

from channels.push import Button, PushMessage
from channels.replies import bot_messages, is_card, telegram_texts, utf8_chunks, wechat_text
from channels.telegram import split_text

CARD = PushMessage("1. Graphene <coating> & more\nUniversity · Jiangsu · TRL 6 · score 0.81\nWhy: shares coating",
                   (Button("Contact #1", '/contact{"match_rank": "1"}'), Button("Similar", "/more_like_this")))


def test_rest_replies_become_messages_and_junk_is_dropped() -> None:
    reply = [{"recipient_id": "x", "text": "hi", "buttons": [{"title": "A", "payload": "/a"}, {"title": 3}]},
             {"text": "  "}, "junk", {"image": "http://example.org/p.png"},
             {"attachment": {"type": "template", "payload": {"elements": [
                 {"title": "1. T", "subtitle": "S", "buttons": [{"title": "B", "payload": "/b"}]}]}}}]
    messages = bot_messages(reply)
    assert [m.text for m in messages] == ["hi", "http://example.org/p.png", "1. T\nS"]
    assert messages[0].buttons == (Button("A", "/a"),) and messages[2].buttons == (Button("B", "/b"),)
    assert bot_messages({"not": "a list"}) == []


def test_a_card_on_telegram_has_its_title_bold_and_everything_escaped() -> None:
    assert is_card(CARD) and not is_card(PushMessage("1. just a line", CARD.buttons))
    [part] = telegram_texts(CARD, split_text)
    assert part.html.startswith("<b>1. Graphene &lt;coating&gt; &amp; more</b>\n")
    assert part.buttons == CARD.buttons
    plain = telegram_texts(PushMessage("a < b"), split_text)
    assert [p.html for p in plain] == ["a &lt; b"]


def test_long_telegram_texts_keep_the_buttons_on_the_last_part() -> None:
    long = PushMessage("\n".join("line " + "x" * 100 for _ in range(100)), CARD.buttons)
    parts = telegram_texts(long, split_text)
    assert len(parts) == 3 and [bool(p.buttons) for p in parts] == [False, False, True]


def test_wechat_gets_short_cards_and_numbered_choices() -> None:
    text, payloads = wechat_text([PushMessage("I understood: coatings"), CARD,
                                  PushMessage("More?", (Button("More", "/more"),))], "zh")
    assert "Why:" not in text and "1. Graphene" in text
    assert "回复 1：Contact #1" in text and "回复 2：Similar" in text and "回复 3：More" in text
    assert payloads == ['/contact{"match_rank": "1"}', "/more_like_this", "/more"]
    assert "Reply 1: Contact #1" in wechat_text([CARD], "en")[0]


def test_utf8_chunks_fit_the_byte_limit_and_lose_nothing() -> None:
    text = "\n".join(["技术难题" * 100] * 5 + ["x" * 5000])
    parts = utf8_chunks(text, 2000)
    assert all(len(p.encode()) <= 2000 for p in parts)
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")
    assert utf8_chunks("") == [""]
