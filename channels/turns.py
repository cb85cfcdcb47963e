"""One user turn through the Rasa server, for the messenger gateways.

:class:`RasaTurns` posts a message to the gateway route of the Rasa server
(``channels.gateway``) and returns the bot's messages. When the Rasa server cannot be
reached or fails, the user gets the polite "temporarily unavailable" message in their
language instead of silence; the caller never sees an exception.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import httpx

from channels.gateway import GATEWAY_PATH, GATEWAY_SECRET_HEADER
from channels.push import PushMessage
from channels.replies import bot_messages, relayed_to_person
from matchmaker.messages import say

logger = logging.getLogger(__name__)


def well_formed(text: str) -> str:
    """``text`` with lone surrogates (JSON can spell them, UTF-8 cannot encode them) replaced by U+FFFD."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


class RasaTurns:
    """Runs turns of one messenger channel (``telegram`` or ``wechat``) on the Rasa server."""

    def __init__(self, rasa_url: str, secret: str, channel: str, timeout: float = 60.0) -> None:
        """Talk to the Rasa server at ``rasa_url`` with the gateway ``secret``.

        Raises:
            ValueError: for an empty secret (the Rasa server would refuse every turn).
        """
        if not secret:
            raise ValueError("the gateway secret must not be empty")
        self._url = rasa_url.rstrip("/") + GATEWAY_PATH
        self._headers = {GATEWAY_SECRET_HEADER: secret}
        self._channel = channel
        self._client = httpx.AsyncClient(timeout=timeout)

    def __repr__(self) -> str:
        return f"RasaTurns({self._url!r}, channel={self._channel!r}, <secret hidden>)"

    async def turn(self, sender: str, text: str, language: str,
                   metadata: Mapping[str, Any] | None = None) -> list[PushMessage]:
        """The bot's answer to ``text`` from ``sender``: none while a person has the user, the unavailable message when the turn fails."""
        body = {"sender": sender, "message": well_formed(text), "input_channel": self._channel,
                "metadata": dict(metadata or {})}
        try:
            reply = await self._client.post(self._url, json=body, headers=self._headers)
            reply.raise_for_status()
            payload = reply.json()
            if relayed_to_person(payload):
                return []
            messages = bot_messages(payload)
        except (httpx.HTTPError, ValueError) as error:
            logger.warning("a %s turn of %s failed: %s", self._channel, sender, error)
            messages = []
        return messages or [PushMessage(say("unavailable", language))]

    async def close(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()
