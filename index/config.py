"""Settings of the hybrid (dense + BM25) retrieval index."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class HybridSettings:
    """Tunable parameters of :class:`index.hybrid.HybridIndex`.

    Defaults were tuned on SciFact train (English) and CSL title2abstract /
    keywords2paper dev (Chinese) with all-MiniLM-L6-v2; see ``index.evaluate``.

    Attributes:
        rrf_k: Reciprocal-rank-fusion constant: a document at rank r (1-based) in a leg
            earns ``weight / (rrf_k + r)``.
        dense_weight: Weight of the dense leg for queries in ``dense_languages``.
        lexical_weight: Weight of the BM25 leg.
        depth: Number of candidates taken from each leg before fusion.
        dense_languages: Query languages (``"en"``, ``"zh"``) the encoder understands.
            The default ``("en",)`` suits the English-only MiniLM; a multilingual model
            should use ``("en", "zh")``.
        foreign_dense_weight: Dense-leg weight for queries in other languages. The
            default 0 disables the dense leg (it is then not even encoded).
        bm25_k1: BM25 term-frequency saturation.
        bm25_b: BM25 length normalisation.
        dense_factory: FAISS factory string of the inner dense index.
        model_name: Name of the sentence-transformers model the index is built with.
    """

    rrf_k: int = 60
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    depth: int = 100
    dense_languages: tuple[str, ...] = ("en",)
    foreign_dense_weight: float = 0.0
    bm25_k1: float = 0.9
    bm25_b: float = 0.4
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
