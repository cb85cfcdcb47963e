"""Validation and deduplication rules of the index job's input rows."""

from __future__ import annotations

import json

import pytest

from jobs.listing_rows import IndexRow, newer, parse_line

GOOD = {"id": 7, "kind": "achievement", "title": " Kiln heat ", "text": "Waste heat recovery.", "maturity": 6,
        "created_at": 10.0}


def line(**changes: object) -> str:
    return json.dumps({**GOOD, **changes})


def test_a_valid_row_is_trimmed() -> None:
    row, reason = parse_line(line())
    assert reason is None and row == IndexRow(7, "Kiln heat", "Waste heat recovery.", 10.0)


@pytest.mark.parametrize(("text", "reason"), [
    ("", "empty line"),
    ("{not json", "not JSON"),
    ("[1, 2]", "not a JSON object"),
    (line(id=0), "id is not a positive int64"),
    (line(id="7"), "id is not a positive int64"),
    (line(id=True), "id is not a positive int64"),
    (line(id=2**63), "id is not a positive int64"),
    (line(kind="offer"), "kind is not demand/achievement"),
    (line(title="  "), "title or text missing"),
    (line(text=None), "title or text missing"),
    (line(text="x" * 4001), "title or text too long"),
    (line(maturity=10), "maturity is not a TRL 1-9"),
    (line(created_at="yesterday"), "created_at is not a number"),
])
def test_each_bad_row_gets_one_reason(text: str, reason: str) -> None:
    assert parse_line(text) == (None, reason)


def test_the_latest_version_of_a_listing_wins() -> None:
    old, new = IndexRow(1, "t", "old", 1.0), IndexRow(1, "t", "new", 2.0)
    assert newer(old, new) == new and newer(new, old) == new
