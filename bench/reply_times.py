"""Reply times over the REST channel: the first message after start-up against the next ones.

    .venv/bin/python -m bench.reply_times --model models/<hash>.tar.gz [--rounds 20]

Starts the whole assistant (action server, Rasa server, web page) as ``make run`` does, on
the data under ``MATCHMAKER_VAR_DIR`` (default ``var/``, built by ``make demo``), on ports of
its own. As soon as the launcher reports the servers ready, one new user sends a problem
description (the first reply of the process), then ``--rounds`` more users each send one of
several descriptions in English and Chinese, and each also sends a short follow-up ("more").
The last line is one JSON object with milliseconds:
``{"first_ms":..,"next_p50_ms":..,"next_p95_ms":..,"followup_p50_ms":..,...}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from bot.stack import Stack, StackConfig, post_json
from matchmaker.settings import load_settings

DESCRIPTIONS = (
    "We need a technology to recycle lithium batteries from electric vehicles",
    "我们公司需要提高水稻产量的种植技术",
    "Looking for an early diagnosis method for sepsis in intensive care",
    "我们需要降低陶瓷窑炉能耗的余热回收技术，预算200万",
    "Our lab developed a graphene coating that protects steel pipes from corrosion",
)


def timed(url: str, sender: str, message: str) -> tuple[float, bool]:
    """Milliseconds for one REST turn, and whether match cards came back."""
    started = time.perf_counter()
    reply = post_json(url, {"sender": sender, "message": message})
    elapsed = (time.perf_counter() - started) * 1000
    return elapsed, any(item.get("buttons") for item in reply or [])


def percentile(values: list[float], share: float) -> float:
    """The value at ``share`` (0-1) of the sorted values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> None:
    """Start the stack, measure, stop it, print the JSON summary last."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    config = StackConfig(model=args.model, rasa_port=5305, actions_port=5355, web_port=8380,
                         var_dir=load_settings().var_dir)
    with Stack(config) as stack:
        url = f"{stack.config.rasa_url}/webhooks/rest/webhook"
        first_ms, first_cards = timed(url, "bench-first", DESCRIPTIONS[0])
        next_ms: list[float] = []
        followup_ms: list[float] = []
        cards = [first_cards]
        for round_number in range(args.rounds):
            sender = f"bench-{round_number}"
            elapsed, found = timed(url, sender, DESCRIPTIONS[round_number % len(DESCRIPTIONS)])
            next_ms.append(elapsed)
            cards.append(found)
            followup_ms.append(timed(url, sender, "more" if round_number % 2 == 0 else "更多")[0])
    print(json.dumps({
        "first_ms": round(first_ms),
        "next_p50_ms": round(statistics.median(next_ms)),
        "next_p95_ms": round(percentile(next_ms, 0.95)),
        "next_max_ms": round(max(next_ms)),
        "followup_p50_ms": round(statistics.median(followup_ms)),
        "rounds": args.rounds,
        "replies_with_cards": f"{sum(cards)}/{len(cards)}",
    }))


if __name__ == "__main__":
    main()
