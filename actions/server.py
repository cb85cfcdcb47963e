"""The action server: rasa-sdk's app with the matching services warmed before it listens.

Run ``python -m actions.server --port 5055``. The warm-up (database, index, embedding
model and one probe query) happens when the server starts, never at import, so the first
user waits no longer than the next.

rasa-sdk reads an action request without checking it and answers 500 to any exception, a
wrong method or path included: here a request not shaped as the Rasa server sends one gets
400 before rasa-sdk sees it, and HTTP errors keep their own status.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import logging
import os
import time
import zlib
from collections.abc import Mapping
from typing import Any

from rasa_sdk.endpoint import create_app
from rasa_sdk.executor import ActionExecutor
from sanic import Sanic, response
from sanic.exceptions import SanicException
from sanic.request import Request

from actions.relay import render_for
from actions.services import get_services
from channels.gateway import pushing_messengers
from channels.loop import DispatchLoop
from channels.push import SECRET_HEADER
from channels.telegram import DEFAULT_API_BASE as TELEGRAM_API_BASE
from channels.telegram import TelegramPushChannel
from channels.web import WebPushChannel
from channels.wechat import DEFAULT_API_BASE as WECHAT_API_BASE
from channels.wechat import ChannelState, CustomerService, WeChatPushChannel
from matchmaker.delivery import Channel, Delivery, Dispatcher
from matchmaker.matching import SearchRequest
from matchmaker.runtime import Services

logger = logging.getLogger(__name__)


def warm_up() -> float:
    """Build the services and run one probe search; return the seconds it took."""
    started = time.perf_counter()
    services = get_services()
    for language, query in (("en", "battery material"), ("zh", "电池材料")):
        services.matcher.search(SearchRequest(query=query, target_kind="achievement", language=language,
                                              requester_id="warm-up"), limit=1)
    return time.perf_counter() - started


def push_channels(services: Services, env: Mapping[str, str]) -> list[Channel]:
    """The push channels configured in ``env``.

    Web push needs the Rasa URL (``MATCHMAKER_RASA_PUSH_URLS``: every Rasa server's, when
    several serve the conversations; else ``MATCHMAKER_RASA_URL``) and the push secret, Telegram the bot token, WeChat the app
    id and secret (``channels.gateway.pushing_messengers``). A channel that is off still gets
    its outbox rows: they wait and are shown at the top of the recipient's next reply.
    """
    channels: list[Channel] = []

    def render(delivery: Delivery) -> list[dict[str, Any]]:
        return render_for(services, delivery, services.threads.accounts.language_of(delivery.identity))

    rasa_urls = [url for url in (env.get("MATCHMAKER_RASA_PUSH_URLS") or env.get("MATCHMAKER_RASA_URL") or "").split(",")
                 if url.strip()]
    secret = env.get("MATCHMAKER_PUSH_SECRET")
    if rasa_urls and secret:
        channels.append(WebPushChannel(rasa_urls, secret, render))
    else:
        logger.info("web push is off (MATCHMAKER_RASA_URL / MATCHMAKER_PUSH_SECRET not set): web users get "
                    "thread messages at the top of their next reply")
    messengers = pushing_messengers(env)
    if "telegram" in messengers:
        channels.append(TelegramPushChannel(env["TELEGRAM_BOT_TOKEN"], render,
                                            api_base=env.get("TELEGRAM_API_BASE") or TELEGRAM_API_BASE))
    if "wechat" in messengers:
        state = ChannelState(services.settings.var_dir / "wechat.db")
        service = CustomerService(env["WECHAT_APP_ID"], env["WECHAT_APP_SECRET"], state,
                                  api_base=env.get("WECHAT_API_BASE") or WECHAT_API_BASE)
        channels.append(WeChatPushChannel(service, state, render, services.threads.accounts.language_of))
    logger.info("push channels: %s", ", ".join(channel.name for channel in channels) or "none")
    return channels


TRACKER_SHAPES: tuple[tuple[str, type], ...] = (
    ("slots", dict), ("latest_message", dict), ("events", list), ("active_loop", dict), ("followup_action", str),
    ("latest_action_name", str))
MESSAGE_SHAPES: tuple[tuple[str, type], ...] = (("text", str), ("intent", dict), ("entities", list))


def action_call_json(request: Request) -> Any:
    """The decoded body of an action request (deflated or not), or ``None`` when it is not JSON."""
    body = request.body or b""
    try:
        if request.headers.get("Content-Encoding") == "deflate":
            body = zlib.decompress(body)
        return json.loads(body)
    except (ValueError, RecursionError, zlib.error):
        return None


def action_call_problem(call: Any) -> str | None:
    """Why ``call`` is not an action request shaped as the Rasa server sends one (``None``: it is).

    rasa-sdk reads the request without checking it, so any other shape would fail inside it (a 500).
    """
    if not isinstance(call, dict):
        return "the body must be a JSON object"
    if not isinstance(call.get("next_action"), str) or not call["next_action"]:
        return "next_action must be an action name"
    if call.get("version") is not None and not isinstance(call["version"], str):
        return "version must be a string"
    if call.get("domain") is not None and not isinstance(call["domain"], dict):
        return "domain must be an object"
    tracker = call.get("tracker")
    if not isinstance(tracker, dict) or not isinstance(tracker.get("sender_id"), str) or not tracker["sender_id"]:
        return "tracker must be an object with a sender_id"
    for key, kind in TRACKER_SHAPES:
        if tracker.get(key) is not None and not isinstance(tracker[key], kind):
            return f"tracker.{key} must be of type {kind.__name__}"
    if not all(isinstance(event, dict) for event in tracker.get("events") or []):
        return "tracker.events must be objects"
    message = tracker.get("latest_message") or {}
    for key, kind in MESSAGE_SHAPES:
        if message.get(key) is not None and not isinstance(message[key], kind):
            return f"tracker.latest_message.{key} must be of type {kind.__name__}"
    if not all(isinstance(entity, dict) for entity in message.get("entities") or []):
        return "tracker.latest_message.entities must be objects"
    return None


INBOX_MAX_WAIT_SECONDS = 25.0
INBOX_POLL_SECONDS = 0.1


def inbox_body(request: Request) -> tuple[str, float] | None:
    """``(sender, wait seconds)`` of an inbox request, or ``None`` when malformed."""
    try:
        body = request.json
    except Exception:  # noqa: BLE001 - any unreadable body is a 400
        return None
    if not isinstance(body, dict) or not isinstance(body.get("sender"), str) or not body["sender"]:
        return None
    wait = body.get("wait", 0)
    if isinstance(wait, bool) or not isinstance(wait, (int, float)):
        return None
    return body["sender"][:128], max(0.0, min(float(wait), INBOX_MAX_WAIT_SECONDS))


async def wait_for_inbox(services: Services, sender: str, wait: float) -> list[Delivery]:
    """What waits for ``sender``, waiting up to ``wait`` seconds for something to arrive."""
    loop = asyncio.get_running_loop()
    deadline = time.monotonic() + wait
    while True:
        taken = await loop.run_in_executor(None, services.threads.take_inbox, sender)
        if taken or time.monotonic() >= deadline:
            return taken
        await asyncio.sleep(INBOX_POLL_SECONDS)


def create_server() -> Sanic:
    """The Sanic app serving every action of the ``actions`` package."""
    executor = ActionExecutor()
    executor.register_package("actions")
    app = create_app(executor)
    loops: list[DispatchLoop] = []

    @app.exception(SanicException)
    async def http_error(_request: Request, error: SanicException) -> response.HTTPResponse:
        return response.json({"error": str(error)}, status=error.status_code)

    @app.on_request
    async def check_action_call(request: Request) -> response.HTTPResponse | None:
        if request.path != "/webhook" or request.method != "POST":
            return None
        problem = action_call_problem(action_call_json(request))
        return None if problem is None else response.json({"error": problem}, status=400)

    @app.before_server_start
    async def warm(_app: Sanic) -> None:
        seconds = await asyncio.get_running_loop().run_in_executor(None, warm_up)
        logger.info("Action server warmed up in %.1f s", seconds)
        services = get_services()
        if services.watcher is not None:
            services.watcher.start()
        services.alerts.start()
        for channel in push_channels(services, os.environ):
            loops.append(DispatchLoop(Dispatcher(services.threads, [channel]), name=f"push-{channel.name}"))
            loops[-1].start()

    @app.after_server_stop
    async def stop_watching(_app: Sanic) -> None:
        watcher = get_services().watcher
        if watcher is not None:
            watcher.stop()
        get_services().alerts.stop()
        for loop in loops:
            loop.stop()

    @app.post("/inbox")
    async def inbox(request: Request) -> response.HTTPResponse:
        secret = os.environ.get("MATCHMAKER_PUSH_SECRET", "")
        given = request.headers.get(SECRET_HEADER, "")
        if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
            return response.json({"error": "forbidden"}, status=403)
        parsed = inbox_body(request)
        if parsed is None:
            return response.json({"error": "body must be {\"sender\": str, \"wait\": seconds}"}, status=400)
        sender, wait = parsed
        services = get_services()
        taken = await wait_for_inbox(services, sender, wait)
        language = services.threads.accounts.language_of(sender)
        return response.json({"messages": [m for d in taken for m in render_for(services, d, language)]})

    @app.get("/index")
    async def served_index(_request: Request) -> response.HTTPResponse:
        holder = get_services().indexes
        return response.json({"version": holder.version, "documents": len(holder.current())})

    return app


def main() -> None:
    """Parse arguments and serve."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5055)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    # httpx logs every request URL at INFO, and the Bot API's URLs carry the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    create_server().run(host=args.host, port=args.port, single_process=True, access_log=False,
                        motd=False)


if __name__ == "__main__":
    main()
