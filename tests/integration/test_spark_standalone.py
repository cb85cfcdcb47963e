"""The Spark jobs, unchanged, on a real standalone cluster (``infra/spark.sh``) over the real HDFS and HBase.

The jobs run as commands with ``--master spark://127.0.0.1:7077`` and without the caller's
``PYTHONPATH`` or ``PYSPARK_PYTHON``: the executors on the worker must get the project's code
and Python from the job itself, as they would on a cluster that shares nothing with the shell.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from behaviour.events import Event
from behaviour.hbase_store import HBaseEventStore
from bot.stack import APP_PYTHON
from index.dense import SentenceTransformerEncoder
from index.remote import current_name, fetch_version
from index.store import load_version
from matchmaker.demo_data import demo_listings
from matchmaker.listings import SQLiteListingStore, connect
from matchmaker.listings_export import export_listings
from matchmaker.settings import PROJECT_ROOT, load_settings
from nlu.lexicon import Lexicon
from storage.files import resolve
from tests.conftest import HDFS_HTTP, local_service

pytestmark = [pytest.mark.integration, pytest.mark.spark, pytest.mark.slow, pytest.mark.heavy]

SPARK_MASTER = "spark://127.0.0.1:7077"
SPARK_WEB_UI = "http://127.0.0.1:7080"
JOB_TIMEOUT = 900


def master_status() -> dict[str, Any] | None:
    """The master's JSON status page, or ``None`` when it does not answer."""
    try:
        with urllib.request.urlopen(f"{SPARK_WEB_UI}/json/", timeout=5) as reply:
            return dict(json.loads(reply.read()))
    except (OSError, ValueError):
        return None


def _cluster_answers() -> bool:
    status = master_status()
    return (status is not None and status.get("url") == SPARK_MASTER and status.get("status") == "ALIVE"
            and int(status.get("aliveworkers", 0)) >= 1)


@pytest.fixture(scope="module")
def spark_master() -> Iterator[str]:
    """A standalone master with one registered worker; started here (and stopped) unless one answers."""
    with local_service("spark.sh", _cluster_answers):
        yield SPARK_MASTER


def completed_apps(name: str) -> dict[str, dict[str, Any]]:
    """The master's completed applications called ``name``, by application id."""
    status = master_status()
    assert status is not None, f"the Spark master at {SPARK_WEB_UI} stopped answering"
    return {str(app["id"]): dict(app) for app in status.get("completedapps", []) if app.get("name") == name}


def run_on_cluster(master: str, module: str, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``python -m module --master master ...`` as a command; return the JSON report of its last line."""
    clean = {key: value for key, value in os.environ.items()
             if key not in ("PYTHONPATH", "PYSPARK_PYTHON", "MATCHMAKER_SPARK_MASTER")}
    clean.update({"SPARK_LOCAL_IP": "127.0.0.1", "HF_HUB_OFFLINE": "1", **(env or {})})
    done = subprocess.run([str(APP_PYTHON), "-m", module, "--master", master, *args], cwd=PROJECT_ROOT,
                          env=clean, capture_output=True, text=True, timeout=JOB_TIMEOUT)
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def ran_on_cluster(name: str, before: set[str]) -> dict[str, Any]:
    """The one application ``name`` that completed on the master since ``before``, once it is listed."""
    deadline = time.monotonic() + 30
    while True:
        new = {app_id: app for app_id, app in completed_apps(name).items() if app_id not in before}
        if new or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert len(new) == 1, f"expected one new completed application {name!r} on {SPARK_MASTER}, got {new}"
    return next(iter(new.values()))


def test_the_index_job_runs_on_the_standalone_cluster_and_publishes_a_version(
        spark_master: str, hdfs_dir: str, tmp_path: Path) -> None:
    settings = load_settings({"MATCHMAKER_VAR_DIR": str(tmp_path)})
    store = SQLiteListingStore(connect(settings.database_path))
    store.add_many(demo_listings(settings.datasets_dir, settings.demo_demands_path,
                                 Lexicon.load(settings.lexicon_path), limit_per_corpus=20))
    assert export_listings(store, f"{hdfs_dir}/listings", HDFS_HTTP) == store.count()
    before = set(completed_apps("matchmaker-build-index"))

    report = run_on_cluster(spark_master, "jobs.build_index", "--input", f"{hdfs_dir}/listings",
                            "--webhdfs", HDFS_HTTP, "--batch-size", "32")

    app = ran_on_cluster("matchmaker-build-index", before)
    assert app["state"] == "FINISHED" and int(app["cores"]) >= 1, app
    assert report["output"] == f"{hdfs_dir}/index" and report["documents"] == store.count()
    root = resolve(report["output"], HDFS_HTTP)
    assert current_name(root) == report["version"]
    encoder = SentenceTransformerEncoder(settings.model_name)
    index, config = load_version(fetch_version(root, report["version"], tmp_path / "cache"), encoder)
    assert len(index) == store.count() and config["meta"]["source"] == f"{hdfs_dir}/listings"
    english = next(item for item in store.iter_all() if item.kind == "achievement" and item.language == "en")
    assert english.id in [hit.id for hit in index.search(english.title, k=3, mode="dense")]


def test_the_cf_job_reads_hbase_on_the_executors_and_publishes_factors(
        spark_master: str, hdfs_dir: str, hbase: tuple[str, int], tmp_path: Path) -> None:
    prefix = f"test_{uuid.uuid4().hex[:8]}_"
    events = HBaseEventStore(*hbase, table_prefix=prefix)
    events.ensure_table()
    try:
        now = time.time()
        events.append([Event(kind, f"ent:{n}", listing_id=listing, subject_id=f"owner:{listing}",
                             ts=now - 3600 + n)
                       for n in range(6) for kind, listing in (("contact", 1), ("deal", 1), ("opened", 2 + n % 2))])
        before = set(completed_apps("matchmaker-train-cf"))

        report = run_on_cluster(spark_master, "jobs.train_cf", "--rank", "2", "--iterations", "4",
                                "--output", f"{hdfs_dir}/cf",
                                env={"MATCHMAKER_VAR_DIR": str(tmp_path), "MATCHMAKER_EVENT_STORE": "hbase",
                                     "MATCHMAKER_HBASE_TABLE_PREFIX": prefix, "MATCHMAKER_WEBHDFS_URL": HDFS_HTTP})
    finally:
        events.drop()

    assert ran_on_cluster("matchmaker-train-cf", before)["state"] == "FINISHED"
    assert report["users"] == 6 and report["listings"] == 3 and report["pairs"] == 12
    assert current_name(resolve(f"{hdfs_dir}/cf", HDFS_HTTP)) == report["version"]
