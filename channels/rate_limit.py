"""A per-sender rate limit for every channel the Rasa server takes messages from (stdlib only).

Each sender has a token bucket: ``burst`` messages at once, refilled at ``per_minute``. A
message over the limit gets a polite "please slow down" and is not handed to the dialogue,
so a flood costs one dictionary lookup per message. The buckets live in the process (the
least recently seen senders are forgotten beyond ``max_senders``), or, when several Rasa
servers serve the same conversations (``MATCHMAKER_REDIS_URL`` set), in Redis, so a sender
has one bucket whichever server takes the message. Redis is imported only then.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Protocol

logger = logging.getLogger(__name__)

RATE_ENV = "MATCHMAKER_RATE_PER_MINUTE"
BURST_ENV = "MATCHMAKER_RATE_BURST"
DEFAULT_PER_MINUTE = 60.0
DEFAULT_BURST = 30
REDIS_ENV = "MATCHMAKER_REDIS_URL"

# KEYS[1]: the sender's bucket; ARGV: burst, refill per second, idle seconds to keep it.
# Redis's own clock, so every server agrees on time; one script, so one atomic step.
_TAKE = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
local burst, refill = tonumber(ARGV[1]), tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'seen')
local tokens, seen = tonumber(b[1]) or burst, tonumber(b[2]) or t
tokens = math.min(burst, tokens + math.max(0, t - seen) * refill)
local allowed = 0
if tokens >= 1 then tokens = tokens - 1; allowed = 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'seen', tostring(t))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return allowed
"""


class RateLimiter(Protocol):
    """Takes one message from a sender's allowance."""

    def allow(self, sender: str) -> bool:
        """``False`` when the sender is over the limit."""


class SenderRateLimiter:
    """Token buckets by sender id."""

    def __init__(self, per_minute: float = DEFAULT_PER_MINUTE, burst: int = DEFAULT_BURST,
                 clock: Callable[[], float] = time.monotonic, max_senders: int = 100_000) -> None:
        """Allow ``burst`` messages at once and ``per_minute`` on average.

        Raises:
            ValueError: for a rate or burst that is not positive.
        """
        if per_minute <= 0 or burst < 1:
            raise ValueError("the rate and the burst must be positive")
        self._refill = per_minute / 60.0
        self._burst = float(burst)
        self._clock = clock
        self._max = max_senders
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def allow(self, sender: str) -> bool:
        """Take one message from the sender's bucket; ``False`` when it is empty."""
        now = self._clock()
        with self._lock:
            tokens, seen = self._buckets.pop(sender, (self._burst, now))
            tokens = min(self._burst, tokens + (now - seen) * self._refill)
            allowed = tokens >= 1.0
            self._buckets[sender] = (tokens - 1.0 if allowed else tokens, now)
            while len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
        return allowed


class RedisRateLimiter:
    """The same token buckets, kept in Redis and shared by every Rasa server.

    When Redis does not answer, messages are allowed (and the outage logged): a limit that
    cannot be checked must not silence every user.
    """

    def __init__(self, url: str, per_minute: float = DEFAULT_PER_MINUTE, burst: int = DEFAULT_BURST,
                 prefix: str = "matchmaker:rate:") -> None:
        """Use the Redis at ``url`` (``redis://:password@host:port/db``).

        Raises:
            ValueError: for a rate or burst that is not positive.
        """
        if per_minute <= 0 or burst < 1:
            raise ValueError("the rate and the burst must be positive")
        import redis

        self._client: Any = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._take: Any = self._client.register_script(_TAKE)
        self._args = (burst, per_minute / 60.0, int(burst / (per_minute / 60.0)) + 60)
        self._prefix = prefix
        self._warned_at = 0.0

    def allow(self, sender: str) -> bool:
        """Take one message from the sender's bucket in Redis; ``True`` when Redis is down."""
        try:
            return bool(self._take(keys=[self._prefix + sender], args=list(self._args)))
        except Exception as error:  # noqa: BLE001 - any Redis failure means "cannot check"
            if time.monotonic() - self._warned_at > 60:
                self._warned_at = time.monotonic()
                logger.warning("rate limit not checked, Redis does not answer: %s", type(error).__name__)
            return True


def limiter_from(env: Mapping[str, str]) -> RateLimiter | None:
    """The limiter the environment asks for (``MATCHMAKER_RATE_PER_MINUTE=0`` turns it off).

    Raises:
        ValueError: for a value that is not a number, or a negative one.
    """
    per_minute = float(env.get(RATE_ENV) or DEFAULT_PER_MINUTE)
    burst = int(env.get(BURST_ENV) or DEFAULT_BURST)
    if per_minute < 0 or burst < 0:
        raise ValueError(f"{RATE_ENV} and {BURST_ENV} must not be negative")
    if per_minute == 0:
        return None
    if env.get(REDIS_ENV):
        return RedisRateLimiter(env[REDIS_ENV], per_minute, max(1, burst))
    return SenderRateLimiter(per_minute, max(1, burst))
