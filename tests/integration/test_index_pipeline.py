"""The Spark index job over a real HDFS, and hot swaps in the running assistant."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from bot.stack import APP_PYTHON, Stack, post_json
from matchmaker.demo_data import demo_listings
from matchmaker.listings import SQLiteListingStore, connect
from matchmaker.listings_export import export_listings
from matchmaker.matching import SearchRequest
from matchmaker.runtime import build_services
from matchmaker.settings import PROJECT_ROOT, load_settings
from nlu.lexicon import Lexicon
from storage.files import resolve
from tests.conftest import HDFS_HTTP

pytestmark = [pytest.mark.integration, pytest.mark.spark]


def run_job(*args: str) -> dict[str, Any]:
    """Run the index job as a command; return the JSON report printed on its last line."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "PYSPARK_PYTHON": str(APP_PYTHON),
           "SPARK_LOCAL_IP": "127.0.0.1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([str(APP_PYTHON), "-m", "jobs.build_index", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_job_reads_listings_from_hdfs_and_the_server_answers_from_its_index(
        hdfs_dir: str, tmp_path: Path) -> None:
    settings = load_settings({"MATCHMAKER_VAR_DIR": str(tmp_path)})
    store = SQLiteListingStore(connect(settings.database_path))
    store.add_many(demo_listings(settings.datasets_dir, settings.demo_demands_path,
                                 Lexicon.load(settings.lexicon_path), limit_per_corpus=25))
    assert export_listings(store, f"{hdfs_dir}/listings", HDFS_HTTP) == store.count()
    listings = resolve(f"{hdfs_dir}/listings", HDFS_HTTP)
    listings.store.write_bytes(listings.child("broken.jsonl").path, b'{"id": "x"}\nnot json\n')

    report = run_job("--input", f"{hdfs_dir}/listings", "--webhdfs", HDFS_HTTP)

    assert report["output"] == f"{hdfs_dir}/index"
    assert report["documents"] == store.count()
    assert report["invalid_total"] == 2 and report["rows_read"] == store.count() + 2
    served = build_services(load_settings({"MATCHMAKER_VAR_DIR": str(tmp_path),
                                           "MATCHMAKER_INDEX_URI": f"{hdfs_dir}/index",
                                           "MATCHMAKER_WEBHDFS_URL": HDFS_HTTP}))
    assert served.indexes.version == report["version"]
    assert len(served.indexes.current()) == store.count()
    english = next(item for item in store.iter_all() if item.kind == "achievement" and item.language == "en")
    matches = served.matcher.search(SearchRequest(query=english.title, target_kind="achievement", language="en",
                                                  requester_id="tester"))
    assert english.id in [match.listing.id for match in matches]


def _served(stack: Stack) -> dict[str, Any]:
    url = f"http://{stack.config.host}:{stack.config.actions_port}/index"
    with urllib.request.urlopen(url, timeout=10) as reply:
        return dict(json.loads(reply.read()))


def test_a_published_version_is_swapped_in_under_load_without_losing_a_query(stack: Stack) -> None:
    before = _served(stack)["version"]
    settings = load_settings({"MATCHMAKER_VAR_DIR": str(stack.config.var_dir)})
    export_listings(SQLiteListingStore(connect(settings.database_path)), settings.listings_uri)
    stop = threading.Event()
    outcomes: list[bool] = []

    def chat(sender: str) -> None:
        """A user searching about once a second: under the per-sender rate limit, as a person would be."""
        while not stop.is_set():
            reply = post_json(f"{stack.config.rasa_url}/webhooks/rest/webhook",
                              {"sender": sender, "message": "We need a technology to recycle lithium batteries"})
            outcomes.append(any(m.get("buttons") for m in reply))
            stop.wait(1.0)

    users = [threading.Thread(target=chat, args=(f"swap-{n}",)) for n in range(3)]
    for user in users:
        user.start()
    try:
        report = run_job("--input", settings.listings_uri, "--output", settings.index_uri)
        deadline = time.monotonic() + 60
        while _served(stack)["version"] != report["version"] and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(3)
    finally:
        stop.set()
        for user in users:
            user.join(timeout=120)

    assert report["version"] != before
    assert _served(stack)["version"] == report["version"]
    assert len(outcomes) >= 4 and all(outcomes), outcomes
