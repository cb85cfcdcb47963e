"""Choosing, training and calibrating the FAISS index by collection size.

The size rule (measured with ``python -m bench.index_scale``; see ``docs/benchmarks.md``):

* Up to :data:`EXACT_LIMIT` vectors the index is ``"Flat"``: exact search and no
  training. A single query scans every vector, which is memory-bound: about 6.5 ms on
  one core at 50k x 384 floats (73 MB), so the limit is kept at the low end.
* Above it the index is ``"IVF<nlist>,SQ8"``: an inverted file with ``nlist`` k-means
  cells whose residuals are stored with one byte per dimension (384 bytes per MiniLM
  vector, a quarter of float32, so a million vectors take about 0.4 GB). ``nlist`` is
  ``4 * sqrt(n)`` rounded to the nearest power of two (the lower end of the range
  FAISS recommends), clamped to [:data:`MIN_NLIST`, :data:`MAX_NLIST`]: 1024 cells at
  100k vectors, 4096 at one million.

An IVF index is trained on a seeded random sample of :data:`TRAIN_POINTS_PER_LIST`
vectors per cell (k-means with :data:`KMEANS_ITERATIONS` iterations), then all vectors are
added in chunks. Finally ``nprobe`` (the number of cells scanned per query) is calibrated:
:data:`CALIBRATION_QUERIES` vectors are drawn from the collection and perturbed by a
random vector of norm :data:`QUERY_NOISE`; each query's source vector is left out of
both result lists, and the smallest ``nprobe`` on :data:`NPROBE_LADDER` whose recall@10
against exact search reaches the target is kept. FAISS stores ``nprobe`` in the index
file, so it survives :meth:`DenseIndex.save` and :meth:`DenseIndex.load`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt

from index.dense import DenseIndex, Vectors, l2_normalise
from index.lexical import IdArray, as_id_array

EXACT_LIMIT = 50_000
"""Largest collection searched exactly (``"Flat"``)."""

MIN_NLIST = 256
"""Fewest IVF cells used above :data:`EXACT_LIMIT`."""

MAX_NLIST = 65_536
"""Most IVF cells (training cost grows with the number of cells)."""

TRAIN_POINTS_PER_LIST = 40
"""Training sample size per IVF cell (FAISS asks for at least 39)."""

KMEANS_ITERATIONS = 10
"""k-means iterations when training the coarse quantiser."""

ADD_CHUNK = 65_536
"""Vectors normalised and added per call."""

CALIBRATION_QUERIES = 1_000
"""Number of perturbed collection vectors used to calibrate ``nprobe``."""

QUERY_NOISE = 0.3
"""Norm of the random perturbation added to a calibration query (before normalising)."""

RECALL_K = 10
"""Depth at which calibration recall is measured."""

NPROBE_LADDER = (1, 2, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024)
"""Candidate ``nprobe`` values, tried in order (values above ``nlist`` are skipped)."""

Progress = Callable[[str], None]
"""Callback receiving one human-readable line per build stage."""


def nlist_for(n: int) -> int:
    """Return the number of IVF cells for ``n`` vectors.

    Args:
        n: Collection size.

    Returns:
        ``4 * sqrt(n)`` rounded to the nearest power of two, within
        [:data:`MIN_NLIST`, :data:`MAX_NLIST`].

    Raises:
        ValueError: If ``n`` is negative.
    """
    if n < 0:
        raise ValueError("n must be non-negative")
    if n == 0:
        return MIN_NLIST
    nlist = 2 ** round(math.log2(4.0 * math.sqrt(n)))
    return int(min(MAX_NLIST, max(MIN_NLIST, nlist)))


def choose_factory(n: int) -> str:
    """Return the FAISS factory string for a collection of ``n`` vectors.

    Args:
        n: Collection size.

    Returns:
        ``"Flat"`` (exact) up to :data:`EXACT_LIMIT`, else ``"IVF<nlist>,SQ8"`` with
        ``nlist`` from :func:`nlist_for`.

    Raises:
        ValueError: If ``n`` is negative.
    """
    if n < 0:
        raise ValueError("n must be non-negative")
    if n <= EXACT_LIMIT:
        return "Flat"
    return f"IVF{nlist_for(n)},SQ8"


def ivf_of(dense: DenseIndex) -> Any | None:
    """Return the IVF index inside a :class:`DenseIndex`, or ``None`` if it has none.

    Args:
        dense: The dense index.

    Returns:
        The ``faiss.IndexIVF`` whose ``nprobe`` governs search, or ``None``.
    """
    wrapper: Any = dense.faiss_index
    inner = faiss.downcast_index(wrapper.index)
    return inner if isinstance(inner, faiss.IndexIVF) else None


def build_dense(
    ids: Sequence[int] | npt.ArrayLike,
    vectors: npt.ArrayLike,
    factory: str | None = None,
    *,
    target_recall: float = 0.97,
    seed: int = 0,
    progress: Progress | None = None,
) -> tuple[DenseIndex, dict[str, Any]]:
    """Build a :class:`DenseIndex` sized for the collection, with ``nprobe`` calibrated.

    Args:
        ids: Unique int64 ids.
        vectors: Array of shape ``(len(ids), dimension)``; rows are normalised to unit length.
        factory: FAISS factory string of the inner index; chosen by :func:`choose_factory`
            when ``None``.
        target_recall: Recall@10 against exact search that calibration aims for.
        seed: Seed of the training sample, k-means and calibration queries.
        progress: Optional callback receiving one line per stage.

    Returns:
        ``(index, report)`` where ``report`` has ``factory``, ``n``, ``nlist``, ``nprobe``
        (both ``None`` without IVF), ``calibration_recall@10``, ``train_points``,
        ``train_s``, ``add_s`` and ``calibrate_s``.

    Raises:
        ValueError: On shape mismatch, duplicate ids, a target outside (0, 1], or fewer
            vectors than IVF cells.
    """
    id_array, matrix = _checked_input(ids, vectors)
    if not 0.0 < target_recall <= 1.0:
        raise ValueError("target_recall must be in (0, 1]")
    n, dimension = matrix.shape
    factory = factory if factory is not None else choose_factory(n)
    log = progress or _silent
    dense = DenseIndex(dimension, factory)
    ivf = ivf_of(dense)
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    train_points = _train(dense, ivf, matrix, rng, seed, log) if ivf is not None else 0
    train_s = time.perf_counter() - started
    started = time.perf_counter()
    _add_in_chunks(dense, id_array, matrix, log)
    add_s = time.perf_counter() - started
    started = time.perf_counter()
    nprobe, recall = _calibrate(dense, ivf, id_array, matrix, target_recall, rng, log)
    report: dict[str, Any] = {
        "factory": factory,
        "n": n,
        "nlist": int(ivf.nlist) if ivf is not None else None,
        "nprobe": nprobe,
        "calibration_recall@10": round(recall, 4),
        "train_points": train_points,
        "train_s": round(train_s, 3),
        "add_s": round(add_s, 3),
        "calibrate_s": round(time.perf_counter() - started, 3),
    }
    return dense, report


def _silent(message: str) -> None:
    """Progress callback that ignores every message."""


def _checked_input(ids: Sequence[int] | npt.ArrayLike, vectors: npt.ArrayLike) -> tuple[IdArray, Vectors]:
    """Validate ids and vectors; return them as int64 and C-contiguous float32 arrays."""
    id_array = as_id_array(ids)
    matrix = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    if matrix.ndim != 2 or matrix.shape[0] != len(id_array) or matrix.shape[1] == 0:
        raise ValueError(f"expected vectors of shape ({len(id_array)}, dimension), got {matrix.shape}")
    if len(np.unique(id_array)) != len(id_array):
        raise ValueError("ids must be unique")
    return id_array, matrix


def _train(
    dense: DenseIndex, ivf: Any, matrix: Vectors, rng: np.random.Generator, seed: int, log: Progress
) -> int:
    """Train the IVF index on a random sample; return the sample size."""
    nlist = int(ivf.nlist)
    n = matrix.shape[0]
    if n < nlist:
        raise ValueError(f"{n} vectors cannot train {nlist} IVF cells")
    size = min(n, TRAIN_POINTS_PER_LIST * nlist)
    rows = np.sort(rng.choice(n, size=size, replace=False))
    sample = l2_normalise(matrix[rows])
    ivf.cp.niter = KMEANS_ITERATIONS
    ivf.cp.seed = seed
    log(f"training {nlist} cells on {size} vectors")
    dense.faiss_index.train(sample)
    return size


def _add_in_chunks(dense: DenseIndex, ids: IdArray, matrix: Vectors, log: Progress) -> None:
    """Add vectors :data:`ADD_CHUNK` at a time (ids are already known to be unique)."""
    n = matrix.shape[0]
    index = dense.faiss_index
    for start in range(0, n, ADD_CHUNK):
        stop = min(start + ADD_CHUNK, n)
        index.add_with_ids(l2_normalise(matrix[start:stop]), ids[start:stop])
        log(f"added {stop}/{n} vectors")


def _calibrate(
    dense: DenseIndex,
    ivf: Any | None,
    ids: IdArray,
    matrix: Vectors,
    target_recall: float,
    rng: np.random.Generator,
    log: Progress,
) -> tuple[int | None, float]:
    """Pick the smallest ``nprobe`` on the ladder reaching ``target_recall``.

    Returns:
        ``(nprobe, recall@10)``; ``nprobe`` is ``None`` for a non-IVF index, whose
        recall is measured as it is.
    """
    n = matrix.shape[0]
    if n < 2:
        return None if ivf is None else int(ivf.nprobe), 1.0
    sources = np.sort(rng.choice(n, size=min(n, CALIBRATION_QUERIES), replace=False))
    queries = perturbed_queries(matrix[sources], QUERY_NOISE, rng)
    k = min(RECALL_K, n - 1)
    truth = _drop_sources(ids[exact_search(queries, matrix, k + 1)], ids[sources], k)
    if ivf is None:
        return None, _recall_at(dense, queries, ids[sources], truth, k)
    best_nprobe, best_recall = int(ivf.nprobe), -1.0
    for nprobe in [*(p for p in NPROBE_LADDER if p < ivf.nlist), int(ivf.nlist)]:
        ivf.nprobe = nprobe
        recall = _recall_at(dense, queries, ids[sources], truth, k)
        log(f"nprobe {nprobe}: recall@{k} {recall:.4f}")
        if recall > best_recall:
            best_nprobe, best_recall = nprobe, recall
        if recall >= target_recall:
            break
    ivf.nprobe = best_nprobe
    return best_nprobe, best_recall


def perturbed_queries(vectors: Vectors, noise: float, rng: np.random.Generator) -> Vectors:
    """Return unit vectors near the given ones: each gets a random offset of norm ``noise``.

    Args:
        vectors: Row vectors (normalised here).
        noise: Norm of the random offset added to each unit row before renormalising.
        rng: Random generator.

    Returns:
        Float32 unit rows of the same shape.
    """
    base = l2_normalise(vectors)
    offsets = l2_normalise(rng.standard_normal(base.shape, dtype=np.float32))
    return l2_normalise(base + noise * offsets)


def exact_search(queries: Vectors, matrix: Vectors, k: int, chunk: int = ADD_CHUNK) -> npt.NDArray[np.int64]:
    """Exact inner-product top-``k`` over the normalised rows of ``matrix``, chunk by chunk.

    Args:
        queries: Unit query rows.
        matrix: Collection rows (normalised chunk by chunk, never copied whole).
        k: Number of neighbours.
        chunk: Rows per chunk.

    Returns:
        Row positions in ``matrix`` of shape ``(len(queries), k)``, best first (``-1``
        pads when ``matrix`` has fewer than ``k`` rows).
    """
    heap = faiss.ResultHeap(len(queries), k, keep_max=True)
    for start in range(0, matrix.shape[0], chunk):
        block = l2_normalise(matrix[start : start + chunk])
        scores, positions = faiss.knn(queries, block, min(k, len(block)), metric=faiss.METRIC_INNER_PRODUCT)
        heap.add_result(scores, np.where(positions >= 0, positions + start, -1))
    heap.finalize()
    return np.asarray(heap.I, dtype=np.int64)


def recall_at_k(found: npt.ArrayLike, truth: npt.ArrayLike) -> float:
    """Mean fraction of each row of ``truth`` that appears in the same row of ``found``.

    Args:
        found: Ids returned by the index, shape ``(queries, k)`` (``-1`` = no result).
        truth: Exact ids, shape ``(queries, k)``.

    Returns:
        Recall in [0, 1] (1.0 for no queries).
    """
    found_rows = np.asarray(found)
    truth_rows = np.asarray(truth)
    if truth_rows.size == 0:
        return 1.0
    hits = [len(np.intersect1d(f[f >= 0], t)) for f, t in zip(found_rows, truth_rows, strict=False)]
    return float(np.sum(hits) / truth_rows.size)


def _drop_sources(found: npt.NDArray[np.int64], sources: IdArray, k: int) -> npt.NDArray[np.int64]:
    """Remove each query's source id from its row and keep the first ``k`` others."""
    rows = [row[row != source][:k] for row, source in zip(found, sources, strict=False)]
    return np.stack([np.pad(row, (0, k - len(row)), constant_values=-1) for row in rows])


def _recall_at(dense: DenseIndex, queries: Vectors, sources: IdArray, truth: npt.NDArray[np.int64], k: int) -> float:
    """Recall@k of a batch search, with each query's source id left out."""
    _, labels = dense.faiss_index.search(queries, k + 1)
    return recall_at_k(_drop_sources(labels, sources, k), truth)
