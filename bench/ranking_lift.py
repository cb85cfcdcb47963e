"""Ranking lift of CF and credit re-ranking, on a simulated market (``bench.simulator``).

    .venv/bin/python -m bench.ranking_lift [--limit-per-corpus 500] [--users 1500] [--seed 7] [--taste-weight 1]

1. Simulates the market over the demo achievements: 180 days of searches (top ten by
   BM25 shown), opens, contacts, threads, deals, ratings and disputes.
2. Splits in time. Validation: train on events before day ``--val-day``, evaluate the
   searches between it and ``--test-day``. Test: train on events before ``--test-day``,
   evaluate every later search. Only events strictly before a cut are used to learn.
3. For each split: writes the training events into an SQLite event store in a temporary
   directory, computes credit with ``behaviour.credit.compute_credits`` and stores it,
   trains CF with the real Spark job (``jobs.train_cf.train``, ALS with implicit
   preferences), and serves both through ``matchmaker.reranking.Reranker``.
4. For every evaluated search, takes the top ``--pool`` BM25 candidates and ranks them
   three ways with ``Reranker.final`` (the served, bounded blend; ``MATCHMAKER_RERANK_MAX_SHIFT``): retrieval only, retrieval + CF, retrieval + CF +
   credit. The retrieval score is what the served index gives in lexical mode.
5. Scores nDCG@10 against the simulator's hidden expected engagement grade of every
   candidate in the pool (open 1, contact 2, deal 3, without position bias), so exposure
   in the logs does not favour the logged ranking.

The ALS parameters and blend weights are chosen on the validation split only; the test
split is scored once with the chosen values. The last line is one JSON object:
``{"retrieval":..,"cf":..,"cf_credit":..,"lift":..,...}`` with ``lift = cf_credit / retrieval - 1``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from behaviour.cf import CFModel
from behaviour.credit import compute_credits
from behaviour.events import Event
from behaviour.store import SQLiteEventStore
from bench.simulator import (
    DAY,
    START,
    Behaviour,
    Market,
    MarketConfig,
    Session,
    demo_achievements,
    retrieval_score,
    simulate,
)
from index.evaluate import ndcg_of_gains
from matchmaker.reranking import CFHolder, Reranker, Signals
from matchmaker.settings import PROJECT_ROOT, load_settings

Weights = tuple[float, float, float]
ALS_GRID = ({"rank": 8, "reg": 0.5, "alpha": 10.0}, {"rank": 8, "reg": 0.05, "alpha": 10.0},
            {"rank": 16, "reg": 0.5, "alpha": 10.0})
CF_SHARES = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
CREDIT_SHARES = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3)
DEFAULT_WEIGHTS: Weights = (0.6, 0.3, 0.1)
MIN_RETRIEVAL = 0.3
HIDDEN = ("text", "taste", "owner_quality", "random")


@dataclass(frozen=True)
class Query:
    """One evaluated search: its candidates in BM25 order with their signals and hidden gains.

    ``hidden`` holds, per candidate, the simulator's hidden text relevance, taste match and
    owner quality, and a seeded random number (for the diagnostic orderings only; no
    ranking arm reads them).
    """

    user_id: str
    candidates: tuple[int, ...]
    signals: tuple[Signals, ...]
    gains: tuple[float, ...]
    hidden: dict[str, tuple[float, ...]]


def time_split(events: Iterable[Event], cut: float) -> list[Event]:
    """The events strictly before ``cut`` (what a model trained at ``cut`` may know).

    Args:
        events: Behaviour events.
        cut: Epoch seconds.

    Returns:
        The earlier events, in their given order.
    """
    return [event for event in events if event.ts < cut]


def sessions_between(sessions: Iterable[Session], start: float, end: float) -> list[Session]:
    """The searches started in ``[start, end)``."""
    return [session for session in sessions if start <= session.ts < end]


def ranked(query: Query, reranker: Reranker) -> list[float]:
    """The query's gains in the order ``reranker`` serves them (ties keep the BM25 order)."""
    scores = [reranker.final(retrieval_score(rank), signals)
              for rank, signals in enumerate(query.signals, start=1)]
    order = sorted(range(len(scores)), key=lambda position: (-scores[position], position))
    return [query.gains[position] for position in order]


def hidden_ndcg(queries: Sequence[Query], name: str, k: int = 10) -> float:
    """Mean nDCG@k when candidates are ordered by one hidden quantity alone (a diagnostic)."""
    if not queries:
        return 0.0
    total = 0.0
    for query in queries:
        values = query.hidden[name]
        order = sorted(range(len(values)), key=lambda position: (-values[position], position))
        total += ndcg_of_gains([query.gains[position] for position in order], query.gains, k)
    return total / len(queries)


def mean_ndcg(queries: Sequence[Query], reranker: Reranker, k: int = 10) -> float:
    """Mean nDCG@k of ``reranker``'s blend over ``queries``."""
    if not queries:
        return 0.0
    return sum(ndcg_of_gains(ranked(query, reranker), query.gains, k) for query in queries) / len(queries)


def weight_grid(with_credit: bool) -> list[Weights]:
    """Blend weights tried on validation (summing to 1; retrieval keeps at least ``MIN_RETRIEVAL``)."""
    credit_shares = CREDIT_SHARES if with_credit else (0.0,)
    return [(round(1.0 - cf - credit, 2), cf, credit) for cf, credit in itertools.product(CF_SHARES, credit_shares)
            if cf + credit <= 1.0 - MIN_RETRIEVAL + 1e-9]


class Stage:
    """One training cut: the event store with credit, the CF model, and the reranker factory."""

    def __init__(self, directory: Path, events: Sequence[Event], cut: float) -> None:
        """Write ``events`` (all before ``cut``) and their credit into a store under ``directory``."""
        self.settings = load_settings({"MATCHMAKER_VAR_DIR": str(directory), "MATCHMAKER_EVENT_STORE": "sqlite",
                                       "MATCHMAKER_RERANK_MAX_SHIFT": os.environ.get("MATCHMAKER_RERANK_MAX_SHIFT", "")})
        self.store = SQLiteEventStore(self.settings.events_path)
        self.store.append(events)
        self.store.put_credits(compute_credits(events, now=cut))
        self.cut = cut
        self.holder = CFHolder(None, directory / "cf-cache")

    def train(self, params: dict[str, Any]) -> dict[str, Any]:
        """Train CF with the Spark job and serve the model; return the job's report."""
        from jobs.train_cf import train

        model, report = train(self.settings, rank=int(params["rank"]), reg=float(params["reg"]),
                              alpha=float(params["alpha"]), iterations=int(params.get("iterations", 12)),
                              now=self.cut)
        self.holder.set_model(model)
        return report

    @property
    def model(self) -> CFModel | None:
        """The CF model served now."""
        return self.holder.model

    def reranker(self, weights: Weights) -> Reranker:
        """A reranker with ``weights`` over this stage's store and model."""
        return Reranker(weights, self.store, self.holder, self.settings.rerank_max_shift)

    def queries(self, market: Market, sessions: Sequence[Session], pool: int) -> list[Query]:
        """Candidates, signals and hidden gains of ``sessions``."""
        reranker = self.reranker(DEFAULT_WEIGHTS)
        found = []
        for session in sessions:
            candidates = market.retrieve(session.query, pool)
            if not candidates:
                continue
            owners = [(i, market.listings[i].owner_id) for i in candidates]
            signals = reranker.signals(session.user_id, owners)
            gains = market.expected_gains(session, candidates)
            hidden = {"text": tuple(market.text_relevance(session.need_id, candidates).tolist()),
                      "taste": tuple(market.taste_match(session.user_id, i) for i in candidates),
                      "owner_quality": tuple(market.owner_quality[owner] for _, owner in owners),
                      "random": tuple(np.random.default_rng(session.session_id).random(len(candidates)).tolist())}
            found.append(Query(session.user_id, tuple(candidates), tuple(signals[i] for i in candidates),
                               tuple(gains[i] for i in candidates), hidden))
        return found


def best_weights(stage: Stage, queries: Sequence[Query], with_credit: bool) -> tuple[Weights, float]:
    """The grid weights with the highest mean nDCG@10 on ``queries``."""
    scored = [(mean_ndcg(queries, stage.reranker(weights)), weights) for weights in weight_grid(with_credit)]
    value, weights = max(scored, key=lambda item: (round(item[0], 6), item[1][0]))
    return weights, value


def log(message: str) -> None:
    """Progress on stderr."""
    print(message, file=sys.stderr, flush=True)


def validate(market: Market, directory: Path, val_cut: float, test_cut: float, pool: int,
             grid: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Choose ALS parameters and both arms' weights on the validation split."""
    stage = Stage(directory, time_split(market.events, val_cut), val_cut)
    sessions = sessions_between(market.sessions, val_cut, test_cut)
    best: dict[str, Any] = {}
    for params in grid:
        stage.train(params)
        queries = stage.queries(market, sessions, pool)
        cf_weights, cf_value = best_weights(stage, queries, with_credit=False)
        both_weights, both_value = best_weights(stage, queries, with_credit=True)
        log(f"validation {params}: cf {cf_value:.4f} {cf_weights}, cf+credit {both_value:.4f} {both_weights}")
        if not best or both_value > best["cf_credit"]:
            best = {"als": params, "cf_weights": cf_weights, "cf_credit_weights": both_weights,
                    "retrieval": mean_ndcg(queries, stage.reranker((1.0, 0.0, 0.0))),
                    "cf": cf_value, "cf_credit": both_value, "queries": len(queries)}
    return best


def test(market: Market, directory: Path, test_cut: float, pool: int, chosen: dict[str, Any]) -> dict[str, Any]:
    """Score the three rankings on the test split with the validation's choices."""
    train_events = time_split(market.events, test_cut)
    stage = Stage(directory, train_events, test_cut)
    report = stage.train(chosen["als"])
    sessions = sessions_between(market.sessions, test_cut, math.inf)
    queries = stage.queries(market, sessions, pool)
    with_cf = sum(1 for query in queries if query.signals[0].cf is not None)
    return {
        "retrieval": mean_ndcg(queries, stage.reranker((1.0, 0.0, 0.0))),
        "cf": mean_ndcg(queries, stage.reranker(chosen["cf_weights"])),
        "cf_credit": mean_ndcg(queries, stage.reranker(chosen["cf_credit_weights"])),
        "default_weights": mean_ndcg(queries, stage.reranker(DEFAULT_WEIGHTS)),
        "hidden_only": {name: round(hidden_ndcg(queries, name), 4) for name in HIDDEN},
        "queries": len(queries), "queries_with_cf": with_cf, "train_events": len(train_events),
        "als_pairs": report["pairs"], "als_seconds": report["seconds"],
    }


def prepare_spark_environment() -> None:
    """Environment the local Spark job needs (kept if already set)."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("PYTHONPATH", str(PROJECT_ROOT))


def main(argv: list[str] | None = None) -> None:
    """Simulate, tune on validation, score the test split, print the JSON summary last."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit-per-corpus", type=int, default=500)
    parser.add_argument("--users", type=int, default=1500)
    parser.add_argument("--taste-weight", type=float, default=1.0,
                        help="scale of the hidden tastes in behaviour (0: none)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--pool", type=int, default=50)
    parser.add_argument("--val-day", type=float, default=120.0)
    parser.add_argument("--test-day", type=float, default=150.0)
    parser.add_argument("--no-tune", action="store_true", help="skip the ALS grid (use its first entry)")
    args = parser.parse_args(argv)
    prepare_spark_environment()
    started = time.perf_counter()
    settings = load_settings()
    listings = demo_achievements(settings.datasets_dir, settings.demo_demands_path, settings.lexicon_path,
                                 args.limit_per_corpus)
    config = MarketConfig(seed=args.seed, users=args.users, behaviour=Behaviour(taste_weight=args.taste_weight))
    market = simulate(listings, config)
    log(f"simulated {len(market.sessions)} searches, {len(market.events)} events over {len(listings)} listings "
        f"in {time.perf_counter() - started:.0f} s")
    val_cut, test_cut = START + args.val_day * DAY, START + args.test_day * DAY
    grid = ALS_GRID[:1] if args.no_tune else ALS_GRID
    with tempfile.TemporaryDirectory(prefix="ranking-lift-") as scratch:
        chosen = validate(market, Path(scratch) / "validation", val_cut, test_cut, args.pool, grid)
        result = test(market, Path(scratch) / "test", test_cut, args.pool, chosen)
    summary = {
        "retrieval": round(result["retrieval"], 4), "cf": round(result["cf"], 4),
        "cf_credit": round(result["cf_credit"], 4), "lift": round(result["cf_credit"] / result["retrieval"] - 1, 4),
        "cf_lift": round(result["cf"] / result["retrieval"] - 1, 4),
        "default_weights_ndcg": round(result["default_weights"], 4), "hidden_only_ndcg": result["hidden_only"],
        "validation": {key: round(chosen[key], 4) for key in ("retrieval", "cf", "cf_credit")},
        "users": len(market.users), "listings": len(listings), "searches": len(market.sessions),
        "events": len(market.events), "train_events": result["train_events"], "queries": result["queries"],
        "queries_with_cf": result["queries_with_cf"], "als_pairs": result["als_pairs"],
        "params": {"als": chosen["als"], "cf_weights": chosen["cf_weights"], "taste_weight": args.taste_weight,
                   "cf_credit_weights": chosen["cf_credit_weights"], "pool": args.pool, "seed": args.seed,
                   "max_shift": settings.rerank_max_shift},
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
