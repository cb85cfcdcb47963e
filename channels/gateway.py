"""How the messenger gateways reach the Rasa server: the route, the secret and the sender ids.

A gateway (Telegram, WeChat) runs a user's turn by posting Rasa's REST body to
``POST /webhooks/gateway/webhook`` with ``X-Matchmaker-Gateway-Secret``; only there are
``tg:<chat id>`` and ``wx:<openid>`` senders accepted. This module uses only the standard
library: the Rasa process (Python 3.10) imports it too.
"""

from __future__ import annotations

from typing import FrozenSet, Mapping

GATEWAY_PATH = "/webhooks/gateway/webhook"
GATEWAY_SECRET_ENV = "MATCHMAKER_GATEWAY_SECRET"
GATEWAY_SECRET_HEADER = "X-Matchmaker-Gateway-Secret"
TELEGRAM_PREFIX = "tg:"
WECHAT_PREFIX = "wx:"
WEB_PREFIX = "web:"
GATEWAY_PREFIXES = (TELEGRAM_PREFIX, WECHAT_PREFIX)
RESERVED_PREFIXES = (TELEGRAM_PREFIX, WECHAT_PREFIX, WEB_PREFIX)
PUSH_SETTINGS = {"telegram": ("TELEGRAM_BOT_TOKEN",), "wechat": ("WECHAT_APP_ID", "WECHAT_APP_SECRET")}


def pushing_messengers(env: Mapping[str, str]) -> FrozenSet[str]:
    """The messengers (``telegram``, ``wechat``) whose push ``env`` turns on."""
    return frozenset(name for name, keys in PUSH_SETTINGS.items() if all(env.get(key) for key in keys))
