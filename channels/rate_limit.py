"""A per-sender rate limit for every channel the Rasa server takes messages from (stdlib only).

Each sender has a token bucket: ``burst`` messages at once, refilled at ``per_minute``. A
message over the limit gets a polite "please slow down" and is not handed to the dialogue,
so a flood costs one dictionary lookup per message. The buckets live in the process; the
least recently seen senders are forgotten beyond ``max_senders``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

RATE_ENV = "MATCHMAKER_RATE_PER_MINUTE"
BURST_ENV = "MATCHMAKER_RATE_BURST"
DEFAULT_PER_MINUTE = 60.0
DEFAULT_BURST = 30


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


def limiter_from(env: Mapping[str, str]) -> SenderRateLimiter | None:
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
    return SenderRateLimiter(per_minute, max(1, burst))
