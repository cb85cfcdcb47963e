"""The local Telegram and WeChat API stand-ins, driven by the real python-telegram-bot and wechatpy clients."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
import requests
import telegram
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter
from wechatpy import WeChatClient
from wechatpy.exceptions import APILimitedException, WeChatClientException

from tests.standins.telegram_api import (
    TelegramBotApi,
    callback_update,
    document_update,
    photo_update,
    sticker_update,
    text_update,
    voice_update,
)
from tests.standins.wechat_api import WeChatApi

TOKEN = "123456:TEST-token"
APP_ID = "wx0123456789abcdef"
APP_SECRET = "0123456789abcdef0123456789abcdef"
OPENID = "oABCD1234efgh5678ijkl9012mnop"

T = TypeVar("T")


@pytest.fixture()
def telegram_api() -> Iterator[TelegramBotApi]:
    with TelegramBotApi(TOKEN) as api:
        yield api


@pytest.fixture()
def wechat_api() -> Iterator[WeChatApi]:
    with WeChatApi(APP_ID, APP_SECRET) as api:
        yield api


def with_bot(api: TelegramBotApi, use: Callable[[telegram.Bot], Awaitable[T]], token: str = TOKEN) -> T:
    """Runs ``use`` with an initialized real Bot pointed at the stand-in."""
    async def run() -> T:
        bot = telegram.Bot(token, base_url=api.base_url)
        await bot.initialize()
        try:
            return await use(bot)
        finally:
            await bot.shutdown()
    return asyncio.run(run())


def seconds_of(retry_after: int | dtm.timedelta) -> float:
    return retry_after.total_seconds() if isinstance(retry_after, dtm.timedelta) else float(retry_after)


def raw_post(url: str, fields: dict[str, Any]) -> tuple[int, str, dict[str, Any]]:
    """POSTs JSON with the standard library; (status, content type, decoded body), errors included."""
    request = urllib.request.Request(url, data=json.dumps(fields).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers["Content-Type"], json.loads(response.read())
    except urllib.error.HTTPError as failed:
        return failed.code, failed.headers["Content-Type"], json.loads(failed.read())


# --------------------------------------------------------------------------------------------- Telegram

def test_send_message_is_answered_with_a_message_and_recorded(telegram_api: TelegramBotApi) -> None:
    keyboard = telegram.InlineKeyboardMarkup([[telegram.InlineKeyboardButton("Open", callback_data="/open")]])

    async def use(bot: telegram.Bot) -> list[telegram.Message]:
        return [await bot.send_message(4242, "<b>hello</b>", parse_mode="HTML", reply_markup=keyboard),
                await bot.send_message(4242, "again")]

    first, second = with_bot(telegram_api, use)
    assert first.chat.id == 4242 and first.chat.type == "private" and first.text == "<b>hello</b>"
    assert first.from_user is not None and first.from_user.is_bot and first.from_user.id == 123456
    assert second.message_id == first.message_id + 1
    assert first.reply_markup is not None and first.reply_markup.inline_keyboard[0][0].callback_data == "/open"
    sent = telegram_api.wait_for_sent(2, timeout=1)
    assert sent[0] == {"chat_id": 4242, "text": "<b>hello</b>", "parse_mode": "HTML",
                       "reply_markup": {"inline_keyboard": [[{"text": "Open", "callback_data": "/open"}]]}}
    assert sent[1]["text"] == "again" and "reply_markup" not in sent[1]
    assert [name for name, _ in telegram_api.calls] == ["getMe", "sendMessage", "sendMessage"]


def test_a_429_window_raises_retry_after_then_sends_again(telegram_api: TelegramBotApi) -> None:
    telegram_api.fail(429, seconds=0.3, retry_after=7)

    async def use(bot: telegram.Bot) -> telegram.Message:
        with pytest.raises(RetryAfter) as raised:
            await bot.send_message(4242, "hello")
        assert seconds_of(raised.value.retry_after) == 7
        await asyncio.sleep(0.35)
        return await bot.send_message(4242, "hello")

    assert with_bot(telegram_api, use).text == "hello"
    assert len(telegram_api.sent) == 1 and len(telegram_api.calls) == 3


@pytest.mark.parametrize(("status", "description"), [(500, "Internal Server Error"), (502, "Bad Gateway")])
def test_server_errors_raise_network_errors(telegram_api: TelegramBotApi, status: int, description: str) -> None:
    telegram_api.fail(status, seconds=5)

    async def use(bot: telegram.Bot) -> None:
        with pytest.raises(NetworkError, match=description):
            await bot.send_message(4242, "hello")

    with_bot(telegram_api, use)
    assert telegram_api.sent == []
    _, _, body = raw_post(f"{telegram_api.base_url}{TOKEN}/sendMessage", {"chat_id": 1, "text": "x"})
    assert body == {"ok": False, "error_code": status, "description": description}


def test_refusals_raise_forbidden_and_bad_request(telegram_api: TelegramBotApi) -> None:
    telegram_api.blocked_chats.add(777)

    async def use(bot: telegram.Bot) -> None:
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(777, "hello")
        with pytest.raises(BadRequest, match="(?i)message text is empty"):
            await bot.send_message(4242, "")
        with pytest.raises(BadRequest, match="(?i)message is too long"):
            await bot.send_message(4242, "x" * 4097)
        with pytest.raises(BadRequest, match="(?i)chat not found"):
            await bot.send_message("@nobody", "hello")
        await bot.send_message(4242, "x" * 4096)

    with_bot(telegram_api, use)
    assert [len(item["text"]) for item in telegram_api.sent] == [4096]


def test_error_bodies_have_the_bot_api_shape(telegram_api: TelegramBotApi) -> None:
    telegram_api.blocked_chats.add(777)
    base = telegram_api.base_url
    assert raw_post(f"{base}{TOKEN}/sendMessage", {"chat_id": 777, "text": "hi"}) == (403, "application/json", {
        "ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"})
    assert raw_post(f"{base}{TOKEN}/sendMessage", {"text": "hi"})[2]["description"] == "Bad Request: chat_id is empty"
    assert raw_post(f"{base}{TOKEN}/noSuchMethod", {}) == (
        404, "application/json", {"ok": False, "error_code": 404, "description": "Not Found"})
    assert raw_post(f"{base}999:wrong/getMe", {}) == (
        401, "application/json", {"ok": False, "error_code": 401, "description": "Unauthorized"})
    telegram_api.fail(429, seconds=5, retry_after=3)
    assert raw_post(f"{base}{TOKEN}/sendMessage", {"chat_id": 1, "text": "x"})[2] == {
        "ok": False, "error_code": 429, "description": "Too Many Requests: retry after 3",
        "parameters": {"retry_after": 3}}


def test_a_wrong_token_is_refused(telegram_api: TelegramBotApi) -> None:
    async def run() -> None:
        with pytest.raises(InvalidToken):
            await telegram.Bot("999:wrong", base_url=telegram_api.base_url).initialize()

    asyncio.run(run())


def test_queued_answers_are_given_once_in_order(telegram_api: TelegramBotApi) -> None:
    telegram_api.queue_answer(400, {"ok": False, "error_code": 400, "description": "Bad Request: can't parse entities"})
    telegram_api.queue_answer(200, {})

    async def use(bot: telegram.Bot) -> list[telegram.Message]:
        with pytest.raises(BadRequest, match="(?i)can't parse entities"):
            await bot.send_message(4242, "one")
        return [await bot.send_message(4242, "two"), await bot.send_message(4242, "three")]

    assert [message.text for message in with_bot(telegram_api, use)] == ["two", "three"]
    assert [item["text"] for item in telegram_api.sent] == ["two", "three"]


def test_get_updates_returns_a_queued_update_and_honours_the_offset(telegram_api: TelegramBotApi) -> None:
    queued = telegram_api.push_update(text_update(4242, "/start hello", language_code="zh-hans"))

    async def use(bot: telegram.Bot) -> tuple[tuple[telegram.Update, ...], tuple[telegram.Update, ...]]:
        first = await bot.get_updates(timeout=1)
        return first, await bot.get_updates(offset=first[-1].update_id + 1, timeout=0)

    first, after = with_bot(telegram_api, use)
    assert len(first) == 1 and first[0].update_id == queued["update_id"] == 1
    message = first[0].message
    assert message is not None and message.text == "/start hello" and message.chat.id == 4242
    assert message.from_user is not None and message.from_user.language_code == "zh-hans"
    assert message.entities[0].type == "bot_command" and message.entities[0].length == len("/start")
    assert after == () and telegram_api.pending_updates == []


def test_get_updates_long_polls_until_an_update_arrives(telegram_api: TelegramBotApi) -> None:
    timer = threading.Timer(0.3, telegram_api.push_update, [text_update(4242, "late")])

    async def use(bot: telegram.Bot) -> tuple[tuple[telegram.Update, ...], float]:
        started = time.monotonic()
        timer.start()
        updates = await bot.get_updates(timeout=5)
        return updates, time.monotonic() - started

    updates, waited = with_bot(telegram_api, use)
    assert 0.25 <= waited < 3 and updates[0].message is not None and updates[0].message.text == "late"

    async def empty(bot: telegram.Bot) -> tuple[tuple[telegram.Update, ...], float]:
        started = time.monotonic()
        return await bot.get_updates(offset=updates[0].update_id + 1, timeout=1), time.monotonic() - started

    nothing, waited = with_bot(telegram_api, empty)
    assert nothing == () and 0.9 <= waited < 3


def test_update_helpers_parse_as_ptb_updates(telegram_api: TelegramBotApi) -> None:
    for update in (callback_update(4242, '/command{"command": "open"}'), photo_update(4242, caption="a plan"),
                   sticker_update(4242), voice_update(4242, duration=5), document_update(4242)):
        telegram_api.push_update(update)

    async def use(bot: telegram.Bot) -> tuple[telegram.Update, ...]:
        return await bot.get_updates(timeout=1)

    callback, photo, sticker, voice, document = with_bot(telegram_api, use)
    assert [update.update_id for update in (callback, photo, sticker, voice, document)] == [1, 2, 3, 4, 5]
    query = callback.callback_query
    assert query is not None and query.data == '/command{"command": "open"}' and query.from_user.id == 4242
    assert isinstance(query.message, telegram.Message) and query.message.from_user is not None
    assert query.message.from_user.is_bot
    assert photo.message is not None and len(photo.message.photo) == 3 and photo.message.caption == "a plan"
    assert sticker.message is not None and sticker.message.sticker is not None
    assert sticker.message.sticker.emoji == "👍"
    assert voice.message is not None and voice.message.voice is not None
    assert voice.message.voice.mime_type == "audio/ogg"
    assert document.message is not None and document.message.document is not None
    assert document.message.document.file_name == "report.pdf"
    assert {update.effective_chat.id for update in (callback, photo, sticker, voice, document)
            if update.effective_chat} == {4242}


def test_webhooks_callbacks_and_the_other_methods(telegram_api: TelegramBotApi) -> None:
    pressed = telegram_api.push_update(callback_update(4242, "yes", message_id=55))

    async def use(bot: telegram.Bot) -> None:
        assert await bot.answer_callback_query(pressed["callback_query"]["id"], text="Done")
        edited = await bot.edit_message_reply_markup(chat_id=4242, message_id=55, reply_markup=None)
        assert isinstance(edited, telegram.Message) and edited.message_id == 55 and edited.reply_markup is None
        assert await bot.set_my_commands([telegram.BotCommand("start", "Start over")])
        assert await bot.send_chat_action(4242, "typing")
        assert await bot.set_webhook("https://example.test/telegram", secret_token="s3cret-token")
        info = await bot.get_webhook_info()
        assert info.url == "https://example.test/telegram" and info.pending_update_count == 1
        with pytest.raises(Conflict, match="webhook is active"):
            await bot.get_updates(timeout=0)
        assert await bot.delete_webhook(drop_pending_updates=True)
        assert (await bot.get_webhook_info()).url == "" and await bot.get_updates(timeout=0) == ()

    with_bot(telegram_api, use)
    assert telegram_api.webhook == {"url": ""}
    set_webhook = [fields for name, fields in telegram_api.calls if name == "setWebhook"]
    assert set_webhook[0]["url"] == "https://example.test/telegram"
    assert set_webhook[0]["secret_token"] == "s3cret-token"
    commands = [fields for name, fields in telegram_api.calls if name == "setMyCommands"]
    assert commands[0]["commands"] == [{"command": "start", "description": "Start over"}]


def test_wait_for_sent_says_what_was_sent_on_timeout(telegram_api: TelegramBotApi) -> None:
    with_bot(telegram_api, lambda bot: bot.send_message(4242, "only one"))
    with pytest.raises(AssertionError, match="only one"):
        telegram_api.wait_for_sent(2, timeout=0.2)


def test_stop_ends_a_pending_long_poll() -> None:
    api = TelegramBotApi(TOKEN).start()
    url = f"{api.base_url}{TOKEN}/getUpdates"
    answers: list[tuple[int, str, dict[str, Any]]] = []
    poller = threading.Thread(target=lambda: answers.append(raw_post(url, {"timeout": 30})))
    poller.start()
    time.sleep(0.2)
    started = time.monotonic()
    api.stop()
    poller.join(timeout=5)
    assert not poller.is_alive() and time.monotonic() - started < 3
    assert answers == [(200, "application/json", {"ok": True, "result": []})]


# ----------------------------------------------------------------------------------------------- WeChat

class LocalClient(WeChatClient):
    """wechatpy's client with its API base (and the token URL it hard-codes) on the stand-in."""

    def __init__(self, appid: str, secret: str, base: str) -> None:
        super().__init__(appid, secret, timeout=5)
        self.API_BASE_URL = base

    def fetch_access_token(self) -> dict[str, Any]:
        result: dict[str, Any] = self._fetch_access_token(
            url=f"{self.API_BASE_URL}token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret})
        return result


def client_for(api: WeChatApi, secret: str = APP_SECRET) -> LocalClient:
    return LocalClient(APP_ID, secret, api.api_base)


def test_send_text_is_accepted_and_recorded(wechat_api: WeChatApi) -> None:
    client = client_for(wechat_api)
    assert client.message.send_text(OPENID, "你好, matchmaker") == {"errcode": 0, "errmsg": "ok"}
    assert wechat_api.wait_for_sent(1, timeout=1) == [
        {"touser": OPENID, "msgtype": "text", "text": {"content": "你好, matchmaker"}}]
    assert wechat_api.token_fetches == 1
    assert [endpoint for endpoint, _ in wechat_api.calls] == ["token", "message/custom/send"]


def test_an_expired_token_is_refetched_by_wechatpy_and_the_message_sent_once(wechat_api: WeChatApi) -> None:
    client = client_for(wechat_api)
    client.message.send_text(OPENID, "first")
    wechat_api.expire_tokens()
    client.message.send_text(OPENID, "second")
    assert wechat_api.token_fetches == 2
    assert [body["text"]["content"] for body in wechat_api.sent] == ["first", "second"]
    assert [endpoint for endpoint, _ in wechat_api.calls] == [
        "token", "message/custom/send", "message/custom/send", "token", "message/custom/send"]


@pytest.mark.parametrize(("kind", "error", "errcode"), [
    ("busy", WeChatClientException, -1),
    ("limit", APILimitedException, 45009),
    ("http500", WeChatClientException, None),
])
def test_failure_windows_raise_then_pass(wechat_api: WeChatApi, kind: str, error: type[Exception],
                                         errcode: int | None) -> None:
    client = client_for(wechat_api)
    wechat_api.fail(kind, seconds=0.3)
    with pytest.raises(error) as raised:
        client.message.send_text(OPENID, "hello")
    assert isinstance(raised.value, WeChatClientException) and raised.value.errcode == errcode
    assert wechat_api.sent == []
    time.sleep(0.35)
    client.message.send_text(OPENID, "hello")
    assert len(wechat_api.sent) == 1


def test_refusals_carry_wechat_error_codes(wechat_api: WeChatApi) -> None:
    wechat_api.unreachable_users.add("o-gone")
    client = client_for(wechat_api)
    with pytest.raises(WeChatClientException) as gone:
        client.message.send_text("o-gone", "hello")
    assert gone.value.errcode == 45015 and "subscription is canceled" in gone.value.errmsg
    with pytest.raises(WeChatClientException) as too_long:
        client.message.send_text(OPENID, "字" * 683)  # 2049 bytes of UTF-8
    assert too_long.value.errcode == 45002
    client.message.send_text(OPENID, "字" * 682)
    with pytest.raises(WeChatClientException) as wrong_secret:
        client_for(wechat_api, secret="wrong").message.send_text(OPENID, "hello")
    assert wrong_secret.value.errcode == 40125
    assert len(wechat_api.sent) == 1 and wechat_api.token_fetches == 1


def test_raw_answers_have_the_real_shape(wechat_api: WeChatApi) -> None:
    base = wechat_api.api_base
    token = requests.get(f"{base}token", params={"grant_type": "client_credential", "appid": APP_ID,
                                                 "secret": APP_SECRET}, timeout=5)
    assert token.headers["Content-Type"] == "application/json; encoding=utf-8"
    assert token.json()["expires_in"] == 7200 and len(token.json()["access_token"]) > 100
    access_token = token.json()["access_token"]

    def send(params: dict[str, str], data: bytes) -> dict[str, Any]:
        answer: dict[str, Any] = requests.post(f"{base}message/custom/send", params=params, data=data, timeout=5).json()
        return answer

    good = json.dumps({"touser": OPENID, "msgtype": "text", "text": {"content": "hi"}}).encode()
    assert send({}, good)["errcode"] == 41001
    unknown = send({"access_token": "nope"}, good)
    assert unknown["errcode"] == 40001 and unknown["errmsg"].startswith(
        "invalid credential, access_token is invalid or not latest rid: ")
    assert send({"access_token": access_token}, b"{not json")["errcode"] == 47001
    assert send({"access_token": access_token}, good) == {"errcode": 0, "errmsg": "ok"}
    wechat_api.expire_tokens()
    assert send({"access_token": access_token}, good)["errmsg"].startswith("access_token expired rid: ")
    wrong_app = requests.get(f"{base}token", params={"grant_type": "client_credential", "appid": "wx-other",
                                                     "secret": APP_SECRET}, timeout=5).json()
    assert wrong_app["errcode"] == 40013 and wrong_app["errmsg"].startswith("invalid appid")
    wechat_api.fail("http500", seconds=5)
    failed = requests.post(f"{base}message/custom/send", params={"access_token": access_token}, data=good, timeout=5)
    assert failed.status_code == 500 and failed.headers["Content-Type"].startswith("text/html")
