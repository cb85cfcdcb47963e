"""Export the listing store to JSONL for the index job: ``<listings URI>/listings.jsonl``.

    .venv/bin/python -m jobs.export_listings            # to the profile's listings URI
    .venv/bin/python -m jobs.export_listings --output hdfs://127.0.0.1:8020/matchmaker/listings
"""

from __future__ import annotations

import argparse

from matchmaker.listings import SQLiteListingStore
from matchmaker.listings_export import EXPORT_FILE, export_listings
from matchmaker.settings import load_settings
from storage.sql import open_database

__all__ = ["EXPORT_FILE", "export_listings", "main"]


def main(argv: list[str] | None = None) -> None:
    """Command line entry point."""
    settings = load_settings()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", default=settings.listings_uri)
    args = parser.parse_args(argv)
    count = export_listings(SQLiteListingStore(open_database(settings)), args.output, settings.webhdfs_url)
    print(f"exported {count} listings to {args.output}/{EXPORT_FILE}")


if __name__ == "__main__":
    main()
