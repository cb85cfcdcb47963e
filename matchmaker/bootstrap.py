"""Build the embedded demo: listings into SQLite, then a published index version.

``python -m matchmaker.bootstrap`` does only what is missing: demo listings when the
store is empty, an index when none is published. ``--rebuild-index`` forces a new index
version over every stored listing.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from index.build import build_hybrid
from index.dense import SentenceTransformerEncoder
from index.store import publish, write_version
from matchmaker.demo_data import demo_listings
from matchmaker.listings import SQLiteListingStore, connect
from matchmaker.settings import Settings, load_settings
from nlu.lexicon import Lexicon

logger = logging.getLogger(__name__)


def load_demo(settings: Settings, store: SQLiteListingStore, limit_per_corpus: int | None) -> int:
    """Insert the demo listings when the store is empty; return how many were stored."""
    if store.count() > 0:
        return 0
    lexicon = Lexicon.load(settings.lexicon_path)
    return store.add_many(demo_listings(settings.datasets_dir, settings.demo_demands_path, lexicon,
                                        limit_per_corpus=limit_per_corpus))


def build_index(settings: Settings, store: SQLiteListingStore) -> Path:
    """Index every stored listing and publish the new version; return its directory."""
    listings = list(store.iter_all())
    started = time.perf_counter()

    def progress(done: int, total: int) -> None:
        rate = done / max(time.perf_counter() - started, 1e-6)
        print(f"\rencoding {done}/{total} listings ({rate:.0f}/s)", end="", file=sys.stderr, flush=True)

    encoder = SentenceTransformerEncoder(settings.model_name)
    hybrid = build_hybrid([item.id for item in listings], [item.search_text for item in listings],
                          encoder, progress=progress)
    print(file=sys.stderr)
    version = write_version(settings.index_root, hybrid, {"source": "matchmaker.bootstrap",
                                                          "listings": len(listings)})
    publish(settings.index_root, version)
    return version


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
    store = SQLiteListingStore(connect(settings.database_path))
    added = load_demo(settings, store, args.limit_per_corpus)
    print(f"listings: {store.count()} stored ({added} demo listings added now)")
    if args.rebuild_index or not (settings.index_root / "CURRENT").exists():
        version = build_index(settings, store)
        print(f"index published: {version}")
    else:
        print(f"index: {(settings.index_root / 'CURRENT').read_text().strip()} (already published)")


if __name__ == "__main__":
    main()
