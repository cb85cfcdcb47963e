"""Saved needs and alerts: filters, thresholds, exactly-once alerts, daily cap and digests, stopping, cursor."""

from __future__ import annotations

import logging
import re
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from matchmaker.alerts import (
    SHANGHAI,
    AlertEngine,
    NeedError,
    NeedMatcher,
    SavedNeed,
    ScanReport,
    SQLiteNeedStore,
    alert_score,
    implicit_need,
    lexical_share,
    need_terms,
    shanghai_day,
)
from matchmaker.listings import Listing, SQLiteListingStore, connect
from matchmaker.negotiation_store import SQLiteNegotiationStore

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


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


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


@dataclass
class World:
    """Stores over one database file, each on its own connection, and an engine factory."""

    path: Path
    clock: Clock
    listings: SQLiteListingStore
    needs: SQLiteNeedStore
    threads: SQLiteNegotiationStore
    encoder: TopicEncoder

    def engine(self, notify: Callable[..., bool] | None = None, per_day: int = 5, interval: float = 0.5) -> AlertEngine:
        engine = AlertEngine(self.needs, self.listings, NeedMatcher(self.encoder), notify or self.threads.notify,
                             per_day=per_day, interval=interval, clock=self.clock)
        engine.load()
        return engine

    def post(self, title: str, text: str, kind: str = "achievement", **changes: Any) -> Listing:
        return self.listings.add(replace(listing(title, text, kind=kind, listing_id=0), **changes))

    def notices(self, participant: str = OWNER, body: str | None = None) -> list[Any]:
        return [m for m in self.threads.notices_for(participant) if body is None or m.body == body]


def open_world(path: Path, clock: Clock) -> World:
    return World(path, clock, SQLiteListingStore(connect(path)), SQLiteNeedStore(connect(path), clock),
                 SQLiteNegotiationStore(connect(path), clock=clock), TopicEncoder())


@pytest.fixture
def world(tmp_path: Path) -> World:
    return open_world(tmp_path / "alerts.db", Clock())


def battery_need(world: World, owner: str = OWNER, query: str = "lithium battery safety") -> SavedNeed:
    return world.needs.save(SavedNeed(0, owner, query, "achievement", "en"))


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


# -- store: saving and stopping -----------------------------------------------------------------


def test_saving_the_same_active_need_returns_the_stored_one(world: World) -> None:
    first = battery_need(world)
    assert battery_need(world) == first
    assert world.needs.save(replace(first, id=0, target_kind="funding")).id != first.id
    assert battery_need(world, owner="user-2").id != first.id
    world.needs.stop(OWNER, first.id)
    again = battery_need(world)
    assert again.id != first.id and again.active


@pytest.mark.parametrize("bad", [
    SavedNeed(0, OWNER, "   ", "achievement", "en"),
    SavedNeed(0, OWNER, "battery", "patent", "en"),
    SavedNeed(0, OWNER, "b" * 2001, "achievement", "en"),
    SavedNeed(0, OWNER, "battery", "achievement", "fr"),
    SavedNeed(0, OWNER, "battery", "achievement", "en", min_maturity=10),
])
def test_malformed_needs_are_refused(world: World, bad: SavedNeed) -> None:
    with pytest.raises(NeedError) as refused:
        world.needs.save(bad)
    assert refused.value.code == "bad_need"
    assert world.needs.active() == []


def test_a_need_round_trips_with_its_filters(world: World) -> None:
    saved = world.needs.save(SavedNeed(0, OWNER, " kiln heat ", "funding", "en", regions=("jiangsu", "anhui"),
                                       field="energy_environment", min_maturity=4, stage="seed"))
    assert world.needs.get(saved.id) == saved
    assert saved.query == "kiln heat" and saved.created_at == START and saved.source == "search"


def test_stop_one_stop_all_and_unknown_needs_refused(world: World) -> None:
    mine = [battery_need(world, query=q) for q in ("battery", "kiln heat", "water treatment")]
    theirs = battery_need(world, owner="user-2")
    assert world.needs.stop(OWNER, mine[0].id) == 1
    assert world.needs.stop(OWNER, mine[0].id) == 0
    for foreign in (theirs.id, 9999):
        with pytest.raises(NeedError) as refused:
            world.needs.stop(OWNER, foreign)
        assert refused.value.code == "unknown_need"
    assert world.needs.get(theirs.id).active
    assert world.needs.stop(OWNER) == 2
    assert world.needs.for_owner(OWNER) == []
    assert len(world.needs.for_owner(OWNER, include_stopped=True)) == 3
    assert [n.id for n in world.needs.active()] == [theirs.id]


def test_stopped_needs_are_no_longer_alerted(world: World) -> None:
    engine = world.engine()
    one = engine.save_need(SavedNeed(0, OWNER, "lithium battery safety", "achievement", "en"))
    engine.save_need(SavedNeed(0, OWNER, "battery separator", "achievement", "en"))
    other = engine.save_need(SavedNeed(0, "user-2", "lithium battery safety", "achievement", "en"))
    assert engine.stop_needs(OWNER, one.id) == 1
    assert one.id not in engine.matcher and len(engine.matcher) == 2
    assert engine.stop_needs(OWNER) == 1
    world.post("Lithium battery safety", "A battery separator that keeps lithium battery cells safe.")
    assert engine.scan_once() == ScanReport(1, 1, 0)
    assert world.notices() == [] and len(world.notices("user-2")) == 1
    assert [row.need_id for row in world.needs.alerts_for(other.id)] == [other.id]


# -- engine: exactly once, cap and digest, cursor, thread ------------------------------------------


def test_alert_notice_carries_the_listing_and_the_need(world: World) -> None:
    engine = world.engine()
    saved = engine.save_need(SavedNeed(0, OWNER, "lithium battery safety", "achievement", "en"))
    posted = world.post("Lithium battery safety", "A separator that keeps lithium battery cells safe.")
    assert engine.scan_once() == ScanReport(1, 1, 0)
    [notice] = world.notices()
    assert notice.body == "alert" and notice.client_key == f"alert:{saved.id}:{posted.id}"
    assert notice.data["need_id"] == saved.id and notice.data["listing_id"] == posted.id
    assert notice.data["title"] == posted.title and notice.data["kind"] == "achievement"
    assert notice.data["query"] == saved.query and notice.data["score"] >= 0.55


def test_scanning_twice_or_from_the_start_alerts_once(world: World) -> None:
    engine = world.engine()
    saved = engine.save_need(SavedNeed(0, OWNER, "lithium battery safety", "achievement", "en"))
    world.post("Lithium battery safety", "A separator that keeps lithium battery cells safe.")
    assert engine.scan_once() == ScanReport(1, 1, 0)
    assert engine.scan_once() == ScanReport(0, 0, 0)
    world.needs.set_cursor(0)
    assert engine.scan_once() == ScanReport(1, 0, 0)
    assert len(world.notices()) == 1 and len(world.needs.alerts_for(saved.id)) == 1


def failing_once(notify: Callable[..., bool], before: bool) -> Callable[..., bool]:
    """``notify`` that raises on its first call, before or after queuing the notice."""
    calls: list[int] = []

    def wrapped(participant_ids: Sequence[str], body: str, data: dict[str, Any], key: str) -> bool:
        calls.append(1)
        if len(calls) == 1 and before:
            raise RuntimeError("crash before the notice was queued")
        stored = notify(participant_ids, body, data, key)
        if len(calls) == 1:
            raise RuntimeError("crash after the notice was queued")
        return stored

    return wrapped


@pytest.mark.parametrize("before", [True, False], ids=["before-notify", "after-notify"])
def test_a_scan_that_crashed_is_repeated_without_loss_or_duplicate(world: World, before: bool) -> None:
    engine = world.engine(notify=failing_once(world.threads.notify, before))
    saved = engine.save_need(SavedNeed(0, OWNER, "lithium battery safety", "achievement", "en"))
    posted = world.post("Lithium battery safety", "A separator that keeps lithium battery cells safe.")
    with pytest.raises(RuntimeError):
        engine.scan_once()
    assert [row.state for row in world.needs.alerts_for(saved.id)] == ["sent"]
    assert world.needs.cursor() == 0
    assert engine.scan_once() == ScanReport(1, 1 if before else 0, 0)
    assert [n.client_key for n in world.notices()] == [f"alert:{saved.id}:{posted.id}"]
    assert world.needs.cursor() == world.listings.last_publish_seq()


def test_a_need_stopped_after_an_interrupted_scan_is_not_alerted(world: World) -> None:
    engine = world.engine(notify=failing_once(world.threads.notify, before=True))
    saved = engine.save_need(SavedNeed(0, OWNER, "lithium battery safety", "achievement", "en"))
    world.post("Lithium battery safety", "A separator that keeps lithium battery cells safe.")
    with pytest.raises(RuntimeError):
        engine.scan_once()
    engine.stop_needs(OWNER, saved.id)
    assert engine.scan_once() == ScanReport(1, 0, 0)
    assert world.notices() == []


def test_alerts_over_the_daily_cap_wait_for_the_next_days_digest(world: World) -> None:
    engine = world.engine(per_day=2)
    saved = engine.save_need(SavedNeed(0, OWNER, "lithium battery safety", "achievement", "en"))
    posted = [world.post(f"Lithium battery safety {i}", "A separator that keeps lithium battery cells safe.")
              for i in range(4)]
    assert engine.scan_once() == ScanReport(4, 2, 2)
    assert [n.data["listing_id"] for n in world.notices(body="alert")] == [posted[0].id, posted[1].id]
    assert world.needs.sent_on(saved.id, "2026-03-10") == 2
    world.clock.now = START + 13 * 3600
    assert engine.send_digests() == 0
    world.clock.now = START + DAY
    assert engine.send_digests() == 1
    [digest] = world.notices(body="digest")
    assert digest.client_key == f"digest:{saved.id}:2026-03-10"
    assert digest.data == {"need_id": saved.id, "count": 2, "listing_ids": [posted[2].id, posted[3].id],
                           "titles": [posted[2].title, posted[3].title], "day": "2026-03-10"}
    assert [row.state for row in world.needs.alerts_for(saved.id)] == ["sent", "sent", "digested", "digested"]
    assert engine.send_digests() == 0 and len(world.notices(body="digest")) == 1
    world.post("Lithium battery safety next day", "A separator that keeps lithium battery cells safe.")
    assert engine.scan_once() == ScanReport(1, 1, 0)


def test_digest_lists_at_most_five_titles(world: World) -> None:
    engine = world.engine(per_day=1)
    engine.save_need(SavedNeed(0, OWNER, "lithium battery safety", "achievement", "en"))
    for i in range(8):
        world.post(f"Lithium battery safety {i}", "A separator that keeps lithium battery cells safe.")
    assert engine.scan_once() == ScanReport(8, 1, 7)
    assert engine.send_digests(START + DAY) == 1
    [digest] = world.notices(body="digest")
    assert digest.data["count"] == 7 and len(digest.data["listing_ids"]) == 7 and len(digest.data["titles"]) == 5


def test_implicit_need_of_an_achievement_posted_in_chat(world: World) -> None:
    engine = world.engine()
    achievement = world.post("Sulfide battery electrolyte", "A solid electrolyte for safer battery cells.",
                             owner_id="user-9", source="chat:user-9:1")
    implied = implicit_need(achievement)
    assert implied is not None
    assert (implied.owner_id, implied.target_kind, implied.language, implied.source) == \
        ("user-9", "demand", "en", f"listing:{achievement.id}")
    assert implied.query == f"{achievement.title}\n{achievement.text}"
    engine.save_need(implied)
    world.post("Kiln heat recovery wanted", "We need thermal recovery for our kilns.", kind="demand",
               owner_id="org:kiln-works")
    demand = world.post("Battery accumulators wanted", "Our vehicles need accumulators for winter.", kind="demand",
                        owner_id="org:ev-maker")
    engine.scan_once()
    assert [n.data["listing_id"] for n in world.notices("user-9")] == [demand.id]


def test_a_chinese_achievement_implies_a_need_for_its_title_and_hears_of_a_demand_about_it(world: World) -> None:
    engine = world.engine()
    achievement = world.post("锂电池正极材料", "一种锂电池正极材料，低温容量保持率高，已完成中试，可在零下30度工作。",
                             owner_id="lab-zh", source="chat:lab-zh:1", language="zh")
    implied = implicit_need(achievement)
    assert implied is not None and implied.query == "锂电池正极材料"
    engine.save_need(implied)
    demand = world.post("低温电池", "我们需要低温性能好的锂电池正极材料，用于北方电动车。", kind="demand",
                        owner_id="org:ev-north", language="zh")
    world.post("窑炉余热", "我们需要陶瓷窑炉余热回收技术。", kind="demand", owner_id="org:kiln", language="zh")
    engine.scan_once()
    assert [n.data["listing_id"] for n in world.notices("lab-zh")] == [demand.id]


def test_only_stored_chat_achievements_imply_a_need() -> None:
    chat = listing("Sulfide battery electrolyte", "A solid electrolyte.", source="chat:user-9:1")
    assert implicit_need(chat) is not None
    assert implicit_need(replace(chat, kind="demand")) is None
    assert implicit_need(replace(chat, source="csl:123")) is None
    assert implicit_need(replace(chat, id=0)) is None
    assert implicit_need(replace(chat, status="rejected")) is None
    long_one = implicit_need(replace(chat, text="x" * 4000))
    assert long_one is not None and len(long_one.query) == 2000


def test_pending_and_rejected_listings_are_never_alerted(world: World) -> None:
    engine = world.engine()
    engine.save_need(SavedNeed(0, OWNER, "lithium battery safety", "achievement", "en"))
    text = "A separator that keeps lithium battery cells safe."
    pending = world.post("Lithium battery safety 1", text, status="pending")
    rejected = world.post("Lithium battery safety 2", text, status="pending")
    assert engine.scan_once() == ScanReport(0, 0, 0)
    world.listings.set_status(rejected.id, "rejected", "duplicate")
    assert engine.scan_once() == ScanReport(0, 0, 0)
    world.listings.set_status(pending.id, "published")
    assert engine.scan_once() == ScanReport(1, 1, 0)
    assert [n.data["listing_id"] for n in world.notices()] == [pending.id]


def test_cursor_survives_a_new_engine_on_the_same_database(world: World) -> None:
    engine = world.engine()
    engine.save_need(SavedNeed(0, OWNER, "lithium battery safety", "achievement", "en"))
    world.post("Lithium battery safety 1", "A separator that keeps lithium battery cells safe.")
    assert engine.scan_once() == ScanReport(1, 1, 0)
    reopened = open_world(world.path, world.clock)
    again = reopened.engine()
    assert len(again.matcher) == 1
    assert again.scan_once() == ScanReport(0, 0, 0)
    second = reopened.post("Lithium battery safety 2", "A separator that keeps lithium battery cells safe.")
    assert again.scan_once() == ScanReport(1, 1, 0)
    assert [n.data["listing_id"] for n in reopened.notices()][-1] == second.id and len(reopened.notices()) == 2


def test_load_makes_the_matcher_hold_exactly_the_active_needs(world: World) -> None:
    engine = world.engine()
    first = world.needs.save(SavedNeed(0, OWNER, "battery", "achievement", "en"))
    second = world.needs.save(SavedNeed(0, OWNER, "电池", "achievement", "zh"))
    assert engine.load() == 2 and engine.matcher.ids() == {first.id, second.id}
    world.needs.stop(OWNER, first.id)
    assert engine.load() == 0 and engine.matcher.ids() == {second.id}


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_background_thread_scans_when_woken_and_outlives_errors(world: World,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    engine = world.engine(notify=failing_once(world.threads.notify, before=True), interval=60.0)
    engine.save_need(SavedNeed(0, OWNER, "lithium battery safety", "achievement", "en"))
    world.post("Lithium battery safety 1", "A separator that keeps lithium battery cells safe.")
    caplog.set_level(logging.ERROR, logger="matchmaker.alerts")
    engine.start()
    try:
        assert wait_for(lambda: "alert scan failed" in caplog.text)
        assert engine.running and world.notices() == []
        engine.wake()
        assert wait_for(lambda: len(world.notices()) == 1)
        world.post("Lithium battery safety 2", "A separator that keeps lithium battery cells safe.")
        engine.wake()
        assert wait_for(lambda: len(world.notices()) == 2)
    finally:
        engine.stop()
    assert not engine.running
