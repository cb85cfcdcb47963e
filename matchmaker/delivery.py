"""Delivering thread messages to the recipients' channels: one interface, one dispatcher.

Every stored message has one outbox row per recipient channel identity (written in the
message's transaction, see ``matchmaker.negotiation_store``). Inbox channels (REST: the
items are shown at the top of the recipient's next reply) hand rows out with
``Outbox.take_inbox``, which marks them delivered in the same transaction. Push channels
(web, Telegram, WeChat) are driven by :class:`Dispatcher`: it asks for due rows, calls
``Channel.push`` and records the outcome on the row, retrying transient failures with capped
exponential backoff. The adapters that talk to the networks live outside the domain.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

logger = logging.getLogger(__name__)

INBOX_CHANNELS = ("rest",)
_PREFIXES = (("tg:", "telegram"), ("wx:", "wechat"), ("web:", "web"))
DELIVERY_STATES = ("pending", "delivered", "failed")


def channel_of(identity: str) -> str:
    """The channel a sender id belongs to, from its prefix (``rest`` when it has none)."""
    for prefix, name in _PREFIXES:
        if identity.startswith(prefix):
            return name
    return "rest"


class ChannelError(Exception):
    """A channel could not deliver."""


class TransientChannelError(ChannelError):
    """Worth retrying later (timeout, rate limit, server error)."""


class PermanentChannelError(ChannelError):
    """Will never work (the user blocked the bot, the identity is gone)."""


@dataclass(frozen=True)
class Delivery:
    """One message for one recipient identity.

    ``from_role`` is ``owner``, ``requester`` or ``system``: a delivery never names the
    sending participant, so it discloses no more than the thread's stage allows.
    """

    id: int
    thread_id: int
    seq: int
    identity: str
    channel: str
    kind: str
    body: str
    data: Mapping[str, Any]
    from_role: str
    attempts: int
    created_at: float

    @property
    def key(self) -> str:
        """A stable idempotency key for adapters that can deduplicate."""
        return f"{self.thread_id}:{self.seq}:{self.identity}"


@dataclass(frozen=True)
class DeliveryState:
    """Where one outbox row stands."""

    state: str
    attempts: int
    next_attempt_at: float
    delivered_at: float | None
    last_error: str


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff of push deliveries: ``base x 2^(attempt - 1)``, at most ``cap_seconds``."""

    base_seconds: float = 5.0
    cap_seconds: float = 3600.0
    max_attempts: int = 12
    lease_seconds: float = 60.0

    def backoff(self, attempts: int) -> float:
        """Seconds to wait after the ``attempts``-th failed attempt."""
        return float(min(self.cap_seconds, self.base_seconds * 2 ** max(0, attempts - 1)))


class Channel(Protocol):
    """Pushes deliveries to one kind of channel identity."""

    name: str

    def push(self, identity: str, delivery: Delivery) -> None:
        """Deliver ``delivery`` to ``identity``.

        Raises:
            TransientChannelError: to be retried later.
            PermanentChannelError: never to be retried.
        """
        ...


class Outbox(Protocol):
    """The delivery side of the negotiation store."""

    def due(self, channel: str, now: float, limit: int) -> list[Delivery]:
        """Pending rows of a push channel whose time has come, leased to the caller."""
        ...

    def mark_delivered(self, row_id: int) -> bool:
        """Record a delivery; ``False`` when the row was not pending."""
        ...

    def mark_retry(self, row_id: int, error: str, now: float) -> DeliveryState:
        """Record a transient failure and when to try again."""
        ...

    def mark_failed(self, row_id: int, error: str) -> DeliveryState:
        """Record a permanent failure."""
        ...

    def take_inbox(self, sender_id: str) -> list[Delivery]:
        """Hand out (and mark delivered) an inbox identity's pending rows, in order."""
        ...


@dataclass(frozen=True)
class DispatchReport:
    """What one dispatcher pass did."""

    delivered: int = 0
    retried: int = 0
    failed: int = 0


class Dispatcher:
    """Drives push channels from the outbox."""

    def __init__(self, outbox: Outbox, channels: Sequence[Channel], batch: int = 100) -> None:
        """Deliver through ``channels`` (push channels only), ``batch`` rows per channel and pass.

        Raises:
            ValueError: for an inbox channel (those are read with ``take_inbox``) or two
                channels with one name.
        """
        names = [channel.name for channel in channels]
        if any(name in INBOX_CHANNELS for name in names) or len(set(names)) != len(names):
            raise ValueError(f"channels must be distinct push channels, got {names}")
        self._outbox = outbox
        self._channels = tuple(channels)
        self._batch = batch

    def deliver_once(self, now: float) -> DispatchReport:
        """Push every row due by ``now``, each recipient's in order; return the counts by outcome.

        Each round hands out the oldest due row of every identity; a delivered row lets that
        identity's next row go in the following round, a failed one holds it back until the
        retry. A row is handed out at most once per call (it is leased), so the call ends.
        An exception other than a ``ChannelError`` propagates; its row stays pending and is
        handed out again when its lease ends.
        """
        counts = {"delivered": 0, "retried": 0, "failed": 0}
        for channel in self._channels:
            while batch := self._outbox.due(channel.name, now, self._batch):
                for delivery in batch:
                    counts[self._push(channel, delivery, now)] += 1
        return DispatchReport(counts["delivered"], counts["retried"], counts["failed"])

    def _push(self, channel: Channel, delivery: Delivery, now: float) -> str:
        try:
            channel.push(delivery.identity, delivery)
        except TransientChannelError as error:
            state = self._outbox.mark_retry(delivery.id, str(error), now)
            logger.warning("delivery %s to %s failed (%s), attempt %d", delivery.key, channel.name, error,
                           state.attempts)
            return "failed" if state.state == "failed" else "retried"
        except PermanentChannelError as error:
            self._outbox.mark_failed(delivery.id, str(error))
            logger.warning("delivery %s to %s failed permanently: %s", delivery.key, channel.name, error)
            return "failed"
        self._outbox.mark_delivered(delivery.id)
        return "delivered"
