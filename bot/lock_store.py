"""Rasa's Redis lock store, with a wait that always ends (the production profile's lock store).

Rasa serialises the turns of one conversation with a ticket lock in Redis. When a Rasa server
dies while it holds a ticket, the ticket blocks the conversation until it expires
(``TICKET_LOCK_LIFETIME``). Rasa 3.6's waiter holds a ticket of the same lifetime, issued a
moment later, so it usually expires too while waiting; from then on Rasa's loop waits for a
ticket that no longer exists, forever, and the user's turn never gets an answer.

:class:`RecoveringRedisLockStore` waits like Rasa's, and when its own ticket has expired
while it waited, it takes one new ticket (the dead server's ticket has expired before it, so
the new one is served at once); if that one expires too, it gives up with Rasa's
``LockError``, which the channel guard turns into a polite reply.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import Any, AsyncGenerator, Optional, Tuple

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

logger = logging.getLogger(__name__)


class RecoveringRedisLockStore(RedisLockStore):
    """A Redis ticket lock whose waiters recover from an expired ticket once, then give up."""

    def __init__(self, endpoint_config: Optional[EndpointConfig] = None, **kwargs: Any) -> None:
        """Take the settings of ``endpoint_config`` (``url`` is the host), as Rasa's Redis store does."""
        if endpoint_config is not None:
            kwargs = {**endpoint_config.kwargs, "host": endpoint_config.url or "localhost", **kwargs}
        super().__init__(**kwargs)

    @asynccontextmanager
    async def lock(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME,
                   wait_time_in_seconds: float = 1) -> AsyncGenerator[TicketLock, None]:
        """Hold the conversation's lock for one turn; the ticket finally held is the one released."""
        ticket = self.issue_ticket(conversation_id, lock_lifetime)
        try:
            acquired, ticket = await self.wait_for_turn(conversation_id, ticket, lock_lifetime, wait_time_in_seconds)
            yield acquired
        finally:
            self.cleanup(conversation_id, ticket)

    async def wait_for_turn(self, conversation_id: str, ticket: int, lock_lifetime: float,
                            wait_time_in_seconds: float) -> Tuple[TicketLock, int]:
        """Wait until ``ticket`` is served; return the lock and the ticket that is.

        Raises:
            LockError: the ticket expired twice while waiting, or the lock vanished.
        """
        renewed = False
        while True:
            lock = self.get_lock(conversation_id)
            if not lock:
                raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")
            if not lock.is_locked(ticket):
                return lock, ticket
            if ticket not in [held.number for held in lock.tickets]:
                if renewed:
                    raise LockError(f"The lock of conversation '{conversation_id}' expired twice while waiting.")
                logger.warning("A ticket of conversation %s expired while it waited; taking a new one.",
                               conversation_id)
                ticket, renewed = self.issue_ticket(conversation_id, lock_lifetime), True
                continue
            await asyncio.sleep(wait_time_in_seconds)
            self.update_lock(conversation_id)
