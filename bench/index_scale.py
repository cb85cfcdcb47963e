"""Dense index at scale: build time, size, recall@10, single-query latency and serving memory.

Usage::

    python -m bench.index_scale --n 1000000 [--queries 1000] [--factory IVF4096,SQ8] [--seed 0]

Progress lines go to stderr; the last line on stdout is one JSON object such as
``{"n": 1000000, "factory": "IVF4096,SQ8", "nprobe": 32, "recall@10": 0.97, "p50_ms": 1.2,
"p95_ms": 2.0, "rss_mb": 600, "build_s": 200, "index_mb": 420, ...}``.

The index is built with :func:`index.ann.build_dense` (factory by the size rule unless
``--factory`` is given) and saved with :meth:`DenseIndex.save`. Serving is measured in a
fresh subprocess, so its peak resident memory is only what serving needs: it loads the
saved index with :meth:`DenseIndex.load`, sets one FAISS thread as the server does, then
times ``--queries`` single searches (``DenseIndex.search(vector, k=10)``, one at a time,
after a short warm-up) and computes recall@10 against exact ground truth that the parent
computed by brute force.

Synthetic data. Uniform random Gaussian vectors have no neighbourhood structure (every
point is about equally far from every other) and look nothing like text embeddings, so
the vectors come from a seeded two-level topic mixture in 384 dimensions (MiniLM's):

* A random orthonormal basis with a power-law spectrum (variance of axis ``i`` proportional
  to ``i ** -0.8``) makes the cloud anisotropic, and every vector is pulled towards one
  shared mean direction, as sentence embeddings are.
* 32 fields; each has 128 subtopics around it (4,096 topics). Topic popularity is
  log-normal, so topic sizes vary by orders of magnitude.
* A document is its topic's centre plus an anisotropic offset whose length (0.6-1.2)
  and per-axis shape are specific to the topic, normalised to unit length.

The constants were fitted to 2,000 all-MiniLM-L6-v2 embeddings of SciFact abstracts:
real (synthetic) mean pairwise cosine 0.115 (0.118), its standard deviation 0.12 (0.11),
mean cosine to the nearest neighbour 0.62 (0.60) and to the 10th 0.45 (0.46), effective
dimension of the covariance 72 (70), norm of the mean vector 0.34 (0.34).

Documents and queries are drawn from the same model with independent random streams,
so no query is in the index. Vectors are generated in float32 chunks of 50,000, each
from its own seeded stream, so the data depends only on ``--seed`` and the count.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from index.ann import build_dense, exact_search, ivf_of, recall_at_k
from index.dense import INDEX_FILE, DenseIndex, Vectors

DIMENSION = 384
FIELDS = 32
SUBTOPICS_PER_FIELD = 128
SPECTRUM_POWER = 0.8
SUBTOPIC_SPREAD = 0.9
MEAN_WEIGHT = 0.36
OFFSET_RANGE = (0.6, 1.2)
POPULARITY_SIGMA = 1.0
SHAPE_SIGMA = 0.5
CHUNK = 50_000
DOCUMENT_STREAM = 1
QUERY_STREAM = 2
FIRST_ID = 1_000_000
WARMUP = 20
QUERIES_FILE = "queries.npy"
TRUTH_FILE = "truth.npy"
PROJECT_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class TopicModel:
    """A seeded two-level mixture of anisotropic topics on the unit sphere.

    Attributes:
        basis: Orthonormal basis, shape ``(dimension, dimension)``.
        mean: Shared mean direction (unit vector).
        centres: Topic centres (unit rows), shape ``(topics, dimension)``.
        popularity: Probability of each topic.
        offsets: Length of a document's offset from its topic centre, per topic.
        shapes: Per-topic standard deviation of each basis coordinate of the offset.
    """

    basis: Vectors
    mean: Vectors
    centres: Vectors
    popularity: np.ndarray
    offsets: Vectors
    shapes: Vectors

    @classmethod
    def create(cls, seed: int, dimension: int = DIMENSION) -> TopicModel:
        """Draw a topic model.

        Args:
            seed: Random seed.
            dimension: Vector dimension.

        Returns:
            The model.
        """
        rng = np.random.default_rng([seed, 0])
        basis = np.linalg.qr(rng.standard_normal((dimension, dimension)))[0].astype(np.float32)
        spectrum = np.arange(1, dimension + 1, dtype=np.float32) ** (-SPECTRUM_POWER / 2)
        spectrum /= np.linalg.norm(spectrum)
        topics = FIELDS * SUBTOPICS_PER_FIELD

        def directions(count: int) -> Vectors:
            return _unit(rng.standard_normal((count, dimension), dtype=np.float32) * spectrum @ basis.T)

        mean = directions(1)[0]
        fields = directions(FIELDS)
        centres = _unit(np.repeat(fields, SUBTOPICS_PER_FIELD, axis=0) + SUBTOPIC_SPREAD * directions(topics))
        popularity = np.exp(POPULARITY_SIGMA * rng.standard_normal(topics))
        offsets = rng.uniform(*OFFSET_RANGE, size=topics).astype(np.float32)
        shapes = (np.exp(SHAPE_SIGMA * rng.standard_normal((topics, dimension))) * spectrum).astype(np.float32)
        return cls(basis, mean, centres, popularity / popularity.sum(), offsets, shapes)

    def sample(self, count: int, rng: np.random.Generator) -> Vectors:
        """Draw unit vectors from the mixture.

        Args:
            count: Number of vectors.
            rng: Random generator.

        Returns:
            Float32 array of shape ``(count, dimension)``.
        """
        topics = rng.choice(len(self.popularity), size=count, p=self.popularity)
        coordinates = rng.standard_normal((count, self.basis.shape[0]), dtype=np.float32) * self.shapes[topics]
        offsets = _unit(coordinates @ self.basis.T) * self.offsets[topics, None]
        return _unit(MEAN_WEIGHT * self.mean + _unit(self.centres[topics] + offsets))


def _unit(rows: np.ndarray) -> Vectors:
    """Scale rows to unit length (float32)."""
    rows = np.asarray(rows, dtype=np.float32)
    return np.ascontiguousarray(rows / np.linalg.norm(rows, axis=1, keepdims=True), dtype=np.float32)


def generate(model: TopicModel, count: int, seed: int, stream: int) -> Vectors:
    """Draw ``count`` vectors chunk by chunk, each chunk from its own seeded stream.

    Args:
        model: The topic model.
        count: Number of vectors.
        seed: Random seed.
        stream: Stream number (documents and queries use different ones).

    Returns:
        Float32 array of shape ``(count, dimension)``.
    """
    vectors = np.empty((count, model.basis.shape[0]), dtype=np.float32)
    for chunk, start in enumerate(range(0, count, CHUNK)):
        stop = min(start + CHUNK, count)
        vectors[start:stop] = model.sample(stop - start, np.random.default_rng([seed, stream, chunk]))
    return vectors


def describe(vectors: Vectors, sample: int = 2_000) -> dict[str, float]:
    """Summarise the geometry of the first ``sample`` rows (as fitted to MiniLM).

    Args:
        vectors: Unit rows.
        sample: Number of rows used.

    Returns:
        Mean and standard deviation of pairwise cosine, mean cosine to the 1st and 10th
        nearest neighbour within the sample.
    """
    rows = vectors[:sample]
    similarities = rows @ rows.T
    np.fill_diagonal(similarities, -1.0)
    pairs = similarities[np.triu_indices(len(rows), 1)]
    ranked = -np.sort(-similarities, axis=1)
    tenth = min(9, ranked.shape[1] - 1)
    return {
        "pair_cos": round(float(pairs.mean()), 3),
        "pair_cos_sd": round(float(pairs.std()), 3),
        "nn1_cos": round(float(ranked[:, 0].mean()), 3),
        "nn10_cos": round(float(ranked[:, tenth].mean()), 3),
    }


def peak_rss_mb() -> float:
    """Peak resident set size of this process image in MB.

    Reads ``VmHWM`` from ``/proc/self/status``: ``getrusage``'s ``ru_maxrss`` survives
    ``execve``, so in a child it can report the parent's peak. Falls back to
    ``ru_maxrss`` (kilobytes on Linux) where ``/proc`` is missing.
    """
    status = Path("/proc/self/status")
    if status.is_file():
        for line in status.read_text(encoding="ascii").splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def serve(directory: Path, k: int) -> dict[str, Any]:
    """Load a saved index with one FAISS thread and time single queries against it.

    Args:
        directory: Holds the index, ``queries.npy`` and ``truth.npy``.
        k: Number of results per query.

    Returns:
        Latency percentiles, recall@k, peak RSS and the loaded ``nprobe``.
    """
    faiss.omp_set_num_threads(1)
    queries = np.load(directory / QUERIES_FILE)
    truth = np.load(directory / TRUTH_FILE)
    dense = DenseIndex.load(directory)
    for vector in queries[:WARMUP]:
        dense.search(vector, k=k)
    found = np.full((len(queries), k), -1, dtype=np.int64)
    latencies = np.empty(len(queries))
    for row, vector in enumerate(queries):
        started = time.perf_counter()
        ids, _ = dense.search(vector, k=k)
        latencies[row] = (time.perf_counter() - started) * 1000.0
        found[row, : len(ids)] = ids
    ivf = ivf_of(dense)
    return {
        "queries": len(queries),
        "recall@10": round(recall_at_k(found, truth), 4),
        "p50_ms": round(float(np.percentile(latencies, 50)), 3),
        "p95_ms": round(float(np.percentile(latencies, 95)), 3),
        "p99_ms": round(float(np.percentile(latencies, 99)), 3),
        "rss_mb": round(peak_rss_mb(), 1),
        "served_nprobe": int(ivf.nprobe) if ivf is not None else None,
    }


def serve_in_subprocess(directory: Path, k: int) -> dict[str, Any]:
    """Run :func:`serve` in a fresh Python process and return its JSON result.

    Args:
        directory: Passed to :func:`serve`.
        k: Number of results per query.

    Returns:
        The subprocess's result.

    Raises:
        RuntimeError: If the subprocess fails.
    """
    path = os.pathsep.join(p for p in (str(PROJECT_ROOT), os.environ.get("PYTHONPATH", "")) if p)
    command = [sys.executable, "-m", "bench.index_scale", "--serve", str(directory), "--k", str(k)]
    done = subprocess.run(
        command, cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": path}, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"serving subprocess failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def log(message: str) -> None:
    """Write one timestamped progress line to stderr."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(n: int, queries: int, k: int, factory: str | None, target_recall: float, seed: int) -> dict[str, Any]:
    """Generate data, build and save the index, compute ground truth and measure serving.

    Args:
        n: Number of indexed vectors.
        queries: Number of single queries timed.
        k: Number of results per query.
        factory: FAISS factory string, or ``None`` for the size rule.
        target_recall: Calibration target passed to :func:`build_dense`.
        seed: Random seed of data, training and calibration.

    Returns:
        The benchmark result.
    """
    model = TopicModel.create(seed)
    started = time.perf_counter()
    documents = generate(model, n, seed, DOCUMENT_STREAM)
    query_vectors = generate(model, queries, seed, QUERY_STREAM)
    log(f"generated {n} documents and {queries} queries in {time.perf_counter() - started:.1f} s")
    log(f"geometry of the first 2000 documents: {json.dumps(describe(documents))}")
    ids = FIRST_ID + np.arange(n, dtype=np.int64)
    started = time.perf_counter()
    dense, report = build_dense(ids, documents, factory, target_recall=target_recall, seed=seed, progress=log)
    build_s = time.perf_counter() - started
    log(f"built in {build_s:.1f} s: {json.dumps(report)}")
    with tempfile.TemporaryDirectory(prefix="index-scale-") as temporary:
        directory = Path(temporary)
        dense.save(directory)
        del dense
        index_mb = (directory / INDEX_FILE).stat().st_size / 2**20
        started = time.perf_counter()
        truth = ids[exact_search(query_vectors, documents, k)]
        log(f"exact ground truth in {time.perf_counter() - started:.1f} s")
        np.save(directory / QUERIES_FILE, query_vectors)
        np.save(directory / TRUTH_FILE, truth)
        log(f"serving {queries} single queries in a fresh process (1 FAISS thread)")
        served = serve_in_subprocess(directory, k)
    return {
        "n": n,
        "factory": report["factory"],
        "nlist": report["nlist"],
        "nprobe": report["nprobe"],
        "calibration_recall@10": report["calibration_recall@10"],
        **served,
        "build_s": round(build_s, 1),
        "train_s": report["train_s"],
        "add_s": report["add_s"],
        "calibrate_s": report["calibrate_s"],
        "index_mb": round(index_mb, 1),
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse command-line arguments.

    Args:
        argv: Arguments (default: ``sys.argv[1:]``).

    Returns:
        The parsed arguments.
    """
    parser = argparse.ArgumentParser(prog="python -m bench.index_scale", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="number of indexed vectors (default 100000)")
    parser.add_argument("--queries", type=int, default=1_000, help="single queries timed (default 1000)")
    parser.add_argument("--k", type=int, default=10, help=argparse.SUPPRESS)
    parser.add_argument("--factory", default=None, help="FAISS factory string (default: index.ann.choose_factory)")
    parser.add_argument("--target-recall", type=float, default=0.97, help="nprobe calibration target (0.97)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--serve", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.n < 2 or args.queries < 1:
        parser.error("--n must be at least 2 and --queries at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark (or, with the hidden ``--serve DIR``, its serving half)."""
    args = parse_args(argv)
    if args.serve is not None:
        result = serve(args.serve, args.k)
    else:
        result = run(args.n, args.queries, args.k, args.factory, args.target_recall, args.seed)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
