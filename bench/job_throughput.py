"""Throughput of the Spark index job against the bare encoder, on the same documents in one run.

    .venv/bin/python -m bench.job_throughput --docs 20000

The documents are the demo listings (CSL and SciFact abstracts with the written demands),
repeated with fresh ids when more are asked for than exist. First the bare encoder
(sentence-transformers in this process, model already loaded, batch 128) encodes every
text; then ``jobs.build_index`` runs end to end on the same texts written as JSONL:
Spark start, reading, validation, deduplication, embedding in ``mapPartitions``, FAISS and
BM25 building, writing, verifying and publishing. ``job_docs_per_s`` is documents over the
job's whole wall time; ``embed_stage_docs_per_s`` is the embedding stage alone.
The last line is one JSON object:
``{"job_docs_per_s":..,"encoder_docs_per_s":..,"ratio":..,...}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, replace
from itertools import cycle, islice
from pathlib import Path

from index.build import encode_in_batches
from index.dense import SentenceTransformerEncoder
from jobs.build_index import run
from matchmaker.demo_data import demo_listings
from matchmaker.listings import Listing
from matchmaker.settings import load_settings
from nlu.lexicon import Lexicon


def documents(count: int) -> list[Listing]:
    """``count`` demo listings with ids 1..count (the demo repeated if it is smaller)."""
    settings = load_settings()
    demo = list(demo_listings(settings.datasets_dir, settings.demo_demands_path, Lexicon.load(settings.lexicon_path)))
    return [replace(item, id=number) for number, item in enumerate(islice(cycle(demo), count), start=1)]


def encoder_rate(model_name: str, texts: list[str]) -> float:
    """Documents per second of the bare encoder (model loaded before timing)."""
    encoder = SentenceTransformerEncoder(model_name)
    encoder.encode(texts[:8])
    started = time.perf_counter()
    encode_in_batches(encoder, texts, batch_size=128)
    return len(texts) / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> None:
    """Run both measurements and print the JSON summary last."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=20000)
    parser.add_argument("--model", default="all-MiniLM-L6-v2")
    args = parser.parse_args(argv)
    listings = documents(args.docs)
    texts = [item.search_text for item in listings]
    print(f"encoding {len(texts)} documents with the bare encoder ...", file=sys.stderr, flush=True)
    encoder_docs_per_s = encoder_rate(args.model, texts)
    print(f"encoder: {encoder_docs_per_s:.1f} docs/s", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-job-") as scratch:
        source = Path(scratch) / "listings"
        source.mkdir()
        with (source / "listings.jsonl").open("w", encoding="utf-8") as handle:
            for item in listings:
                handle.write(json.dumps(asdict(item), ensure_ascii=False) + "\n")
        started = time.perf_counter()
        report = run(str(source), str(Path(scratch) / "index"), model_name=args.model)
        job_seconds = time.perf_counter() - started
    job_docs_per_s = report["documents"] / job_seconds
    result = {
        "docs": len(texts),
        "job_docs_per_s": round(job_docs_per_s, 1),
        "encoder_docs_per_s": round(encoder_docs_per_s, 1),
        "ratio": round(job_docs_per_s / encoder_docs_per_s, 3),
        "embed_stage_docs_per_s": round(report["documents"] / report["seconds"]["embed"], 1),
        "job_seconds": round(job_seconds, 1),
        "stage_seconds": report["seconds"],
        "cores": os.cpu_count(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
