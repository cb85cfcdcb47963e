"""The Telegram and WeChat channels through the real gateways, PTB and wechatpy, against local API stand-ins.

The shared stack runs the Telegram gateway in webhook mode and the WeChat gateway in plain
mode; these tests send them the webhook requests Telegram's and WeChat's servers would send
and read what the gateways (and the action server's pushes) sent to the stand-ins.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from bot.stack import APP_PYTHON, Stack, _get
from matchmaker.settings import PROJECT_ROOT
from tests.conftest import (
    MESSENGERS,
    TELEGRAM_TOKEN,
    TELEGRAM_WEBHOOK_SECRET,
    WECHAT_APP_ID,
    WECHAT_PORT,
    WECHAT_TOKEN,
)
from tests.integration.test_negotiation import database, invite
from tests.standins.senders import WeChatFollower, get, telegram_webhook, wechat_signature
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

pytestmark = pytest.mark.integration

WEBHOOK = MESSENGERS.webhook_url
WECHAT = f"http://127.0.0.1:{WECHAT_PORT}/wechat"
ZH_DEMAND = "我们公司需要提高水稻产量的种植技术，最好是成熟技术"
CATHODE_DEMAND = "我们是一家电池企业，想找高镍三元正极材料的包覆改性技术，提高循环寿命"
_CHATS = count(int(time.time()) % 100000 * 1000)


def new_chat_id() -> int:
    return next(_CHATS)


@dataclass
class TelegramUser:
    """A Telegram user writing to the bot: updates go to the gateway's webhook, answers come from the stand-in."""

    api: TelegramBotApi
    chat_id: int
    language: str = "zh"

    def received(self) -> list[dict[str, Any]]:
        return [m for m in self.api.sent if m.get("chat_id") == self.chat_id]

    def send(self, update: dict[str, Any], answers: int = 1, timeout: float = 60.0) -> list[dict[str, Any]]:
        """Deliver ``update`` and wait for ``answers`` more messages to this chat; the new ones."""
        before = len(self.received())
        assert telegram_webhook(WEBHOOK, update, TELEGRAM_WEBHOOK_SECRET) == 200
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.received()) >= before + answers:
                return self.settled(before)
            time.sleep(0.05)
        raise AssertionError(f"chat {self.chat_id} got {self.received()[before:]}")

    def settled(self, before: int, quiet: float = 0.8) -> list[dict[str, Any]]:
        """The messages after ``before`` once none has come for ``quiet`` seconds."""
        seen = len(self.received())
        while True:
            time.sleep(quiet)
            now = len(self.received())
            if now == seen:
                return self.received()[before:]
            seen = now

    def say(self, text: str, answers: int = 1) -> list[dict[str, Any]]:
        return self.send(text_update(self.chat_id, text, language_code=self.language), answers)


def joined(messages: list[dict[str, Any]]) -> str:
    return "\n".join(str(m.get("text", "")) for m in messages)


def callbacks(messages: list[dict[str, Any]]) -> list[str]:
    return [button["callback_data"] for m in messages if m.get("reply_markup")
            for row in m["reply_markup"].get("inline_keyboard", []) for button in row if "callback_data" in button]


def tracker_texts(stack: Stack, sender: str) -> list[str]:
    status, body = _get(f"{stack.config.rasa_url}/conversations/{quote(sender, safe=':')}/tracker?token={stack.token}")
    assert status == 200
    return [e.get("text") for e in json.loads(body)["events"] if e.get("event") == "user"]


def test_a_chinese_match_conversation_on_telegram(stack: Stack, bot_api: TelegramBotApi) -> None:
    user = TelegramUser(bot_api, new_chat_id())
    assert "您好" in joined(user.send(text_update(user.chat_id, "/start", language_code="zh"))) or \
        "你好" in joined(user.received())
    found = user.say(ZH_DEMAND)
    text = joined(found)
    assert "我理解的是" in text
    cards = [m for m in found if re.match(r"<b>\d+\. ", str(m.get("text")))]
    assert len(cards) == 5 and all(m.get("parse_mode") == "HTML" for m in cards)
    assert all("理由" in str(m["text"]) for m in cards)
    contact = next(data for data in callbacks(cards) if data.startswith("/contact"))
    opened = user.send(callback_update(user.chat_id, contact, language_code="zh"))
    assert re.search(r"#\d+", joined(opened)) and "洽谈" in joined(opened)
    assert any(call[0] == "answerCallbackQuery" for call in bot_api.calls)
    threads = user.send(text_update(user.chat_id, "/threads", language_code="zh"))
    assert "洽谈" in joined(threads)
    helped = user.send(text_update(user.chat_id, "/help", language_code="zh"))
    assert helped and detect_zh(joined(helped))
    assert "登录码" in joined(user.send(text_update(user.chat_id, "/login", language_code="zh")))
    said = tracker_texts(stack, f"tg:{user.chat_id}")
    assert ZH_DEMAND in said and contact in said and "/login" not in said


def detect_zh(text: str) -> bool:
    return bool(re.search(r"[\u4e00-\u9fff]", text))


def test_telegram_non_text_messages_get_a_polite_text_only_answer(bot_api: TelegramBotApi, stack: Stack) -> None:
    chat_id = new_chat_id()
    user = TelegramUser(bot_api, chat_id, language="en")
    for update in (photo_update(chat_id), sticker_update(chat_id), voice_update(chat_id), document_update(chat_id)):
        assert "only read text" in joined(user.send(update))
    zh_chat = new_chat_id()
    assert "只能处理文字" in joined(TelegramUser(bot_api, zh_chat).send(photo_update(zh_chat, language_code="zh")))
    assert tracker_texts(stack, f"tg:{chat_id}") == [] and tracker_texts(stack, f"tg:{zh_chat}") == []


def test_forged_telegram_webhooks_are_refused_and_reach_nothing(stack: Stack, bot_api: TelegramBotApi) -> None:
    chat_id = new_chat_id()
    update = text_update(chat_id, "hello")
    assert telegram_webhook(WEBHOOK, update, None) == 403
    assert telegram_webhook(WEBHOOK, update, "wrong-secret") == 403
    time.sleep(1.5)
    assert not [m for m in bot_api.sent if m.get("chat_id") == chat_id]
    assert tracker_texts(stack, f"tg:{chat_id}") == []


def test_messenger_sender_ids_cannot_be_claimed_on_rest_or_the_gateway_route(stack: Stack) -> None:
    from tests.standins.senders import post

    body = json.dumps({"sender": "tg:424242", "message": "my threads"}).encode()
    status, reply = post(f"{stack.config.rasa_url}/webhooks/rest/webhook", body, {"Content-Type": "application/json"})
    assert status == 200 and "belong to the Telegram" in reply.decode()
    status, _ = post(f"{stack.config.rasa_url}/webhooks/gateway/webhook", body, {"Content-Type": "application/json"})
    assert status == 403
    status, _ = post(f"{stack.config.rasa_url}/webhooks/gateway/webhook", body,
                     {"Content-Type": "application/json", "X-Matchmaker-Gateway-Secret": "guess"})
    assert status == 403
    inbox = json.dumps({"sender": "wx:someone", "wait": 0}).encode()
    status, _ = post(f"{stack.config.rasa_url}/webhooks/rest/inbox", inbox, {"Content-Type": "application/json"})
    assert status == 403
    assert tracker_texts(stack, "tg:424242") == []


def test_a_chinese_match_conversation_on_wechat(stack: Stack) -> None:
    follower = WeChatFollower(WECHAT, WECHAT_TOKEN)
    status, welcome = follower.event("subscribe")
    assert status == 200 and "欢迎关注" in welcome
    status, found = follower.say(ZH_DEMAND)
    assert status == 200 and "我理解的是" in found
    assert re.search(r"回复 1：联系 #1", found), found
    assert "理由" not in found
    assert len(found.encode()) <= 2048
    status, opened = follower.say("1")
    assert status == 200 and re.search(r"#\d+", opened) and "洽谈" in opened, opened
    assert tracker_texts(stack, f"wx:{follower.openid}")[-1].startswith("/contact")


def test_wechat_verification_and_forged_requests(stack: Stack) -> None:
    timestamp, nonce = str(int(time.time())), "n0nce"
    good = wechat_signature(WECHAT_TOKEN, timestamp, nonce)
    assert get(f"{WECHAT}?signature={good}&timestamp={timestamp}&nonce={nonce}&echostr=e123") == (200, b"e123")
    assert get(f"{WECHAT}?signature={'0' * 40}&timestamp={timestamp}&nonce={nonce}&echostr=e123")[0] == 403
    follower = WeChatFollower(WECHAT, WECHAT_TOKEN)
    status, body = follower.send_xml(follower.xml("text", {"Content": "我们需要电池材料技术"}), signature="f" * 40)
    assert status == 403 and "xml" not in body
    stale = str(int(time.time()) - 3600)
    forged = follower.xml("text", {"Content": "你好"})
    from tests.standins.senders import post

    status, _ = post(f"{WECHAT}?signature={wechat_signature(WECHAT_TOKEN, stale, nonce)}&timestamp={stale}&nonce={nonce}",
                     forged.encode(), {"Content-Type": "text/xml"})
    assert status == 403
    status, _ = follower.send_xml("<xml><not-closed>")
    assert status == 400
    assert tracker_texts(stack, f"wx:{follower.openid}") == []


def test_wechat_retries_get_the_same_reply_and_the_turn_runs_once(stack: Stack) -> None:
    follower = WeChatFollower(WECHAT, WECHAT_TOKEN)
    msg_id = int(time.time() * 1000) + 77
    with ThreadPoolExecutor(3) as pool:
        replies = list(pool.map(lambda _: follower.say("我们需要锂电池正极材料技术", msg_id=msg_id), range(3)))
    assert all(status == 200 for status, _ in replies)
    assert len({text for _, text in replies}) == 1 and "我理解的是" in replies[0][1]
    status, again = follower.say("我们需要锂电池正极材料技术", msg_id=msg_id)
    assert (status, again) == (200, replies[0][1])
    assert tracker_texts(stack, f"wx:{follower.openid}").count("我们需要锂电池正极材料技术") == 1


def test_wechat_non_text_messages_get_a_polite_text_only_answer(stack: Stack) -> None:
    follower = WeChatFollower(WECHAT, WECHAT_TOKEN)
    for kind, fields in (("image", {"PicUrl": "http://example.invalid/p.jpg", "MediaId": "m1"}),
                         ("voice", {"MediaId": "m2", "Format": "amr"}),
                         ("location", {"Location_X": "31.2", "Location_Y": "121.4", "Scale": "15", "Label": "上海"})):
        status, reply = follower.send_xml(follower.xml(kind, fields))
        assert status == 200 and "只能处理文字" in reply, (kind, reply)
    status, reply = follower.send_xml(follower.xml("voice", {"MediaId": "m3", "Format": "amr",
                                                             "Recognition": "我们需要电池材料技术"}))
    assert status == 200 and "我理解的是" in reply
    assert tracker_texts(stack, f"wx:{follower.openid}") == ["我们需要电池材料技术"]


@pytest.fixture(scope="module")
def safe_gateway(stack: Stack, wechat_api: WeChatApi, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second WeChat gateway in safe (AES) mode whose passive reply gives up at once."""
    port = WECHAT_PORT + 1
    env = {**stack.environment(), "WECHAT_AES_KEY": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
           "WECHAT_PASSIVE_SECONDS": "0.05", "PYTHONPATH": str(PROJECT_ROOT)}
    log = Path(tmp_path_factory.mktemp("safe")) / "wechat-safe.log"
    with log.open("ab") as out:
        process = subprocess.Popen([str(APP_PYTHON), "-m", "channels.wechat_gateway", "--port", str(port)],
                                   cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if get(f"http://127.0.0.1:{port}/health")[0] == 200:
                    break
            except OSError:
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}/wechat"
    finally:
        process.terminate()
        process.wait(timeout=20)


def test_a_slow_turn_answers_through_the_customer_service_api_in_safe_mode(
        safe_gateway: str, wechat_api: WeChatApi, stack: Stack) -> None:
    follower = WeChatFollower(safe_gateway, WECHAT_TOKEN, aes_key="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
                              app_id=WECHAT_APP_ID)
    status, reply = follower.say("你好")
    assert status == 200 and "正在为您处理" in reply
    wechat_api.expire_tokens()
    fetches = wechat_api.token_fetches
    status, reply = follower.say(ZH_DEMAND)
    assert status == 200 and "正在为您处理" in reply
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(
            m["touser"] == follower.openid and "我理解的是" in m["text"]["content"] for m in list(wechat_api.sent)):
        time.sleep(0.1)
    mine = [m["text"]["content"] for m in list(wechat_api.sent) if m["touser"] == follower.openid]
    assert any("我理解的是" in text for text in mine), mine
    assert wechat_api.token_fetches == fetches + 1
    plain = WeChatFollower(safe_gateway, WECHAT_TOKEN, openid=follower.openid)
    status, _ = plain.say("plain text in safe mode")
    assert status == 403
    assert "plain text in safe mode" not in tracker_texts(stack, f"wx:{follower.openid}")


def test_the_telegram_gateway_also_works_by_long_polling(stack: Stack, tmp_path: Path) -> None:
    with TelegramBotApi(TELEGRAM_TOKEN) as api:
        env = {**stack.environment(), "TELEGRAM_API_BASE": api.base_url, "TELEGRAM_WEBHOOK_URL": "",
               "PYTHONPATH": str(PROJECT_ROOT)}
        ready = tmp_path / "ready"
        with (tmp_path / "polling.log").open("ab") as out:
            process = subprocess.Popen([str(APP_PYTHON), "-m", "channels.telegram_gateway", "--ready-file", str(ready)],
                                       cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while not ready.exists() and time.monotonic() < deadline and process.poll() is None:
                time.sleep(0.2)
            assert ready.exists(), (tmp_path / "polling.log").read_text()
            chat_id = new_chat_id()
            api.push_update(text_update(chat_id, "hello", language_code="en"))
            sent = api.wait_for_sent(1, timeout=60)
            assert sent[0]["chat_id"] == chat_id and sent[0]["text"]
            assert any(name == "deleteWebhook" for name, _ in api.calls)
        finally:
            process.terminate()
            process.wait(timeout=20)
        assert TELEGRAM_TOKEN not in (tmp_path / "polling.log").read_text()


MESSAGES = 20


def relayed_numbers(texts: list[str], tag: str) -> list[int]:
    return [int(n) for text in texts for n in re.findall(rf"{tag}-(\d+)\b", text)]


def test_a_telegram_user_and_a_wechat_user_negotiate_through_api_outages(
        stack: Stack, bot_api: TelegramBotApi, wechat_api: WeChatApi) -> None:
    tg = TelegramUser(bot_api, new_chat_id(), language="zh")
    found = tg.say(CATHODE_DEMAND)
    contact = next(data for data in callbacks(found) if data.startswith("/contact"))
    opened = tg.send(callback_update(tg.chat_id, contact, language_code="zh"))
    thread = int(re.search(r"#(\d+)", joined(opened)).group(1))  # type: ignore[union-attr]
    with database(stack) as db:
        owner_id = db.execute("SELECT owner_id FROM threads WHERE id = ?", (thread,)).fetchone()[0]
    # A Chinese demo organisation: the other tests sign in for English ones only, so linking a
    # WeChat identity to it here changes nothing they expect.
    assert owner_id.startswith("org:") and detect_zh(owner_id)
    wx = WeChatFollower(WECHAT, WECHAT_TOKEN)
    status, signed = wx.say(f"login {invite(stack, owner_id)}")
    assert status == 200 and "Signed in" in signed, signed
    assert wx.say(f"accept {thread}")[0] == 200
    tg.say(f"I agree to the NDA {thread}")
    assert f"Thread #{thread} is open" in wx.say(f"I agree to the NDA {thread}")[1]
    tg.say(f"open thread {thread}")
    assert f"thread #{thread}" in wx.say(f"open thread {thread}")[1]

    wx_seen: list[str] = []
    wx_lock = threading.Lock()
    pushed_before = len(wechat_api.sent)
    tg_before = len(tg.received())

    def telegram_side() -> None:
        for n in range(MESSAGES):
            assert telegram_webhook(WEBHOOK, text_update(tg.chat_id, f"from telegram tgm-{n:02d} about the pilot"),
                                    TELEGRAM_WEBHOOK_SECRET) == 200
            time.sleep(0.4)

    def wechat_side() -> None:
        for n in range(MESSAGES):
            status, reply = wx.say(f"from wechat wxm-{n:02d} about the pilot")
            assert status == 200
            with wx_lock:
                wx_seen.append(reply)

    def outages() -> None:
        time.sleep(1.0)
        bot_api.fail(429, 3.0, retry_after=1)
        wechat_api.fail("busy", 3.0)
        time.sleep(4.0)
        bot_api.fail(500, 2.0)
        wechat_api.fail("http500", 2.0)

    with ThreadPoolExecutor(3) as pool:
        for future in [pool.submit(telegram_side), pool.submit(wechat_side), pool.submit(outages)]:
            future.result()

    def pushed_to_wechat() -> list[int]:
        return relayed_numbers([m["text"]["content"] for m in list(wechat_api.sent)[pushed_before:]
                                if m["touser"] == wx.openid], "tgm")

    def on_telegram() -> list[int]:
        return relayed_numbers([str(m.get("text")) for m in tg.received()[tg_before:]], "wxm")

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (len(pushed_to_wechat()) + len(relayed_numbers(wx_seen, "tgm")) < MESSAGES
                                           or len(on_telegram()) < MESSAGES):
        time.sleep(0.3)
    time.sleep(2.0)
    assert on_telegram() == list(range(MESSAGES)), on_telegram()
    passive, pushed = relayed_numbers(wx_seen, "tgm"), pushed_to_wechat()
    assert passive == sorted(passive) and pushed == sorted(pushed), (passive, pushed)
    assert sorted(passive + pushed) == list(range(MESSAGES)), (passive, pushed)
    with database(stack) as db:
        states = dict(db.execute("SELECT state, COUNT(*) FROM outbox WHERE thread_id = ? GROUP BY state",
                                 (thread,)).fetchall())
    assert states.get("failed", 0) == 0, states
    assert os.environ.get("TELEGRAM_BOT_TOKEN", TELEGRAM_TOKEN) not in (stack.log_dir / "telegram.log").read_text()

