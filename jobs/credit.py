"""Spark job: every participant's credit score from the behaviour events (``behaviour.credit``).

Events are read like the CF job reads them (HBase key ranges in parallel, or the embedded
store); each event is mapped to the participants it counts for, tallies are merged per
participant with ``reduceByKey``, and the scores with their components are written back
to the event store's credit family / table, where match cards read them.

    .venv/bin/python -m jobs.credit
"""

from __future__ import annotations

import argparse
import json
import logging
import time

from behaviour.credit import credit_from, tallies_of
from jobs.events_source import events_rdd
from jobs.spark import add_master_argument, spark_session
from matchmaker.event_stores import primary_event_store
from matchmaker.settings import Settings, load_settings

logger = logging.getLogger("jobs.credit")


def compute_and_store(settings: Settings, master: str | None = None, now: float | None = None) -> dict[str, float]:
    """Compute every participant's credit, store it, and return a summary."""
    moment = time.time() if now is None else now
    spark = spark_session(master, "matchmaker-credit")
    try:
        tallies = (events_rdd(spark.sparkContext, settings)
                   .flatMap(tallies_of)
                   .reduceByKey(lambda a, b: a.merge(b))
                   .collect())
    finally:
        spark.stop()
    credits = [credit_from(participant, tally, moment) for participant, tally in sorted(tallies)]
    primary_event_store(settings).put_credits(credits)
    scores = [c.score for c in credits]
    return {"participants": len(credits), "mean": round(sum(scores) / len(scores), 2) if scores else 0.0,
            "min": min(scores, default=0.0), "max": max(scores, default=0.0)}


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_master_argument(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    print(json.dumps(compute_and_store(load_settings(), args.master)))


if __name__ == "__main__":
    main()
