"""Evaluate dense, lexical and hybrid retrieval on a BEIR-format dataset.

Usage::

    python -m index.evaluate --corpus C --queries Q --qrels R --fields title,text \
        [--limit-queries N] [--model NAME]

Prints one JSON object on stdout with nDCG@10, Recall@10 and MRR@10 per mode; progress
goes to stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import faiss
import numpy as np

from index.build import build_hybrid, encode_in_batches
from index.config import HybridSettings
from index.dense import DEFAULT_MODEL, Encoder, SentenceTransformerEncoder, Vectors
from index.hybrid import HybridIndex, Mode

LOG = logging.getLogger("index.evaluate")
CUTOFF = 10

Qrels = dict[str, dict[str, int]]


def dcg(gains: Sequence[float], k: int = CUTOFF) -> float:
    """Discounted cumulative gain of the first ``k`` gains: ``sum(gain_i / log2(i + 1))``, ranks from 1."""
    return sum(gain / math.log2(rank + 1) for rank, gain in enumerate(gains[:k], start=1))


def ndcg_of_gains(ranked_gains: Sequence[float], pool_gains: Sequence[float], k: int = CUTOFF) -> float:
    """nDCG@k of gains in ranked order against the best ordering of every gain that could be ranked.

    Returns:
        A value in [0, 1]; 0 when no gain is positive.
    """
    ideal = dcg(sorted((g for g in pool_gains if g > 0), reverse=True), k)
    return dcg([max(g, 0.0) for g in ranked_gains], k) / ideal if ideal > 0 else 0.0


def ndcg_at_k(ranked: Sequence[str], relevance: Mapping[str, int], k: int = CUTOFF) -> float:
    """Normalised discounted cumulative gain with graded relevance.

    ``DCG = sum(rel_i / log2(i + 1))`` over ranks ``i = 1..k`` (linear gain, as
    trec_eval and BEIR); the ideal DCG sorts the positive judgements.

    Args:
        ranked: Retrieved document ids, best first.
        relevance: Judged documents and grades; grades <= 0 count as non-relevant.
        k: Cutoff.

    Returns:
        nDCG@k in [0, 1]; 0 when there is no positive judgement.
    """
    return ndcg_of_gains([float(relevance.get(doc, 0)) for doc in ranked], [float(g) for g in relevance.values()], k)


def recall_at_k(ranked: Sequence[str], relevance: Mapping[str, int], k: int = CUTOFF) -> float:
    """Share of the relevant documents found in the top ``k``.

    Args:
        ranked: Retrieved document ids, best first.
        relevance: Judged documents and grades (> 0 is relevant).
        k: Cutoff.

    Returns:
        Recall@k; 0 when there is no relevant document.
    """
    relevant = {doc for doc, grade in relevance.items() if grade > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranked[:k])) / len(relevant)


def mrr_at_k(ranked: Sequence[str], relevance: Mapping[str, int], k: int = CUTOFF) -> float:
    """Reciprocal rank of the first relevant document within the top ``k``.

    Args:
        ranked: Retrieved document ids, best first.
        relevance: Judged documents and grades (> 0 is relevant).
        k: Cutoff.

    Returns:
        ``1 / rank`` of the first relevant hit, or 0.
    """
    for rank, doc in enumerate(ranked[:k], start=1):
        if relevance.get(doc, 0) > 0:
            return 1.0 / rank
    return 0.0


def evaluate_run(run: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]]) -> dict[str, float]:
    """Average nDCG@10, Recall@10 and MRR@10 over the queries of a run.

    Args:
        run: Ranked document ids per query id.
        qrels: Judgements per query id; queries of ``run`` missing here score 0.

    Returns:
        ``{"ndcg@10": ..., "recall@10": ..., "mrr@10": ...}`` rounded to 4 decimals.
    """
    totals = {"ndcg@10": 0.0, "recall@10": 0.0, "mrr@10": 0.0}
    for query_id, ranked in run.items():
        relevance = qrels.get(query_id, {})
        totals["ndcg@10"] += ndcg_at_k(ranked, relevance)
        totals["recall@10"] += recall_at_k(ranked, relevance)
        totals["mrr@10"] += mrr_at_k(ranked, relevance)
    count = max(len(run), 1)
    return {name: round(value / count, 4) for name, value in totals.items()}


def load_corpus(path: Path, fields: Sequence[str]) -> tuple[list[str], list[str]]:
    """Read a BEIR ``corpus.jsonl``, joining the chosen fields with a newline.

    Args:
        path: The corpus file.
        fields: Field names to index, e.g. ``["title", "text"]``; missing or empty
            fields are skipped. List values (e.g. keywords) are joined with spaces.

    Returns:
        ``(document_ids, texts)``.
    """
    doc_ids: list[str] = []
    texts: list[str] = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            record = json.loads(line)
            parts = []
            for field in fields:
                value = record.get(field)
                if isinstance(value, list):
                    value = " ".join(str(v) for v in value)
                if value:
                    parts.append(str(value))
            doc_ids.append(str(record["_id"]))
            texts.append("\n".join(parts))
    return doc_ids, texts


def load_queries(path: Path) -> dict[str, str]:
    """Read a BEIR ``queries.jsonl`` into ``{query_id: text}`` (file order kept).

    Args:
        path: The queries file.

    Returns:
        The queries.
    """
    queries: dict[str, str] = {}
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                record = json.loads(line)
                queries[str(record["_id"])] = str(record["text"])
    return queries


def load_qrels(path: Path) -> Qrels:
    """Read a BEIR qrels TSV (header ``query-id corpus-id score``).

    Args:
        path: The qrels file.

    Returns:
        ``{query_id: {doc_id: grade}}``.
    """
    qrels: Qrels = {}
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle):
            cells = line.rstrip("\n").split("\t")
            if len(cells) < 3 or (number == 0 and not cells[2].lstrip("-").isdigit()):
                continue
            qrels.setdefault(cells[0], {})[cells[1]] = int(cells[2])
    return qrels


def embedding_cache_key(model_name: str, texts: Sequence[str]) -> str:
    """Return a file-name-safe key identifying a model and an ordered list of texts.

    Args:
        model_name: Encoder name.
        texts: The texts encoded.

    Returns:
        A hex digest.
    """
    digest = hashlib.sha256(model_name.encode("utf-8"))
    for text in texts:
        digest.update(b"\x00" + text.encode("utf-8"))
    return digest.hexdigest()[:24]


def encode_cached(
    encoder: Encoder,
    texts: Sequence[str],
    cache_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Vectors:
    """Encode texts, reusing embeddings saved in ``cache_dir`` by an earlier run.

    Args:
        encoder: The encoder.
        texts: Texts to encode.
        cache_dir: Directory of ``<key>.npy`` files, or None to disable caching.
        progress: Optional callback ``(done, total)``.

    Returns:
        The embeddings.
    """
    path = None
    if cache_dir is not None:
        path = cache_dir / f"{embedding_cache_key(encoder.name, texts)}.npy"
        if path.exists():
            LOG.info("embeddings loaded from %s", path)
            cached: Vectors = np.load(path, allow_pickle=False)
            return cached
    vectors = encode_in_batches(encoder, texts, batch_size=64, progress=progress)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors, allow_pickle=False)
    return vectors


class _QueryCache:
    """Encoder wrapper answering pre-encoded query texts from memory."""

    def __init__(self, encoder: Encoder, texts: Sequence[str], vectors: Vectors) -> None:
        self._encoder = encoder
        self._cache = dict(zip(texts, vectors, strict=True))

    @property
    def name(self) -> str:
        return self._encoder.name

    @property
    def dimension(self) -> int:
        return self._encoder.dimension

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> Vectors:
        if all(text in self._cache for text in texts):
            return np.stack([self._cache[text] for text in texts]).astype(np.float32)
        return self._encoder.encode(texts, batch_size=batch_size)


def run_queries(index: HybridIndex, queries: Mapping[str, str], doc_ids: Sequence[str], mode: Mode) -> dict[str, list[str]]:
    """Search every query in one mode and map results back to dataset ids.

    Args:
        index: The hybrid index, built with ids ``0..len(doc_ids)-1``.
        queries: ``{query_id: text}``.
        doc_ids: Dataset document ids by position.
        mode: Search mode.

    Returns:
        Top-10 dataset document ids per query id.
    """
    return {qid: [doc_ids[hit.id] for hit in index.search(text, CUTOFF, mode=mode)] for qid, text in queries.items()}


def evaluate(
    doc_ids: Sequence[str],
    texts: Sequence[str],
    queries: Mapping[str, str],
    qrels: Qrels,
    encoder: Encoder,
    settings: HybridSettings | None = None,
    cache_dir: Path | None = None,
) -> dict[str, object]:
    """Build a hybrid index over a corpus and score the three modes.

    Args:
        doc_ids: Dataset document ids.
        texts: Document texts aligned with ``doc_ids``.
        queries: Queries to evaluate (already restricted to judged ones).
        qrels: Judgements.
        encoder: Encoder for the dense leg.
        settings: Hybrid settings.
        cache_dir: Optional directory caching embeddings between runs.

    Returns:
        ``{"dense": metrics, "lexical": metrics, "hybrid": metrics, "queries": n}``.
    """
    started = time.monotonic()

    def report(done: int, total: int) -> None:
        if done % 640 >= 64 and done < total:
            return
        LOG.info("encoded %d/%d documents (%.0f s)", done, total, time.monotonic() - started)

    vectors = encode_cached(encoder, texts, cache_dir, report)
    index = build_hybrid(np.arange(len(doc_ids)), texts, encoder, settings, vectors=vectors)
    LOG.info("index built (%.0f s)", time.monotonic() - started)
    query_texts = list(queries.values())
    query_vectors = encode_cached(encoder, query_texts, cache_dir)
    index.encoder = _QueryCache(encoder, query_texts, query_vectors)
    result: dict[str, object] = {}
    modes: tuple[Mode, ...] = ("dense", "lexical", "hybrid")
    for mode in modes:
        result[mode] = evaluate_run(run_queries(index, queries, doc_ids, mode), qrels)
        LOG.info("%s: %s (%.0f s)", mode, result[mode], time.monotonic() - started)
    result["queries"] = len(queries)
    return result


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse command-line arguments.

    Args:
        argv: Arguments without the program name; defaults to ``sys.argv[1:]``.

    Returns:
        The parsed arguments.
    """
    parser = argparse.ArgumentParser(prog="python -m index.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, required=True, help="BEIR corpus.jsonl")
    parser.add_argument("--queries", type=Path, required=True, help="BEIR queries.jsonl")
    parser.add_argument("--qrels", type=Path, required=True, help="BEIR qrels .tsv")
    parser.add_argument("--fields", default="title,text", help="comma-separated corpus fields to index")
    parser.add_argument("--limit-queries", type=int, default=None, help="evaluate only the first N judged queries")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="sentence-transformers model name or path")
    parser.add_argument("--cache-dir", type=Path, default=None, help="reuse/save embeddings here (e.g. under /tmp)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the evaluation and print the JSON result.

    Args:
        argv: Command-line arguments without the program name.

    Returns:
        Process exit code.
    """
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    faiss.omp_set_num_threads(1)
    fields = [f.strip() for f in args.fields.split(",") if f.strip()]
    doc_ids, texts = load_corpus(args.corpus, fields)
    qrels = load_qrels(args.qrels)
    judged = {qid: rels for qid, rels in qrels.items() if any(g > 0 for g in rels.values())}
    queries = {qid: text for qid, text in load_queries(args.queries).items() if qid in judged}
    if args.limit_queries is not None:
        queries = dict(list(queries.items())[: args.limit_queries])
    LOG.info("%d documents, %d judged queries, fields %s", len(doc_ids), len(queries), fields)
    settings = HybridSettings(model_name=args.model)
    result = evaluate(doc_ids, texts, queries, judged, SentenceTransformerEncoder(args.model), settings, args.cache_dir)
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
