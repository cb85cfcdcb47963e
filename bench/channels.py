"""Turn time per channel (REST, Telegram, WeChat) under concurrent chats, and push time per messenger.

    .venv/bin/python -m bench.channels [--chats 21] [--turns 15] [--pushes 200]

The benchmark starts the assistant on ports of its own (the data under ``MATCHMAKER_VAR_DIR``,
default ``var/``, and the newest model) with both messenger gateways, whose APIs are the local
stand-ins of ``tests.standins`` (the real Bot API and WeChat servers cannot be reached here).

**Turns.** ``--chats`` chats talk at once, a third on each channel (chat ``i`` on channel
``i mod 3``, so every channel meets the same load at the same time), each ``--turns`` turns of
one script (a greeting, a problem from ``data/eval/chat_cases_*.jsonl``, "more", "my threads",
"thanks"; half the chats in Chinese), with a pause of 0.5 s after each answer on every
channel:

* REST: ``POST /webhooks/rest/webhook`` until its answer;
* Telegram: the update is posted to the gateway's webhook (with the secret) until the last
  ``sendMessage`` of the answer reaches the Bot API stand-in (the answer is complete when no
  message followed for 0.5 s; that wait is the pause, not counted);
* WeChat: the signed XML is posted to ``/wechat`` until the passive reply comes back.

**Pushes.** A thread store of its own, in a temporary folder, with the action server's
dispatcher loop and the real Telegram and WeChat push adapters: ``--pushes`` messages to 20
signed-in identities per messenger, ``--push-rate`` per second (Telegram allows a bot about
30 messages a second, and PTB's ``AIORateLimiter`` keeps to that); the push time is from the
stored message (as when a party's turn is acknowledged) to its arrival at the API stand-in.

The last line printed is one JSON object: ``{"chats", "turns", "rest": {...}, "telegram":
{...}, "wechat": {...}, "push": {"telegram": {...}, "wechat": {...}}}`` with p50/p95 in ms,
``added_p95_ms`` (the channel's p95 minus REST's) and errors.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.assistant import newest_model
from bench.reply_times import percentile
from bot.stack import Stack, StackConfig, post_json
from channels.loop import DispatchLoop
from channels.telegram import TelegramPushChannel
from channels.wechat import ChannelState, CustomerService, WeChatPushChannel
from matchmaker.delivery import Channel, Delivery, Dispatcher
from matchmaker.listings import connect
from matchmaker.negotiation_store import SQLiteNegotiationStore
from matchmaker.notices import render_delivery
from matchmaker.settings import PROJECT_ROOT, load_settings
from tests.standins.accounts import MessengerAccounts
from tests.standins.senders import WeChatFollower, telegram_webhook
from tests.standins.telegram_api import TelegramBotApi, text_update
from tests.standins.wechat_api import WeChatApi

TOKEN = "7700002:bench-token"
APP_ID, APP_SECRET, WECHAT_TOKEN = "wx00000000000bench", uuid.uuid4().hex, "benchtoken"
WEBHOOK_SECRET = uuid.uuid4().hex
PORTS = {"rasa": 5605, "actions": 5655, "web": 8680, "webhook": 8688, "wechat": 8690}
ACCOUNTS = MessengerAccounts(TOKEN, PORTS["webhook"], WEBHOOK_SECRET, WECHAT_TOKEN, APP_ID, APP_SECRET)
SCRIPTS = {"en": ["hello", "", "more", "my threads", "thanks"], "zh": ["你好", "", "更多", "我的洽谈", "谢谢"]}
QUIET_SECONDS = 0.5


def problems() -> dict[str, list[str]]:
    """The problem texts of the chat cases, per language."""
    found: dict[str, list[str]] = {}
    for language in ("en", "zh"):
        lines = (PROJECT_ROOT / f"data/eval/chat_cases_{language}.jsonl").read_text(encoding="utf-8").splitlines()
        found[language] = [json.loads(line)["say"] for line in lines if line.strip()]
    return found


def script(chat: int, turns: int, texts: dict[str, list[str]]) -> list[str]:
    """The turns of chat number ``chat``."""
    language = "zh" if chat % 2 else "en"
    lines = [line or texts[language][chat % len(texts[language])] for line in SCRIPTS[language]]
    return (lines * (turns // len(lines) + 1))[:turns]


def rest_turn(stack: Stack, sender: str, text: str) -> float:
    """One REST turn's time in ms."""
    started = time.perf_counter()
    post_json(f"{stack.config.rasa_url}/webhooks/rest/webhook", {"sender": sender, "message": text})
    return (time.perf_counter() - started) * 1000


class TelegramClock:
    """When each chat's messages reached the Bot API stand-in (polled every millisecond)."""

    def __init__(self, api: TelegramBotApi) -> None:
        self._api = api
        self._seen = 0
        self.arrivals: dict[int, list[float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            sent = self._api.sent
            now = time.perf_counter()
            for message in sent[self._seen:len(sent)]:
                self.arrivals.setdefault(int(message["chat_id"]), []).append(now)
            self._seen = len(sent)
            time.sleep(0.001)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def turn(self, webhook: str, chat_id: int, text: str, timeout: float = 60.0) -> float:
        """Post one update; ms until the last message of its answer arrived."""
        before = len(self.arrivals.get(chat_id, []))
        started = time.perf_counter()
        if telegram_webhook(webhook, text_update(chat_id, text), WEBHOOK_SECRET) != 200:
            raise RuntimeError("the webhook refused the update")
        deadline = started + timeout
        while time.perf_counter() < deadline:
            got = self.arrivals.get(chat_id, [])
            if len(got) > before and time.perf_counter() - got[-1] >= QUIET_SECONDS:
                return (got[-1] - started) * 1000
            time.sleep(0.005)
        raise TimeoutError(f"no answer for chat {chat_id}")


def wechat_turn(follower: WeChatFollower, text: str) -> float:
    """One WeChat turn's time in ms (signed request in, passive reply out)."""
    started = time.perf_counter()
    status, _ = follower.say(text)
    if status != 200:
        raise RuntimeError(f"the gateway answered {status}")
    return (time.perf_counter() - started) * 1000


CHANNELS = ("rest", "telegram", "wechat")
PAUSE_SECONDS = 0.5


def run_chats(chats: int, turns: int, texts: dict[str, list[str]],
              one_turn: dict[str, Callable[[int, str], float]]) -> dict[str, dict[str, Any]]:
    """``chats`` chats at once, chat ``i`` on channel ``i mod 3``; the turn times' summary per channel."""
    times: dict[str, list[float]] = {name: [] for name in CHANNELS}
    errors: dict[str, list[str]] = {name: [] for name in CHANNELS}
    lock = threading.Lock()

    def chat(number: int) -> None:
        channel = CHANNELS[number % len(CHANNELS)]
        for text in script(number, turns, texts):
            try:
                spent = one_turn[channel](number, text)
            except Exception as error:  # noqa: BLE001 - counted and reported
                with lock:
                    errors[channel].append(f"{type(error).__name__}: {error}")
                continue
            with lock:
                times[channel].append(spent)
            if channel != "telegram":
                time.sleep(PAUSE_SECONDS)

    with ThreadPoolExecutor(chats) as pool:
        list(pool.map(chat, range(chats)))
    for name in CHANNELS:
        for sample in errors[name][:3]:
            print(f"{name} error: {sample}", file=sys.stderr)
    return {name: summary(times[name], errors[name]) for name in CHANNELS}


def summary(times: Sequence[float], errors: Sequence[str]) -> dict[str, Any]:
    """p50/p95 in ms and the error count."""
    values = list(times)
    return {"count": len(values), "p50_ms": round(percentile(values, 0.5)) if values else None,
            "p95_ms": round(percentile(values, 0.95)) if values else None, "errors": len(errors)}


def push_times(pushes: int, rate: float, bot_api: TelegramBotApi, wechat_api: WeChatApi) -> dict[str, Any]:
    """Push times through the dispatcher loop and the real adapters, per messenger."""
    with tempfile.TemporaryDirectory() as folder:
        store = SQLiteNegotiationStore(connect(Path(folder) / "bench.db"))
        state = ChannelState(Path(folder) / "wechat.db")

        def render(delivery: Delivery) -> list[dict[str, Any]]:
            return render_delivery(delivery, "en")

        channels: list[Channel] = [
            TelegramPushChannel(TOKEN, render, api_base=bot_api.base_url),
            WeChatPushChannel(CustomerService(APP_ID, APP_SECRET, state, api_base=wechat_api.api_base), state,
                              render, lambda _identity: "en")]
        results = {}
        for channel, prefix in zip(channels, ("tg:", "wx:"), strict=True):
            results[channel.name] = push_run(store, channel, prefix, pushes, rate, bot_api, wechat_api)
        return results


def push_run(store: SQLiteNegotiationStore, channel: Channel, prefix: str, pushes: int, rate: float,
             bot_api: TelegramBotApi, wechat_api: WeChatApi) -> dict[str, Any]:
    """``pushes`` messages to 20 identities of one messenger; the push times' summary."""
    identities = [f"{prefix}{900000 + n}" if prefix == "tg:" else f"{prefix}obench{n:04d}" for n in range(20)]
    threads = []
    for number, identity in enumerate(identities):
        store.accounts.redeem(store.accounts.invite(f"Bench {prefix}{number}", None), identity)
        owner = store.accounts.acting_id(identity)
        threads.append(store.open(number + 1, f"bench-requester-{prefix}{number}", owner, "bench")[0])
    sent_count = (lambda: len(bot_api.sent)) if prefix == "tg:" else (lambda: len(wechat_api.sent))
    posted: dict[str, float] = {}
    arrived: dict[str, float] = {}
    loop = DispatchLoop(Dispatcher(store, [channel]), interval=0.2, name=f"bench-{channel.name}")
    loop.run_once()
    before = sent_count()
    loop.start()
    try:
        for n in range(pushes):
            thread = threads[n % len(threads)]
            key = f"bench-{prefix}{n}"
            store.post_message(thread.id, thread.requester_id, f"push {key} ok", key)
            posted[key] = time.perf_counter()
            time.sleep(1.0 / rate)
            collect(bot_api, wechat_api, prefix, before, arrived)
        deadline = time.perf_counter() + 60
        while len(arrived) < pushes and time.perf_counter() < deadline:
            collect(bot_api, wechat_api, prefix, before, arrived)
            time.sleep(0.001)
    finally:
        loop.stop()
    times = [(arrived[key] - posted[key]) * 1000 for key in posted if key in arrived]
    return {**summary(times, []), "lost": pushes - len(times), "sent": sent_count() - before}


def collect(bot_api: TelegramBotApi, wechat_api: WeChatApi, prefix: str, before: int,
            arrived: dict[str, float]) -> None:
    """Note the arrival time of every bench message the stand-in has that was not seen yet."""
    now = time.perf_counter()
    messages = bot_api.sent[before:] if prefix == "tg:" else wechat_api.sent[before:]
    for message in messages:
        text = str(message.get("text", "")) if prefix == "tg:" else str(message["text"]["content"])
        for word in text.split():
            if word.startswith("bench-") and word not in arrived:
                arrived[word] = now


def benchmark(chats: int, turns: int, pushes: int, push_rate: float, model: Path | None) -> dict[str, Any]:
    """Start the stack with both gateways, measure every channel, stop it."""
    texts = problems()
    with TelegramBotApi(TOKEN) as bot_api, WeChatApi(APP_ID, APP_SECRET) as wechat_api:
        config = StackConfig(model=model or newest_model(), rasa_port=PORTS["rasa"], actions_port=PORTS["actions"],
                             web_port=PORTS["web"], wechat_port=PORTS["wechat"], var_dir=load_settings().var_dir,
                             extra_env=ACCOUNTS.env(bot_api, wechat_api))
        print("starting the assistant with both gateways ...", file=sys.stderr)
        with Stack(config) as stack:
            run = uuid.uuid4().hex[:6]
            for name in ("warm-up-en", "warm-up-zh"):
                rest_turn(stack, f"{name}-{run}", texts["en"][0] if name.endswith("en") else texts["zh"][0])
            clock = TelegramClock(bot_api)
            webhook = ACCOUNTS.webhook_url
            base = 800000 + int(time.time()) % 1000 * 100
            followers = [WeChatFollower(stack.wechat_url, WECHAT_TOKEN) for _ in range(chats)]
            print(f"{chats} chats over REST, Telegram and WeChat ...", file=sys.stderr)
            result: dict[str, Any] = {"chats": chats, "turns": turns, **run_chats(chats, turns, texts, {
                "rest": lambda chat, text: rest_turn(stack, f"bench-{run}-{chat}", text),
                "telegram": lambda chat, text: clock.turn(webhook, base + chat, text),
                "wechat": lambda chat, text: wechat_turn(followers[chat], text)})}
            clock.stop()
        for name in ("telegram", "wechat"):
            if result[name]["p95_ms"] is not None and result["rest"]["p95_ms"] is not None:
                result[name]["added_p95_ms"] = result[name]["p95_ms"] - result["rest"]["p95_ms"]
        print("pushes ...", file=sys.stderr)
        result["push"] = push_times(pushes, push_rate, bot_api, wechat_api)
    return result


def main(argv: list[str] | None = None) -> None:
    """Measure and print the JSON line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chats", type=int, default=21)
    parser.add_argument("--turns", type=int, default=15)
    parser.add_argument("--pushes", type=int, default=200)
    parser.add_argument("--push-rate", type=float, default=20.0, help="pushes per second")
    parser.add_argument("--model", type=Path)
    args = parser.parse_args(argv)
    print(json.dumps(benchmark(args.chats, args.turns, args.pushes, args.push_rate, args.model)), flush=True)


if __name__ == "__main__":
    main()
