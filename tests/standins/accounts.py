"""The settings that point the assistant's Telegram and WeChat channels at the stand-ins."""

from __future__ import annotations

from dataclasses import dataclass

from tests.standins.telegram_api import TelegramBotApi
from tests.standins.wechat_api import WeChatApi


@dataclass(frozen=True)
class MessengerAccounts:
    """A bot and an official account for a run: tokens, secrets and the webhook port."""

    telegram_token: str
    webhook_port: int
    webhook_secret: str
    wechat_token: str
    app_id: str
    app_secret: str

    @property
    def webhook_url(self) -> str:
        """Where the Telegram gateway's webhook listens (Telegram's servers would post here)."""
        return f"http://127.0.0.1:{self.webhook_port}/telegram"

    def env(self, bot_api: TelegramBotApi, wechat_api: WeChatApi) -> tuple[tuple[str, str], ...]:
        """The environment that turns on both messengers (Telegram in webhook mode) against the stand-ins."""
        return (("TELEGRAM_BOT_TOKEN", self.telegram_token), ("TELEGRAM_API_BASE", bot_api.base_url),
                ("TELEGRAM_WEBHOOK_URL", self.webhook_url), ("TELEGRAM_WEBHOOK_PORT", str(self.webhook_port)),
                ("TELEGRAM_WEBHOOK_SECRET", self.webhook_secret), ("WECHAT_TOKEN", self.wechat_token),
                ("WECHAT_APP_ID", self.app_id), ("WECHAT_APP_SECRET", self.app_secret),
                ("WECHAT_API_BASE", wechat_api.api_base))
