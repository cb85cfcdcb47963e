"""Spark job: listings (JSONL or Parquet, local or HDFS) -> a new published index version.

Stages, each logged with its count and rate:

1. read every row under ``--input`` (``file://``, a plain path or ``hdfs://``);
2. validate each row (bad rows are counted by reason and reported, never dropped silently)
   and deduplicate by listing id (the latest ``created_at`` wins);
3. embed the titles and descriptions in ``mapPartitions``: each executor loads the
   sentence-transformers model once and encodes its partitions in batches;
4. on the driver: build the BM25 statistics and the FAISS index, whose type follows the
   size rule of :mod:`index.ann` (exact up to ``EXACT_LIMIT`` documents, IVF with an 8-bit
   scalar quantiser above, ``nprobe`` calibrated to recall@10 >= 0.97 against exact search);
5. write a versioned directory (``dense.faiss``, ``ids.npy``, ``lexical.*``, ``config.json``
   with build time, model, library versions, counts, checksums and this job's report),
   verify it by loading it back, copy it under ``--output`` (next to the input by default)
   and publish it by replacing the ``CURRENT`` pointer in one atomic rename.

Run locally (``local[*]``)::

    .venv/bin/python -m jobs.build_index                      # the profile's listings and index
    .venv/bin/python -m jobs.build_index --input var/listings  # index written to var/index

Run on the local standalone cluster (``infra/spark.sh start``), listings and index on HDFS::

    .venv/bin/python -m jobs.build_index --master spark://127.0.0.1:7077 \\
      --input hdfs://127.0.0.1:8020/matchmaker/listings

Run on a cluster (the same file, unchanged; ship the project's packages with it)::

    zip -qr matchmaker.zip index jobs matchmaker nlu storage
    spark-submit --master yarn --deploy-mode client --py-files matchmaker.zip \\
      --conf spark.executorEnv.HF_HUB_OFFLINE=1 --conf spark.executor.cores=4 \\
      jobs/build_index.py --input hdfs://namenode:8020/matchmaker/listings \\
      --webhdfs http://namenode:9870
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from index.build import assemble_hybrid
from index.dense import ModelSpec, SentenceTransformerEncoder
from index.remote import publish_version
from index.store import load_version, write_version
from jobs.listing_rows import IndexRow, newer, parse_line, validate_record
from jobs.spark import add_master_argument, spark_session
from matchmaker.settings import load_settings
from storage.files import Location, resolve

if TYPE_CHECKING:
    from pyspark import RDD
    from pyspark.sql import SparkSession

logger = logging.getLogger("jobs.build_index")

ENCODE_CHUNK = 512
_worker_encoders: dict[str, SentenceTransformerEncoder] = {}


@dataclass
class BuildReport:
    """Counts and timings of one run; stored in the version's ``config.json``."""

    rows_read: int = 0
    rows_invalid: dict[str, int] = field(default_factory=dict)
    duplicates_dropped: int = 0
    documents: int = 0
    seconds: dict[str, float] = field(default_factory=dict)
    dense: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {"rows_read": self.rows_read, "rows_invalid": self.rows_invalid,
                "invalid_total": sum(self.rows_invalid.values()),
                "duplicates_dropped": self.duplicates_dropped, "documents": self.documents,
                "seconds": {k: round(v, 2) for k, v in self.seconds.items()}, "dense": self.dense}


class Stage:
    """Logs a stage's start, then its count, duration and rate."""

    def __init__(self, report: BuildReport, name: str) -> None:
        """Time stage ``name`` into ``report``."""
        self._report, self._name = report, name

    def __enter__(self) -> Stage:
        logger.info("stage %s ...", self._name)
        self._started = time.perf_counter()
        return self

    def done(self, count: int, unit: str) -> None:
        """Record the stage's result."""
        elapsed = time.perf_counter() - self._started
        self._report.seconds[self._name] = elapsed
        logger.info("stage %s: %d %s in %.1f s (%.0f %s/s)", self._name, count, unit, elapsed,
                    count / max(elapsed, 1e-9), unit)

    def __exit__(self, *exc: object) -> None:
        return None


def _worker_encoder(model_name: str, threads: int) -> SentenceTransformerEncoder:
    """The executor's encoder, loaded on first use and then reused by every partition."""
    encoder = _worker_encoders.get(model_name)
    if encoder is None:
        import torch

        torch.set_num_threads(max(1, threads))
        encoder = SentenceTransformerEncoder(model_name)
        _worker_encoders[model_name] = encoder
    return encoder


def embed_partition(rows: Iterable[IndexRow], model_name: str, batch_size: int,
                    threads: int) -> Iterator[tuple[int, bytes, str]]:
    """Encode a partition in chunks: yields ``(id, float32 vector bytes, search text)``."""
    encoder = _worker_encoder(model_name, threads)
    chunk: list[IndexRow] = []

    def flush() -> Iterator[tuple[int, bytes, str]]:
        vectors = encoder.encode([row.search_text for row in chunk], batch_size=batch_size)
        for row, vector in zip(chunk, vectors, strict=True):
            yield row.id, np.asarray(vector, dtype=np.float32).tobytes(), row.search_text

    for row in rows:
        chunk.append(row)
        if len(chunk) >= ENCODE_CHUNK:
            yield from flush()
            chunk = []
    if chunk:
        yield from flush()


def _parse_parquet_row(row: Any) -> tuple[IndexRow | None, str | None]:
    return validate_record(row.asDict())


def read_rows(spark: SparkSession, source: str, input_format: str) -> RDD[tuple[IndexRow | None, str | None]]:
    """Parsed rows of every file under ``source``: ``(row, None)`` or ``(None, reason)``."""
    if input_format == "parquet":
        return spark.read.parquet(source).rdd.map(_parse_parquet_row)
    return spark.read.text(source).rdd.map(lambda record: parse_line(record.value))


def detect_format(location: Location) -> str:
    """``parquet`` when the path names Parquet files, else ``jsonl``."""
    if location.path.endswith(".parquet"):
        return "parquet"
    names = location.store.list_names(location.path) if location.store.exists(location.path) else []
    return "parquet" if any(name.endswith(".parquet") for name in names) else "jsonl"


def default_output(source: Location) -> str:
    """The index root next to the input: ``<parent of input>/index``."""
    parent = source.uri.rstrip("/").rsplit("/", 1)[0]
    return f"{parent}/index"


def embed(spark: SparkSession, source: str, input_format: str, model_name: str, batch_size: int,
          report: BuildReport) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Run stages 1-3 on Spark; return ``(ids, vectors, texts)`` on the driver."""
    sc = spark.sparkContext
    parallelism = max(1, sc.defaultParallelism)
    with Stage(report, "read+validate") as stage:
        parsed = read_rows(spark, source, input_format).cache()
        report.rows_read = parsed.count()
        invalid = parsed.filter(lambda pair: pair[0] is None).map(lambda pair: (str(pair[1]), 1))
        report.rows_invalid = dict(invalid.reduceByKey(lambda a, b: a + b).collect())
        stage.done(report.rows_read, "rows")
    for reason, count in sorted(report.rows_invalid.items()):
        logger.warning("invalid rows: %d x %s", count, reason)
    with Stage(report, "deduplicate") as stage:
        valid = parsed.flatMap(lambda pair: [] if pair[0] is None else [pair[0]])
        unique = valid.keyBy(lambda row: row.id).reduceByKey(newer).values()
        unique = unique.repartition(parallelism).cache()
        report.documents = unique.count()
        report.duplicates_dropped = report.rows_read - sum(report.rows_invalid.values()) - report.documents
        parsed.unpersist()
        stage.done(report.documents, "listings")
    threads = max(1, (os.cpu_count() or 1) // parallelism) if str(sc.master).startswith("local") else 1
    with Stage(report, "embed") as stage:
        encoded = unique.mapPartitions(lambda rows: embed_partition(rows, model_name, batch_size, threads))
        ids = np.zeros(report.documents, dtype=np.int64)
        vectors: np.ndarray | None = None
        texts: list[str] = []
        for position, (doc_id, raw, text) in enumerate(_progress(encoded.toLocalIterator(), report.documents)):
            vector = np.frombuffer(raw, dtype=np.float32)
            if vectors is None:
                vectors = np.zeros((report.documents, len(vector)), dtype=np.float32)
            ids[position] = doc_id
            vectors[position] = vector
            texts.append(text)
        unique.unpersist()
        stage.done(len(texts), "docs")
    if vectors is None or len(texts) != report.documents:
        raise RuntimeError(f"embedded {len(texts)} of {report.documents} listings")
    return ids, vectors, texts


def _progress(items: Iterator[Any], total: int) -> Iterator[Any]:
    """A progress bar on an interactive terminal; the items unchanged otherwise."""
    if not sys.stderr.isatty():
        return items
    from tqdm import tqdm

    return iter(tqdm(items, total=total, desc="embedding", unit="doc"))


def run(source_uri: str, output_uri: str | None = None, *, model_name: str = "all-MiniLM-L6-v2",
        master: str | None = None, input_format: str = "auto", factory: str | None = None,
        batch_size: int = 128, webhdfs_url: str | None = None, publish: bool = True) -> dict[str, Any]:
    """Build and publish an index version; return the run's report (with ``version`` and ``output``).

    Raises:
        RuntimeError: If no valid listing was found or the written version fails its checks.
    """
    source = resolve(source_uri, webhdfs_url)
    output = resolve(output_uri or default_output(source), webhdfs_url)
    fmt = detect_format(source) if input_format == "auto" else input_format
    report = BuildReport()
    started = time.perf_counter()
    spark = spark_session(master, "matchmaker-build-index")
    try:
        ids, vectors, texts = embed(spark, source.uri, fmt, model_name, batch_size, report)
    finally:
        spark.stop()
    if report.documents == 0:
        raise RuntimeError(f"no valid listing under {source.uri}: {report.rows_invalid}")
    with Stage(report, "faiss+bm25") as stage:
        hybrid, report.dense = assemble_hybrid(ids, texts, vectors, ModelSpec(model_name, vectors.shape[1]), factory)
        stage.done(len(ids), "docs")
    with tempfile.TemporaryDirectory(prefix="index-build-") as scratch:
        report.seconds["total"] = time.perf_counter() - started
        meta = {"source": source.uri, "job": "jobs.build_index", "report": report.as_dict()}
        version_dir = write_version(scratch, hybrid, meta)
        load_version(version_dir, ModelSpec(model_name, hybrid.dense.dimension))
        name = publish_version(output, version_dir) if publish else version_dir.name
    logger.info("version %s published under %s", name, output.uri)
    return {**report.as_dict(), "version": name, "output": output.uri}


def main(argv: list[str] | None = None) -> None:
    """Command line entry point; prints the run's report as JSON on the last line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    settings = load_settings()
    parser.add_argument("--input", help="listings: file://, hdfs:// or a local path (default: the profile's "
                        f"listings, now {settings.listings_uri})")
    parser.add_argument("--output", help="index root (default: the profile's index root with the default input, "
                        "else 'index' next to the input)")
    parser.add_argument("--format", choices=("auto", "jsonl", "parquet"), default="auto")
    parser.add_argument("--model", default=settings.model_name)
    add_master_argument(parser)
    parser.add_argument("--factory", help="FAISS factory string instead of the size rule")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--webhdfs", default=settings.webhdfs_url,
                        help="NameNode HTTP address for hdfs:// paths (default: same host, port 9870)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    output = args.output or (None if args.input else settings.index_uri)
    result = run(args.input or settings.listings_uri, output, model_name=args.model, master=args.master, input_format=args.format,
                 factory=args.factory, batch_size=args.batch_size, webhdfs_url=args.webhdfs)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
