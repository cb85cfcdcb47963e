"""One contract for both per-sender rate limiters: in the process, and in a real Redis
shared by several Rasa servers."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable

import pytest

from channels.rate_limit import RateLimiter, RedisRateLimiter, SenderRateLimiter, limiter_from
from tests.conftest import LocalServer

Make = Callable[[float, int], RateLimiter]


def redis_url(server: LocalServer) -> str:
    return f"redis://:{server.password}@127.0.0.1:{server.port}/0"


@pytest.fixture(params=["process", pytest.param("redis", marks=pytest.mark.integration)])
def make(request: pytest.FixtureRequest) -> Make:
    if request.param == "process":
        return lambda per_minute, burst: SenderRateLimiter(per_minute, burst)
    server: LocalServer = request.getfixturevalue("redis_server")
    prefix = f"test:{uuid.uuid4().hex[:8]}:"
    return lambda per_minute, burst: RedisRateLimiter(redis_url(server), per_minute, burst, prefix=prefix)


def test_a_burst_is_allowed_then_the_sender_waits_for_the_refill(make: Make) -> None:
    limiter = make(120, 3)
    assert [limiter.allow("alice") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("bob"), "another sender has a bucket of their own"
    time.sleep(0.6)
    assert limiter.allow("alice"), "120 a minute refills one message in 0.5 s"
    assert not limiter.allow("alice")


def test_the_bucket_is_shared_by_every_server_only_through_redis(make: Make) -> None:
    first, second = make(60, 2), make(60, 2)
    assert first.allow("carol") and first.allow("carol")
    shared = not second.allow("carol")
    assert shared == isinstance(second, RedisRateLimiter)


def test_a_redis_that_does_not_answer_lets_messages_through() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    limiter = RedisRateLimiter(f"redis://:x@127.0.0.1:{port}/0", 60, 1)
    assert limiter.allow("dave") and limiter.allow("dave")


def test_the_environment_chooses_redis_when_its_url_is_set() -> None:
    assert isinstance(limiter_from({"MATCHMAKER_REDIS_URL": "redis://:x@127.0.0.1:1/0"}), RedisRateLimiter)
    assert isinstance(limiter_from({}), SenderRateLimiter)
    assert limiter_from({"MATCHMAKER_REDIS_URL": "redis://:x@127.0.0.1:1/0", "MATCHMAKER_RATE_PER_MINUTE": "0"}) is None
