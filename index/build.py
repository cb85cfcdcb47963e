"""Building a hybrid index from documents (local builder and batch jobs)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from index.config import HybridSettings
from index.dense import DenseIndex, Encoder, Vectors
from index.hybrid import HybridIndex
from index.lexical import BM25Index, as_id_array

Progress = Callable[[int, int], None]
"""Callback receiving ``(documents_encoded, total_documents)``."""


def encode_in_batches(
    encoder: Encoder,
    texts: Sequence[str],
    batch_size: int = 128,
    progress: Progress | None = None,
) -> Vectors:
    """Encode texts chunk by chunk, reporting progress after each chunk.

    Args:
        encoder: The encoder.
        texts: Texts to encode.
        batch_size: Texts per encoder call.
        progress: Optional callback ``(done, total)``.

    Returns:
        Float32 array of shape ``(len(texts), encoder.dimension)``.

    Raises:
        ValueError: If ``batch_size`` is not positive.
    """
    if batch_size <= 0:
        raise ValueError("batch_size must be positive")
    chunks: list[Vectors] = []
    total = len(texts)
    for start in range(0, total, batch_size):
        chunk = list(texts[start : start + batch_size])
        chunks.append(np.asarray(encoder.encode(chunk, batch_size=batch_size), dtype=np.float32))
        if progress is not None:
            progress(min(start + batch_size, total), total)
    if not chunks:
        return np.zeros((0, encoder.dimension), dtype=np.float32)
    return np.concatenate(chunks)


def build_hybrid(
    ids: Sequence[int] | npt.ArrayLike,
    texts: Sequence[str],
    encoder: Encoder,
    settings: HybridSettings | None = None,
    batch_size: int = 128,
    progress: Progress | None = None,
    vectors: npt.ArrayLike | None = None,
) -> HybridIndex:
    """Build a hybrid index (FAISS + BM25) over documents.

    Args:
        ids: Unique int64 document ids.
        texts: Document texts (the fields to index, already joined).
        encoder: Encoder for the dense leg.
        settings: Hybrid settings; defaults to :class:`HybridSettings`.
        batch_size: Encoder batch size.
        progress: Optional callback ``(documents_encoded, total)``.
        vectors: Precomputed embeddings aligned with ``texts`` (skips encoding), e.g.
            produced by a distributed job.

    Returns:
        The built index.

    Raises:
        ValueError: If lengths differ or ids repeat.
    """
    settings = settings or HybridSettings()
    id_array = as_id_array(ids)
    if len(id_array) != len(texts):
        raise ValueError("ids and texts must have the same length")
    if len(np.unique(id_array)) != len(id_array):
        raise ValueError("ids must be unique")
    if vectors is None:
        matrix = encode_in_batches(encoder, texts, batch_size, progress)
    else:
        matrix = np.asarray(vectors, dtype=np.float32)
    dense = DenseIndex(encoder.dimension, settings.dense_factory)
    dense.add(id_array, matrix)
    lexical = BM25Index(settings.bm25_k1, settings.bm25_b)
    lexical.add(id_array, texts)
    return HybridIndex(dense, lexical, encoder, settings)


def assemble_hybrid(
    ids: Sequence[int] | npt.ArrayLike,
    texts: Sequence[str],
    vectors: npt.ArrayLike,
    encoder: Encoder,
    factory: str | None = None,
) -> tuple[HybridIndex, dict[str, Any]]:
    """Build a served index from precomputed embeddings, with the FAISS type chosen by size.

    Args:
        ids: Unique int64 document ids.
        texts: Document texts aligned with ``ids`` (for BM25).
        vectors: Embeddings aligned with ``ids``.
        encoder: The query encoder (must have produced ``vectors``).
        factory: A FAISS factory string instead of :func:`index.ann.choose_factory`'s rule.

    Returns:
        ``(index, report)`` where ``report`` describes the dense index (factory, nprobe, ...).
    """
    from index.ann import build_dense

    id_array = as_id_array(ids)
    dense, report = build_dense(id_array, np.asarray(vectors, dtype=np.float32), factory)
    settings = HybridSettings(model_name=encoder.name, dense_factory=str(report["factory"]))
    lexical = BM25Index(settings.bm25_k1, settings.bm25_b)
    lexical.add(id_array, list(texts))
    return HybridIndex(dense, lexical, encoder, settings), report
