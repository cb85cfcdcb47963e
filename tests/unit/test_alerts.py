"""Saved needs and alerts without a database: scores, filters, thresholds, implicit needs.

What the need store and the alert engine do with a database (exactly-once alerts, the daily cap
and digests, stopping, the cursor) is in ``tests/contract/test_alert_store.py``, on both backends.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

import numpy as np
import pytest

from matchmaker.alerts import (
    SHANGHAI,
    NeedMatcher,
    SavedNeed,
    alert_score,
    implicit_need,
    lexical_share,
    need_terms,
    shanghai_day,
)
from matchmaker.listings import Listing

OWNER = "user-1"
START = datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI).timestamp()
DAY = 86400.0


class TopicEncoder:
    """Deterministic stand-in for the sentence encoder: three topic axes and eight hashed buckets.

    Words of one topic ("battery", "accumulator", "电池") land on the same axis, so texts that
    share no lexical term can still be close; every other word lands in a hashed bucket.
    Every batch it encodes is recorded in ``calls``.
    """

    name = "topic-11"
    dimension = 11
    TOPICS = ({"battery", "batteries", "accumulator", "accumulators", "cell", "cells", "电池"},
              {"heat", "thermal", "kiln", "kilns", "余热"},
              {"water", "wastewater", "水"})

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        self.calls.append(list(texts))
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"[a-z]+|电池|余热|水", text.lower()):
                axis = next((i for i, topic in enumerate(self.TOPICS) if word in topic), None)
                vectors[row, axis if axis is not None else 3 + zlib.crc32(word.encode()) % 8] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1.0, norms)



def listing(title: str, text: str, kind: str = "achievement", language: str = "en", listing_id: int = 10,
            **changes: Any) -> Listing:
    """A listing with the metadata the default need accepts."""
    base = Listing(id=listing_id, kind=kind, title=title, text=text, owner_id="org:lab", owner_name="Lab (demo)",
                   owner_type="institute", listing_type="paper", region="jiangsu", field="new_energy", maturity=6,
                   language=language, source=f"test:{title}:{listing_id}:{kind}:{language}")
    return replace(base, **changes)


def need(query: str, need_id: int = 1, **changes: Any) -> SavedNeed:
    """A stored-looking English need for achievements, without filters unless given."""
    return replace(SavedNeed(id=need_id, owner_id=OWNER, query=query, target_kind="achievement", language="en"),
                   **changes)


# -- scoring -------------------------------------------------------------------------------


def test_alert_score_fires_on_either_leg_and_takes_the_larger() -> None:
    assert alert_score(0.7, None, 0.7, 0.55) == 0.7
    assert alert_score(0.69, None, 0.7, 0.55) is None
    assert alert_score(0.2, 0.6, 0.7, 0.55) == 0.6
    assert alert_score(0.8, 0.6, 0.7, 0.55) == 0.8
    assert alert_score(0.69, 0.54, 0.7, 0.55) is None


def test_lexical_share_counts_distinct_need_terms() -> None:
    assert lexical_share(need_terms("battery batteries safety"), need_terms("Battery packs")) == 0.5
    assert lexical_share(need_terms("the of and"), need_terms("the of and")) == 0.0


def test_days_are_shanghai_days() -> None:
    assert shanghai_day(datetime(2026, 3, 10, 16, 30).replace(tzinfo=SHANGHAI).timestamp()) == "2026-03-10"
    assert shanghai_day(datetime.fromisoformat("2026-03-10T16:30:00+00:00").timestamp()) == "2026-03-11"
    assert shanghai_day(datetime.fromisoformat("2026-03-10T15:59:00+00:00").timestamp()) == "2026-03-10"


# -- matcher: filters and thresholds ------------------------------------------------------------

FILTERED = need("lithium battery safety", regions=("jiangsu", "zhejiang"), field="new_energy", min_maturity=5)
MATCHING = listing("Lithium battery safety", "A separator that keeps lithium battery cells safe.")


@pytest.mark.parametrize("change", [
    {"kind": "demand"}, {"kind": "funding"}, {"language": "zh"}, {"region": "anhui"}, {"field": "biomedicine"},
    {"maturity": 4}, {"owner_id": OWNER}, {"status": "pending"}, {"status": "rejected"},
], ids=lambda change: "-".join(f"{k}={v}" for k, v in change.items()))
def test_each_hard_filter_excludes_a_listing_that_otherwise_fires(change: dict[str, Any]) -> None:
    matcher = NeedMatcher(TopicEncoder())
    matcher.add(FILTERED)
    assert [need_id for need_id, _ in matcher.matches(MATCHING)] == [FILTERED.id]
    assert matcher.matches(replace(MATCHING, **change)) == []


def test_a_need_admits_published_listings_only() -> None:
    assert FILTERED.admits(MATCHING)
    assert not FILTERED.admits(replace(MATCHING, status="pending"))
    assert not FILTERED.admits(replace(MATCHING, status="rejected"))


def test_filters_pass_at_their_bounds_and_stage_must_equal() -> None:
    matcher = NeedMatcher(TopicEncoder())
    matcher.add(FILTERED)
    matcher.add(need("seed funding battery", need_id=2, target_kind="funding", stage="seed"))
    assert [i for i, _ in matcher.matches(replace(MATCHING, region="zhejiang", maturity=5))] == [1]
    seed = listing("Seed funding for battery start-ups", "Seed funding for battery companies.", kind="funding",
                   stage="seed", amount_min=1, amount_max=2)
    assert [i for i, _ in matcher.matches(seed)] == [2]
    assert matcher.matches(replace(seed, stage="angel")) == []


def test_english_need_fires_on_the_dense_leg_without_shared_terms() -> None:
    matcher = NeedMatcher(TopicEncoder(), threshold_dense=0.75, threshold_lexical=0.7)
    matcher.add(need("accumulator"))
    battery = listing("Battery packs", "Battery cells for cold winters.")
    assert lexical_share(need_terms("accumulator"), need_terms(battery.search_text)) == 0.0
    [(need_id, score)] = matcher.matches(battery)
    assert need_id == 1 and score > 0.75
    assert matcher.matches(listing("Kiln heat", "Thermal recovery of kiln heat.")) == []


def test_dense_threshold_is_where_the_english_need_starts_firing() -> None:
    encoder = TopicEncoder()
    battery = listing("Battery packs", "Battery cells for cold winters.")
    cosine = float(encoder.encode(["accumulator"])[0] @ encoder.encode([battery.search_text])[0])
    at = NeedMatcher(encoder, threshold_dense=cosine - 1e-4, threshold_lexical=1.01)
    above = NeedMatcher(encoder, threshold_dense=cosine + 1e-4, threshold_lexical=1.01)
    for matcher in (at, above):
        matcher.add(need("accumulator"))
    assert [i for i, _ in at.matches(battery)] == [1]
    assert above.matches(battery) == []


def test_lexical_threshold_is_a_share_of_the_need_terms() -> None:
    matcher = NeedMatcher(TopicEncoder(), threshold_dense=1.01, threshold_lexical=0.7)
    matcher.add(need("alpha bravo charlie delta echo foxtrot golf hotel india juliet"))
    seven = listing("Alpha bravo charlie", "delta echo foxtrot golf and more")
    six = listing("Alpha bravo charlie", "delta echo foxtrot and more")
    assert [need_id for need_id, _ in matcher.matches(seven)] == [1]
    assert matcher.matches(six) == []


def test_chinese_need_fires_on_terms_and_never_on_the_dense_leg() -> None:
    encoder = TopicEncoder()
    matcher = NeedMatcher(encoder, threshold_lexical=0.7)
    matcher.add(need("锂电池正极材料", language="zh"))
    same_topic = listing("电池管理系统", "电池电池电池。", language="zh")
    assert matcher.matches(same_topic) == []
    assert matcher.matches(listing("一种锂电池正极材料", "低温容量保持率高。", language="zh")) == [(1, 1.0)]
    low = NeedMatcher(encoder, threshold_lexical=0.2)
    low.add(need("锂电池正极材料", language="zh"))
    [(_, score)] = low.matches(same_topic)
    assert score == pytest.approx(3 / 13)
    assert encoder.calls == []


def test_removed_need_no_longer_fires_and_a_replaced_one_fires_once() -> None:
    matcher = NeedMatcher(TopicEncoder())
    matcher.add(need("lithium battery safety"))
    matcher.add(need("lithium battery safety"))
    assert len(matcher.matches(MATCHING)) == 1
    assert matcher.remove(1) and not matcher.remove(1)
    assert matcher.matches(MATCHING) == [] and len(matcher) == 0


def test_matching_needs_stored_needs() -> None:
    with pytest.raises(ValueError):
        NeedMatcher(TopicEncoder()).add(need("battery", need_id=0))


def test_only_stored_chat_achievements_imply_a_need() -> None:
    chat = listing("Sulfide battery electrolyte", "A solid electrolyte.", source="chat:user-9:1")
    assert implicit_need(chat) is not None
    assert implicit_need(replace(chat, kind="demand")) is None
    assert implicit_need(replace(chat, source="csl:123")) is None
    assert implicit_need(replace(chat, id=0)) is None
    assert implicit_need(replace(chat, status="rejected")) is None
    long_one = implicit_need(replace(chat, text="x" * 4000))
    assert long_one is not None and len(long_one.query) == 2000
