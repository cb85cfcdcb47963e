"""The per-sender rate limit: a burst, then the refill rate, each sender on its own."""

from __future__ import annotations

import pytest

from channels.rate_limit import SenderRateLimiter, limiter_from
from tests.unit.fakes import Clock


def test_a_burst_then_one_message_per_refill_interval_and_senders_do_not_share() -> None:
    clock = Clock(100.0)
    limiter = SenderRateLimiter(per_minute=60, burst=3, clock=clock)
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b")
    clock.now += 0.5
    assert not limiter.allow("a")
    clock.now += 0.5
    assert limiter.allow("a") and not limiter.allow("a")
    clock.now += 3600
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]


def test_refused_messages_do_not_drain_the_bucket_further() -> None:
    clock = Clock(100.0)
    limiter = SenderRateLimiter(per_minute=60, burst=1, clock=clock)
    assert limiter.allow("a")
    for _ in range(50):
        assert not limiter.allow("a")
    clock.now += 1.0
    assert limiter.allow("a")


def test_old_senders_are_forgotten_beyond_the_cap() -> None:
    clock = Clock(100.0)
    limiter = SenderRateLimiter(per_minute=60, burst=1, clock=clock, max_senders=2)
    assert limiter.allow("a") and limiter.allow("b") and limiter.allow("c")
    assert limiter.allow("a")
    assert not limiter.allow("c")


def test_the_environment_sets_or_turns_off_the_limit() -> None:
    assert limiter_from({}) is not None
    assert limiter_from({"MATCHMAKER_RATE_PER_MINUTE": "0"}) is None
    for bad in ({"MATCHMAKER_RATE_PER_MINUTE": "fast"}, {"MATCHMAKER_RATE_BURST": "-1"}):
        with pytest.raises(ValueError):
            limiter_from(bad)
    with pytest.raises(ValueError):
        SenderRateLimiter(per_minute=0)
