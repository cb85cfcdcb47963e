"""Spark job: collaborative filtering (MLlib ALS, implicit feedback) over the behaviour events.

Reads every event (HBase in parallel key-range scans, or the embedded store), turns them
into decayed implicit-feedback weights per (user, listing) (``behaviour.cf``), trains
``ALS(implicitPrefs=True)``, and writes the user and listing factors as a versioned
directory published like the index (``versions/<name>`` and an atomically replaced
``CURRENT`` under the CF root, local or HDFS). The action server picks new versions up
without a restart.

    .venv/bin/python -m jobs.train_cf                       # the profile's event store and CF root
    spark-submit --master yarn --py-files matchmaker.zip jobs/train_cf.py --rank 32

The last line printed is a JSON report (counts, parameters, version).
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from behaviour.cf import HALF_LIFE_DAYS, CFModel, event_weight
from index.remote import publish_version
from jobs.events_source import events_rdd
from jobs.spark import add_master_argument, spark_session
from matchmaker.settings import Settings, load_settings
from storage.files import resolve

logger = logging.getLogger("jobs.train_cf")


def train(settings: Settings, *, rank: int = 16, reg: float = 0.05, alpha: float = 10.0, iterations: int = 12,
          half_life_days: float = HALF_LIFE_DAYS, now: float | None = None, master: str | None = None,
          seed: int = 7) -> tuple[CFModel, dict[str, Any]]:
    """Train ALS on the stored events; return the model and a report."""
    from pyspark.ml.recommendation import ALS

    moment = time.time() if now is None else now
    spark = spark_session(master, "matchmaker-train-cf")
    started = time.perf_counter()
    try:
        events = events_rdd(spark.sparkContext, settings)
        weights = (events.map(lambda e: ((e.user_id, e.listing_id), event_weight(e, moment, half_life_days)))
                   .filter(lambda pair: pair[1] != 0.0)
                   .reduceByKey(lambda a, b: a + b)
                   .filter(lambda pair: abs(pair[1]) > 1e-9)
                   .cache())
        users = sorted(weights.map(lambda pair: pair[0][0]).distinct().collect())
        user_index = {user: number for number, user in enumerate(users)}
        lookup = spark.sparkContext.broadcast(user_index)
        rows = weights.map(lambda pair: (lookup.value[pair[0][0]], int(pair[0][1]), float(pair[1])))
        pairs = rows.count()
        if pairs == 0:
            raise RuntimeError("no event carries implicit feedback yet; nothing to train on")
        items = weights.map(lambda pair: pair[0][1]).distinct().count()
        # A rank above the number of users or listings leaves the normal equations singular for
        # anyone with only negative feedback (implicit ALS regularises by positive count).
        rank = max(1, min(rank, len(users) - 1, items - 1))
        frame = spark.createDataFrame(rows, ["user", "item", "weight"])
        als = ALS(rank=rank, regParam=reg, alpha=alpha, maxIter=iterations, implicitPrefs=True,
                  userCol="user", itemCol="item", ratingCol="weight", seed=seed, nonnegative=False,
                  coldStartStrategy="drop")
        fitted = als.fit(frame)
        engaged = dict(weights.filter(lambda pair: pair[1] > 0)
                       .map(lambda pair: (int(pair[0][1]), [pair[0][0]]))
                       .reduceByKey(lambda a, b: a + b).collect())
        user_rows = sorted((int(r.id), list(r.features)) for r in fitted.userFactors.collect())
        item_rows = sorted((int(r.id), list(r.features)) for r in fitted.itemFactors.collect())
    finally:
        spark.stop()
    model = CFModel(users=[users[number] for number, _ in user_rows],
                    user_factors=np.asarray([f for _, f in user_rows], dtype=np.float32).reshape(-1, rank),
                    item_ids=np.asarray([i for i, _ in item_rows], dtype=np.int64),
                    item_factors=np.asarray([f for _, f in item_rows], dtype=np.float32).reshape(-1, rank),
                    meta={}, engaged={item: sorted(users_) for item, users_ in engaged.items()})
    report = {"users": len(model.users), "listings": len(model.item_ids), "pairs": pairs, "rank": rank,
              "reg": reg, "alpha": alpha, "iterations": iterations, "half_life_days": half_life_days,
              "source": settings.event_store, "seconds": round(time.perf_counter() - started, 1)}
    model.meta = report
    return model, report


def publish_model(model: CFModel, cf_uri: str, webhdfs_url: str | None = None) -> str:
    """Write the model as a new version under ``cf_uri`` and publish it; return the version name."""
    name = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + uuid.uuid4().hex[:8]
    with tempfile.TemporaryDirectory(prefix="cf-build-") as scratch:
        directory = Path(scratch) / name
        model.save(directory)
        CFModel.load(directory)
        return publish_version(resolve(cf_uri, webhdfs_url), directory)


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    settings = load_settings()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--reg", type=float, default=0.05)
    parser.add_argument("--alpha", type=float, default=10.0)
    parser.add_argument("--iterations", type=int, default=12)
    parser.add_argument("--half-life-days", type=float, default=HALF_LIFE_DAYS)
    add_master_argument(parser)
    parser.add_argument("--output", default=settings.cf_uri)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    model, report = train(settings, rank=args.rank, reg=args.reg, alpha=args.alpha, iterations=args.iterations,
                          half_life_days=args.half_life_days, master=args.master)
    report["version"] = publish_model(model, args.output, settings.webhdfs_url)
    report["output"] = args.output
    print(json.dumps(report))


if __name__ == "__main__":
    main()
