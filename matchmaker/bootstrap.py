"""Build the demo: listings into the configured database, then a published index version.

``python -m matchmaker.bootstrap`` does only what is missing: demo listings when the
store is empty, an index when none is published (under the profile's index URI, local or
HDFS). ``--rebuild-index`` forces a new version over every stored listing. This builds in
one process, which is quicker for a first start than a Spark session; the Spark job
(``jobs.build_index``, ``make index``) rebuilds the same kind of version from the exported
listings.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time

from index.build import assemble_hybrid, encode_in_batches
from index.dense import SentenceTransformerEncoder
from index.remote import current_name, publish_version
from index.store import write_version
from matchmaker.demo_data import demo_funding, demo_listings
from matchmaker.listings import SQLiteListingStore
from matchmaker.listings_export import export_listings
from matchmaker.settings import Settings, load_settings
from nlu.lexicon import Lexicon
from storage.files import FileStoreError, resolve
from storage.sql import open_database

logger = logging.getLogger(__name__)


def load_demo(settings: Settings, store: SQLiteListingStore, limit_per_corpus: int | None) -> int:
    """Insert the demo listings when the store is empty, and demo funding offers it lacks; return how many."""
    added = 0
    if store.count() == 0:
        lexicon = Lexicon.load(settings.lexicon_path)
        added = store.add_many(demo_listings(settings.datasets_dir, settings.demo_demands_path, lexicon,
                                             limit_per_corpus=limit_per_corpus))
    return added + store.add_many(demo_funding(settings.demo_funding_path))


def build_index(settings: Settings, store: SQLiteListingStore) -> str:
    """Index every stored listing and publish the new version; return its name."""
    listings = [item for item in store.iter_all() if item.status == "published"]
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        rate = done / max(time.perf_counter() - started, 1e-6)
        print(f"\rencoding {done}/{total} listings ({rate:.0f}/s)", end="", file=sys.stderr, flush=True)

    encoder = SentenceTransformerEncoder(settings.model_name)
    texts = [item.search_text for item in listings]
    vectors = encode_in_batches(encoder, texts, progress=progress)
    print(file=sys.stderr)
    hybrid, report = assemble_hybrid([item.id for item in listings], texts, vectors, encoder)
    with tempfile.TemporaryDirectory(prefix="index-build-") as scratch:
        version = write_version(scratch, hybrid, {"source": "matchmaker.bootstrap", "listings": len(listings),
                                                  "dense": report})
        return publish_version(resolve(settings.index_uri, settings.webhdfs_url), version)


def main(argv: list[str] | None = None) -> None:
    """Build what is missing."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rebuild-index", action="store_true")
    parser.add_argument("--limit-per-corpus", type=int,
                        default=int(os.environ["MATCHMAKER_DEMO_LIMIT"]) if os.environ.get("MATCHMAKER_DEMO_LIMIT")
                        else None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = load_settings()
    store = SQLiteListingStore(open_database(settings))
    added = load_demo(settings, store, args.limit_per_corpus)
    print(f"listings: {store.count()} stored ({added} demo listings added now)")
    try:
        exported = export_listings(store, settings.listings_uri, settings.webhdfs_url)
        published = current_name(resolve(settings.index_uri, settings.webhdfs_url))
    except FileStoreError as error:
        sys.exit(f"cannot reach {settings.index_uri} ({error}); for the cluster profile start the local "
                 "services with `make infra-up`, or point MATCHMAKER_HDFS at your cluster")
    print(f"listings exported for the index job: {exported} to {settings.listings_uri}")
    if args.rebuild_index or published is None:
        print(f"index published: {build_index(settings, store)} under {settings.index_uri}")
    else:
        print(f"index: {published} (already published under {settings.index_uri})")


if __name__ == "__main__":
    main()
