"""The published listings as JSONL for the index job: ``<listings URI>/listings.jsonl``.

The serving side's store is the source of truth for listings (including those posted
through chat); the index job reads this export. The file is written under a temporary
name and renamed into place, so a job never reads half of it.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from matchmaker.listings import ListingStore
from storage.files import resolve

EXPORT_FILE = "listings.jsonl"


def export_listings(store: ListingStore, output_uri: str, webhdfs_url: str | None = None) -> int:
    """Write every published listing of ``store`` as one JSON line each; return how many were written.

    Listings waiting for review, or rejected, are not searchable, so the index job never sees them.
    """
    lines = [json.dumps(asdict(listing), ensure_ascii=False) for listing in store.iter_all()
             if listing.status == "published"]
    target = resolve(output_uri, webhdfs_url)
    target.store.makedirs(target.path)
    target.store.write_bytes(target.child(EXPORT_FILE).path, ("\n".join(lines) + "\n").encode("utf-8"))
    return len(lines)
