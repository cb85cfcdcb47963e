"""Validation of raw listing rows read by the batch jobs (pure Python, runs on executors).

A row is one JSON object (a JSONL line) or one Parquet record. A valid row has a positive
int64 ``id``, a ``kind`` of demand/achievement, a non-empty ``title`` and ``text`` within
the store's limits and, when present, a ``maturity`` TRL of 1-9. Each invalid row gets
exactly one reason, so the job can count and report them instead of dropping them silently.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from matchmaker.listings import KINDS, MAX_TEXT_CHARS, MAX_TITLE_CHARS

MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class IndexRow:
    """What the index needs of a listing."""

    id: int
    title: str
    text: str
    created_at: float

    @property
    def search_text(self) -> str:
        """Title and description, as the serving side indexes them."""
        return f"{self.title}\n{self.text}"


def parse_line(line: str) -> tuple[IndexRow | None, str | None]:
    """Parse one JSONL line: ``(row, None)`` when valid, ``(None, reason)`` otherwise."""
    if not line.strip():
        return None, "empty line"
    try:
        value = json.loads(line)
    except ValueError:
        return None, "not JSON"
    if not isinstance(value, dict):
        return None, "not a JSON object"
    return validate_record(value)


def validate_record(record: dict[str, Any]) -> tuple[IndexRow | None, str | None]:
    """Check one record: ``(row, None)`` when valid, ``(None, reason)`` otherwise."""
    raw_id = record.get("id")
    if isinstance(raw_id, bool) or not isinstance(raw_id, int) or not 0 < raw_id <= MAX_ID:
        return None, "id is not a positive int64"
    if record.get("kind") not in KINDS:
        return None, "kind is not demand/achievement"
    title, text = record.get("title"), record.get("text")
    if not isinstance(title, str) or not isinstance(text, str) or not title.strip() or not text.strip():
        return None, "title or text missing"
    if len(title.strip()) > MAX_TITLE_CHARS or len(text.strip()) > MAX_TEXT_CHARS:
        return None, "title or text too long"
    maturity = record.get("maturity")
    if maturity is not None and (isinstance(maturity, bool) or not isinstance(maturity, int)
                                 or not 1 <= maturity <= 9):
        return None, "maturity is not a TRL 1-9"
    created = record.get("created_at", 0.0)
    if isinstance(created, bool) or not isinstance(created, (int, float)) or not math.isfinite(created):
        return None, "created_at is not a number"
    return IndexRow(raw_id, title.strip(), text.strip(), float(created)), None


def newer(left: IndexRow, right: IndexRow) -> IndexRow:
    """Of two rows with the same id, the one to keep: the later ``created_at`` (then the longer text)."""
    return max(left, right, key=lambda row: (row.created_at, len(row.search_text), row.search_text))
