"""Hybrid retrieval: dense (FAISS) and lexical (BM25) legs fused by weighted RRF."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from index.config import HybridSettings
from index.dense import DenseIndex, Encoder
from index.lexical import BM25Index, IdArray, as_id_array
from index.text import detect_language

Mode = Literal["hybrid", "dense", "lexical"]
MODES: tuple[Mode, ...] = ("hybrid", "dense", "lexical")


@dataclass(frozen=True)
class Hit:
    """One search result.

    Attributes:
        id: Document id.
        score: Normalised fused score in [0, 1]: the weighted RRF score divided by the
            best achievable one (rank 1 in every active leg). It reflects rank agreement
            between legs, not absolute relevance.
        dense_rank: 1-based rank in the dense leg's candidates, None if absent or unused.
        lexical_rank: 1-based rank in the BM25 leg's candidates, None if absent or unused.
    """

    id: int
    score: float
    dense_rank: int | None
    lexical_rank: int | None


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[int]],
    weights: Sequence[float],
    k: int = 5,
) -> list[tuple[int, float]]:
    """Fuse ranked id lists by weighted reciprocal rank.

    A document at 1-based rank ``r`` of list ``i`` earns ``weights[i] / (k + r)``.
    Ties are broken by the best single rank, then by id.

    Args:
        rankings: Ranked id lists, best first.
        weights: One non-negative weight per list.
        k: RRF constant.

    Returns:
        ``(id, fused_score)`` pairs by descending score, for ids with positive score.

    Raises:
        ValueError: If the number of weights differs from the number of rankings.
    """
    if len(rankings) != len(weights):
        raise ValueError("one weight per ranking is required")
    scores: dict[int, float] = {}
    best_rank: dict[int, int] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        if weight <= 0:
            continue
        for rank, doc_id in enumerate(ranking, start=1):
            key = int(doc_id)
            scores[key] = scores.get(key, 0.0) + weight / (k + rank)
            best_rank[key] = min(best_rank.get(key, rank), rank)
    return sorted(scores.items(), key=lambda item: (-item[1], best_rank[item[0]], item[0]))


class HybridIndex:
    """Dense + BM25 index with language-aware weighted reciprocal-rank fusion.

    Searches and updates may come from several threads: an internal lock keeps the two
    legs consistent (query and document encoding happen outside it).

    Args:
        dense: The dense leg.
        lexical: The BM25 leg.
        encoder: Encoder for documents and queries (must match the dense leg).
        settings: Fusion settings.

    Raises:
        ValueError: If the encoder's dimension differs from the dense index's.
    """

    def __init__(
        self,
        dense: DenseIndex,
        lexical: BM25Index,
        encoder: Encoder,
        settings: HybridSettings | None = None,
    ) -> None:
        self.dense = dense
        self.lexical = lexical
        self.encoder = encoder
        self.settings = settings or HybridSettings()
        self._lock = threading.RLock()

    def __len__(self) -> int:
        with self._lock:
            return len(self.lexical)

    def ids(self) -> IdArray:
        """Return the ids of the indexed documents, sorted."""
        with self._lock:
            return np.sort(self.lexical.ids())

    def add(self, ids: Sequence[int] | npt.ArrayLike, texts: Sequence[str], batch_size: int = 64) -> None:
        """Encode and add documents to both legs; existing ids are overwritten.

        Args:
            ids: Unique int64 ids.
            texts: Document texts aligned with ``ids``.
            batch_size: Encoder batch size.

        Raises:
            ValueError: If lengths differ or ids repeat.
        """
        id_array = as_id_array(ids)
        if len(id_array) != len(texts):
            raise ValueError("ids and texts must have the same length")
        if len(id_array) == 0:
            return
        vectors = self.encoder.encode(list(texts), batch_size=batch_size)
        self.add_encoded(id_array, texts, vectors)

    def add_encoded(self, ids: Sequence[int] | npt.ArrayLike, texts: Sequence[str], vectors: npt.ArrayLike) -> None:
        """Add documents whose vectors were computed elsewhere (e.g. by a batch job).

        Args:
            ids: Unique int64 ids.
            texts: Document texts aligned with ``ids``.
            vectors: Their embeddings, shape ``(len(ids), dimension)``.
        """
        id_array = as_id_array(ids)
        with self._lock:
            self.dense.add(id_array, vectors)
            self.lexical.add(id_array, texts)

    def remove(self, ids: Sequence[int] | npt.ArrayLike) -> int:
        """Remove documents from both legs.

        Args:
            ids: Ids to remove; unknown ids are ignored.

        Returns:
            Number of documents removed from the lexical leg.
        """
        with self._lock:
            self.dense.remove(ids)
            return self.lexical.remove(ids)

    def leg_weights(self, query: str, mode: Mode = "hybrid") -> tuple[float, float]:
        """Return ``(dense_weight, lexical_weight)`` used for a query.

        In hybrid mode a query whose detected language is not in
        ``settings.dense_languages`` gets ``settings.foreign_dense_weight`` for the
        dense leg. The single-leg modes always use weight 1 for their leg.

        Args:
            query: Query text.
            mode: ``"hybrid"``, ``"dense"`` or ``"lexical"``.

        Returns:
            The two weights.

        Raises:
            ValueError: On an unknown mode.
        """
        if mode == "dense":
            return 1.0, 0.0
        if mode == "lexical":
            return 0.0, 1.0
        if mode != "hybrid":
            raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
        s = self.settings
        dense_weight = s.dense_weight if detect_language(query) in s.dense_languages else s.foreign_dense_weight
        return dense_weight, s.lexical_weight

    def search(
        self,
        query: str,
        k: int = 10,
        allowed_ids: npt.ArrayLike | None = None,
        mode: Mode = "hybrid",
    ) -> list[Hit]:
        """Search both legs and fuse them.

        Each active leg returns its top ``max(settings.depth, k)`` candidates (restricted
        to ``allowed_ids`` when given); the lists are fused by weighted RRF.

        Args:
            query: Query text, Chinese or English.
            k: Number of hits.
            allowed_ids: Optional ids the results must come from (e.g. a metadata filter).
            mode: ``"hybrid"``, ``"dense"`` or ``"lexical"``.

        Returns:
            Up to ``k`` hits, best first.

        Raises:
            ValueError: On an unknown mode.
        """
        dense_weight, lexical_weight = self.leg_weights(query, mode)
        if k <= 0 or not query.strip():
            return []
        allowed = None if allowed_ids is None else as_id_array(allowed_ids)
        depth = max(self.settings.depth, k)
        dense_ids: list[int] = []
        lexical_ids: list[int] = []
        vector = self.encoder.encode([query], batch_size=1) if dense_weight > 0 else None
        with self._lock:
            if vector is not None and len(self.dense):
                dense_ids = self.dense.search(vector, depth, allowed)[0].tolist()
            if lexical_weight > 0:
                lexical_ids = self.lexical.search(query, depth, allowed)[0].tolist()
        fused = reciprocal_rank_fusion([dense_ids, lexical_ids], [dense_weight, lexical_weight], self.settings.rrf_k)
        best = (dense_weight + lexical_weight) / (self.settings.rrf_k + 1)
        dense_rank = {doc_id: rank for rank, doc_id in enumerate(dense_ids, start=1)}
        lexical_rank = {doc_id: rank for rank, doc_id in enumerate(lexical_ids, start=1)}
        return [
            Hit(
                id=doc_id,
                score=min(1.0, score / best),
                dense_rank=dense_rank.get(doc_id),
                lexical_rank=lexical_rank.get(doc_id),
            )
            for doc_id, score in fused[:k]
        ]
