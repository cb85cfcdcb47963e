"""Settings of the hybrid (dense + BM25) retrieval index."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class HybridSettings:
    """Tunable parameters of :class:`index.hybrid.HybridIndex`.

    The defaults were tuned with all-MiniLM-L6-v2 on SciFact train (809 English claims,
    ``python -m index.evaluate``): BM25 k1/b over {0.9..1.5}x{0.4..0.75}, RRF k over
    {1..100}, dense weight over {0.5..1.5}, depth over {20..300}. nDCG@10 forms a broad
    plateau (about 0.730-0.733) for k in 1-5 and dense weight 0.85-1.0, against 0.718
    with the textbook k=60 and equal weights; BM25 alone scores 0.700 and MiniLM alone
    0.660. Chinese queries skip the dense leg (``foreign_dense_weight`` 0), so on CSL the
    hybrid ranking equals BM25's (character uni+bigrams, nDCG@10 about 0.98/0.99).

    Attributes:
        rrf_k: Reciprocal-rank-fusion constant: a document at rank r (1-based) in a leg
            earns ``weight / (rrf_k + r)``. Default 5: a small constant lets the top
            ranks of each leg dominate.
        dense_weight: Weight of the dense leg for queries in ``dense_languages`` (0.9).
        lexical_weight: Weight of the BM25 leg (1.0).
        depth: Number of candidates taken from each leg before fusion (100).
        dense_languages: Query languages (``"en"``, ``"zh"``) the encoder understands.
            The default ``("en",)`` suits the English-only MiniLM; a multilingual model
            should use ``("en", "zh")``.
        foreign_dense_weight: Dense-leg weight for queries in other languages. The
            default 0 disables the dense leg (the query is then not even encoded).
        bm25_k1: BM25 term-frequency saturation (1.2).
        bm25_b: BM25 length normalisation (0.5).
        dense_factory: FAISS factory string of the inner dense index ("Flat": exact).
        model_name: Name of the sentence-transformers model the index is built with.
    """

    rrf_k: int = 5
    dense_weight: float = 0.9
    lexical_weight: float = 1.0
    depth: int = 100
    dense_languages: tuple[str, ...] = ("en",)
    foreign_dense_weight: float = 0.0
    bm25_k1: float = 1.2
    bm25_b: float = 0.5
    dense_factory: str = "Flat"
    model_name: str = "all-MiniLM-L6-v2"

    def __post_init__(self) -> None:
        if self.rrf_k < 0:
            raise ValueError("rrf_k must be non-negative")
        if self.depth <= 0:
            raise ValueError("depth must be positive")
        if min(self.dense_weight, self.lexical_weight, self.foreign_dense_weight) < 0:
            raise ValueError("leg weights must be non-negative")
        object.__setattr__(self, "dense_languages", tuple(self.dense_languages))

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as a JSON-serialisable dict."""
        data = asdict(self)
        data["dense_languages"] = list(self.dense_languages)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HybridSettings:
        """Rebuild settings from :meth:`to_dict` output; unknown keys are ignored.

        Args:
            data: A mapping of field names to values.

        Returns:
            The settings.
        """
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        if "dense_languages" in values:
            values["dense_languages"] = tuple(values["dense_languages"])
        return cls(**values)
