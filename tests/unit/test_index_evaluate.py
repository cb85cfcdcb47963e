"""Retrieval metrics and the BEIR evaluation pipeline."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from index.evaluate import (
    evaluate,
    evaluate_run,
    load_corpus,
    load_qrels,
    load_queries,
    mrr_at_k,
    ndcg_at_k,
    recall_at_k,
)
from tests.unit.fakes import HashingEncoder


def test_graded_ndcg_on_hand_made_example() -> None:
    ranked = ["d3", "d1", "d2"]
    qrels = {"d1": 2, "d2": 1, "d9": 0}
    dcg = 2 / math.log2(3) + 1 / math.log2(4)
    ideal = 2 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at_k(ranked, qrels) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(["d1", "d2"], qrels) == pytest.approx(1.0)
    assert recall_at_k(ranked, qrels) == 1.0
    assert recall_at_k(["d1"], qrels) == 0.5
    assert mrr_at_k(ranked, qrels) == 0.5
    assert ndcg_at_k(["x"] * 10 + ["d1"], qrels) == 0.0


def test_evaluate_run_averages_queries() -> None:
    run = {"q1": ["a"], "q2": ["x", "b"]}
    metrics = evaluate_run(run, {"q1": {"a": 1}, "q2": {"b": 1}})
    assert metrics["mrr@10"] == pytest.approx(0.75)
    assert metrics["recall@10"] == 1.0


def write_dataset(root: Path) -> tuple[Path, Path, Path]:
    corpus = root / "corpus.jsonl"
    docs = [
        {"_id": "d1", "title": "Welding", "text": "Laser welding of aluminium car bodies", "keywords": ["laser"]},
        {"_id": "d2", "title": "Battery", "text": "Lithium battery electrolyte with high safety"},
        {"_id": "d3", "title": "注塑", "text": "注塑件翘曲变形的控制方法"},
    ]
    corpus.write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in docs) + "\n", encoding="utf-8")
    queries = root / "queries.jsonl"
    rows = [{"_id": "q1", "text": "aluminium welding"}, {"_id": "q2", "text": "翘曲变形"}, {"_id": "q3", "text": "x"}]
    queries.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in rows) + "\n", encoding="utf-8")
    qrels = root / "qrels.tsv"
    qrels.write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td3\t1\n", encoding="utf-8")
    return corpus, queries, qrels


def test_loaders_and_pipeline(tmp_path: Path) -> None:
    corpus, queries, qrels_path = write_dataset(tmp_path)
    doc_ids, texts = load_corpus(corpus, ["title", "text"])
    assert doc_ids == ["d1", "d2", "d3"] and texts[0] == "Welding\nLaser welding of aluminium car bodies"
    assert load_corpus(corpus, ["text"])[1][1] == "Lithium battery electrolyte with high safety"
    qrels = load_qrels(qrels_path)
    assert qrels == {"q1": {"d1": 1}, "q2": {"d3": 1}}
    judged = {qid: text for qid, text in load_queries(queries).items() if qid in qrels}
    result = evaluate(doc_ids, texts, judged, qrels, HashingEncoder())
    assert result["queries"] == 2
    assert result["lexical"] == {"ndcg@10": 1.0, "recall@10": 1.0, "mrr@10": 1.0}
    assert result["hybrid"] == {"ndcg@10": 1.0, "recall@10": 1.0, "mrr@10": 1.0}
    assert set(result) == {"dense", "lexical", "hybrid", "queries"}
