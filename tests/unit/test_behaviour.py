"""Credit formula, implicit-feedback weights, CF model scoring and the event spool."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest

from behaviour.cf import CFModel, event_weight, interactions
from behaviour.credit import NEUTRAL_SCORE, compute_credits, main_component
from behaviour.events import Event
from behaviour.hbase_store import StoreUnavailableError, event_keys, salt
from behaviour.spool import SpoolingEventStore
from behaviour.store import SQLiteEventStore

DAY = 86400.0


def test_a_newcomer_is_near_neutral_and_good_behaviour_raises_credit() -> None:
    events = [Event("contact", "ent:a", listing_id=1, subject_id="lab:good"),
              Event("accepted", "lab:good", thread_id=1, subject_id="ent:a", response_seconds=3600),
              Event("deal", "ent:a", listing_id=1, subject_id="lab:good"),
              Event("rating", "ent:a", subject_id="lab:good", rating=5),
              Event("verified", "lab:good"),
              Event("contact", "ent:a", listing_id=2, subject_id="lab:bad"),
              Event("declined", "lab:bad", thread_id=2, subject_id="ent:a", response_seconds=5 * DAY),
              Event("dispute", "ent:a", subject_id="lab:bad"),
              Event("rating", "ent:a", subject_id="lab:bad", rating=1)]
    credits = {c.participant_id: c for c in compute_credits(events, now=0.0)}
    newcomer = compute_credits([Event("contact", "ent:b", listing_id=3, subject_id="lab:new")], now=0.0)[0]
    assert abs(newcomer.score - NEUTRAL_SCORE) < 15
    assert credits["lab:good"].score > newcomer.score > credits["lab:bad"].score
    assert set(credits["lab:good"].components) == {"performance", "cooperation", "responsiveness",
                                                   "efficiency", "reliability", "verification"}
    assert main_component(credits["lab:bad"]) in {"reliability", "cooperation", "responsiveness", "verification"}


def test_feedback_weights_decay_and_negative_feedback_stays_negative() -> None:
    contact = Event("contact", "u", listing_id=5, ts=0.0)
    assert event_weight(contact, now=0.0) == 4.0
    assert event_weight(contact, now=90 * DAY) == pytest.approx(2.0)
    assert event_weight(Event("shown", "u", listing_id=5), now=0.0) == 0.0
    pairs = interactions([contact, Event("not_relevant", "u", listing_id=6, ts=0.0)], now=0.0)
    assert pairs == {("u", 5): 4.0, ("u", 6): -2.0}


def model() -> CFModel:
    return CFModel(users=["u1", "u2"], user_factors=np.array([[1, 0], [0, 1]], dtype=np.float32),
                   item_ids=np.array([10, 20], dtype=np.int64),
                   item_factors=np.array([[0.9, 0.0], [0.0, 0.8]], dtype=np.float32), meta={},
                   engaged={10: ["u1"], 20: ["u2"]})


def test_known_users_score_by_factors_and_cold_listings_get_the_mean() -> None:
    scores = model().scores("u1", [10, 20, 99])
    assert scores[10] == pytest.approx(0.9) and scores[20] == 0.0
    assert scores[99] == pytest.approx(0.45)


def test_new_users_are_folded_in_from_what_they_engaged_with() -> None:
    assert model().scores("stranger", [10, 20]) == {}
    folded = model().scores("stranger", [10, 20], engaged=[20])
    assert folded[20] > folded[10]


def test_the_model_survives_save_and_load_and_detects_tampering(tmp_path: Path) -> None:
    model().save(tmp_path / "v1")
    loaded = CFModel.load(tmp_path / "v1")
    assert loaded.users == ["u1", "u2"] and loaded.engaged == {10: ["u1"], 20: ["u2"]}
    (tmp_path / "v1" / "item_ids.npy").write_bytes(b"x")
    with pytest.raises(ValueError):
        CFModel.load(tmp_path / "v1")


def test_row_keys_group_a_user_in_time_order_under_one_salt() -> None:
    early = Event("shown", "alice", listing_id=3, ts=100.0)
    late = Event("shown", "alice", listing_id=4, ts=200.0)
    (user_early, listing_early), (user_late, _) = event_keys(early), event_keys(late)
    assert user_early.startswith(f"u{salt('alice')}|alice|".encode()) and user_early < user_late
    assert listing_early.startswith(b"l") and b"|00000000000000000003|" in listing_early


class Unreachable(SQLiteEventStore):
    """An SQLite store that can be switched off, to exercise the spool's own logic."""

    down = False

    def append(self, events: Iterable[Event]) -> int:
        if self.down:
            raise StoreUnavailableError("switched off")
        return super().append(events)


def test_events_spool_while_the_store_is_down_and_replay_exactly_once(tmp_path: Path) -> None:
    primary = Unreachable(tmp_path / "events.db")
    store = SpoolingEventStore(primary, tmp_path / "spool", retry_seconds=0.0)
    store.append([Event("shown", "u", listing_id=1)])
    primary.down = True
    spooled = [Event("contact", "u", listing_id=n) for n in range(5)]
    store.append(spooled[:3])
    store.append(spooled[3:])
    assert store.pending() == 5 and primary.count() == 1
    primary.down = False
    assert store.replay(force=True)
    assert store.replay(force=True)
    assert primary.count() == 6 and store.pending() == 0


def test_a_replay_interrupted_after_writing_does_not_duplicate(tmp_path: Path) -> None:
    primary = Unreachable(tmp_path / "events.db")
    store = SpoolingEventStore(primary, tmp_path / "spool", retry_seconds=0.0)
    primary.down = True
    store.append([Event("deal", "u", listing_id=1), Event("deal", "u", listing_id=2)])
    primary.down = False
    spool = tmp_path / "spool" / "events.spool"
    primary.append(Event.from_dict(__import__("json").loads(line)) for line in spool.read_text().splitlines())
    spool.rename(tmp_path / "spool" / "events.spool.replaying")
    with (tmp_path / "spool" / "events.spool.replaying").open("a") as handle:
        handle.write('{"kind": "torn')
    assert store.replay(force=True)
    assert primary.count() == 2
