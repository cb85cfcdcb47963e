"""Run by Rasa's Python (``.venv-rasa``): a turn waiting behind a ticket whose server died.

Usage: ``rasa_lock_probe.py CLASS HOST PORT PASSWORD PREFIX``; prints one JSON object with
whether the waiting turn got the lock, in how many seconds, and the error if it gave up.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

from rasa.core.lock_store import LockError, RedisLockStore

from bot.lock_store import RecoveringRedisLockStore

LIFETIME = 1.0


async def probe(store: Any) -> dict[str, Any]:
    conversation = "probe-conversation"
    store.issue_ticket(conversation, LIFETIME)
    started = time.monotonic()
    try:
        async def turn() -> None:
            async with store.lock(conversation, lock_lifetime=LIFETIME, wait_time_in_seconds=0.1):
                pass

        await asyncio.wait_for(turn(), timeout=8)
    except asyncio.TimeoutError:
        return {"acquired": False, "seconds": time.monotonic() - started, "error": "still waiting"}
    except LockError as error:
        return {"acquired": False, "seconds": time.monotonic() - started, "error": str(error)}
    after = store.get_lock(conversation)
    return {"acquired": True, "seconds": time.monotonic() - started, "left": len(after.tickets) if after else 0}


def main() -> None:
    kind, host, port, password, prefix = sys.argv[1:6]
    cls = RecoveringRedisLockStore if kind == "recovering" else RedisLockStore
    store = cls(host=host, port=int(port), password=password, key_prefix=prefix)
    print(json.dumps(asyncio.run(probe(store))))


if __name__ == "__main__":
    main()
