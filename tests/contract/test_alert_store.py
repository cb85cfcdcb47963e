"""Saved needs and alerts on both backends: saving and stopping, exactly-once alerts, the daily cap and
digests, review states, the cursor and the background scan."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pytest

from matchmaker.alerts import AlertEngine, NeedError, NeedMatcher, SavedNeed, ScanReport, SQLiteNeedStore, implicit_need
from matchmaker.listings import Listing, SQLiteListingStore
from matchmaker.negotiation_store import SQLiteNegotiationStore
from tests.contract.conftest import Backend
from tests.unit.fakes import Clock
from tests.unit.test_alerts import DAY, OWNER, START, TopicEncoder, listing


@dataclass
class World:
    """Stores over one database, each on its own connection, and an engine factory."""

    backend: Backend
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


def open_world(backend: Backend, clock: Clock) -> World:
    return World(backend, clock, SQLiteListingStore(backend.connect()), SQLiteNeedStore(backend.connect(), clock),
                 SQLiteNegotiationStore(backend.connect(), clock=clock), TopicEncoder())


@pytest.fixture
def world(backend: Backend) -> World:
    return open_world(backend, Clock(START))


def battery_need(world: World, owner: str = OWNER, query: str = "lithium battery safety") -> SavedNeed:
    return world.needs.save(SavedNeed(0, owner, query, "achievement", "en"))


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
    reopened = open_world(world.backend, world.clock)
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
