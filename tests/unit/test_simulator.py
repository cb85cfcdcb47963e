"""The market simulator and the ranking-lift bench's evaluation helpers."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from behaviour.credit import compute_credits
from behaviour.events import KINDS, Event
from bench.ranking_lift import sessions_between, time_split
from bench.simulator import (
    DAY,
    START,
    Behaviour,
    Market,
    MarketConfig,
    achievements_with_ids,
    retrieval_score,
    simulate,
    title_query,
)
from index.evaluate import ndcg_of_gains
from matchmaker.listings import Listing
from tests.unit.fakes import make_listing

_TOPICS = {
    "battery": ("lithium", "cathode", "electrolyte", "anode", "cell", "charging"),
    "rice": ("rice", "paddy", "yield", "irrigation", "seedling", "fertiliser"),
    "sepsis": ("sepsis", "diagnosis", "biomarker", "intensive", "infection", "blood"),
    "ceramic": ("ceramic", "kiln", "glaze", "firing", "clay", "sintering"),
}
_ZH = ("锂电池正极材料的制备方法", "水稻高产栽培技术研究", "脓毒症早期诊断标志物", "陶瓷窑炉余热回收利用")


def _listings() -> list[Listing]:
    items = []
    for number in range(40):
        topic = list(_TOPICS)[number % 4]
        words = _TOPICS[topic]
        picked = [words[(number + shift) % len(words)] for shift in range(4)]
        title = f"{picked[0].title()} {picked[1]} for {picked[2]} studies {number}"
        text = f"We study {' '.join(picked)} and report {picked[3]} results for {topic} applications."
        items.append(make_listing(f"t{number}", "achievement", title, text, field=topic,
                                  owner=f"org:lab-{number % 7}"))
    for number, title in enumerate(_ZH * 3):
        items.append(make_listing(f"z{number}", "achievement", title, title + "，试验表明效果良好。", language="zh",
                                  field=f"zh-{number % 4}", owner=f"org:zh-{number % 3}"))
    return achievements_with_ids(items)


def _config(seed: int = 3) -> MarketConfig:
    return MarketConfig(seed=seed, users=30, segments=3, days=60.0, sessions_per_user=5.0)


@pytest.fixture(scope="module")
def market() -> Market:
    return simulate(_listings(), _config())


def _fingerprint(events: list[Event]) -> list[tuple[str, str, int, float, str]]:
    return [(e.kind, e.user_id, e.listing_id, round(e.ts, 3), e.event_id) for e in events]


def test_the_same_seed_gives_the_same_market_and_another_seed_another(market: Market) -> None:
    again = simulate(_listings(), _config())
    other = simulate(_listings(), _config(seed=4))
    assert _fingerprint(again.events) == _fingerprint(market.events)
    assert [(s.user_id, s.query, s.shown) for s in again.sessions] == [
        (s.user_id, s.query, s.shown) for s in market.sessions]
    assert _fingerprint(other.events) != _fingerprint(market.events)


def test_events_are_valid_ordered_inside_the_period_and_unique(market: Market) -> None:
    events = market.events
    assert events and all(event.validated() for event in events)
    assert {event.kind for event in events} <= set(KINDS)
    assert len({event.event_id for event in events}) == len(events)
    assert all(a.ts <= b.ts for a, b in zip(events, events[1:], strict=False))
    assert events[0].ts >= START and events[-1].ts < START + 60.0 * DAY
    kinds = Counter(event.kind for event in events)
    assert kinds["shown"] > kinds["opened"] > 0 and kinds["contact"] > 0
    assert all(1 <= event.rating <= 5 for event in events if event.kind == "rating")


def test_events_name_the_right_parties(market: Market) -> None:
    users = {user.user_id for user in market.users}
    for event in market.events:
        if event.kind in ("shown", "opened", "more_like_this", "not_relevant", "contact", "deal", "dispute"):
            assert event.user_id in users
            assert event.listing_id in market.listings
        if event.kind in ("contact", "deal", "dispute"):
            assert event.subject_id == market.listings[event.listing_id].owner_id
        if event.kind in ("accepted", "declined", "response"):
            assert event.user_id == market.listings[event.listing_id].owner_id
            assert event.subject_id in users and event.response_seconds > 0


def test_shown_cards_are_the_bm25_top_ten_with_their_ranks(market: Market) -> None:
    session = market.sessions[0]
    assert list(session.shown) == market.retrieve(session.query, 10)
    shown = [e for e in market.events if e.kind == "shown" and e.user_id == session.user_id
             and session.ts <= e.ts < session.ts + 60]
    assert [(e.listing_id, e.rank) for e in shown] == [(i, r) for r, i in enumerate(session.shown, start=1)]


def test_top_ranks_are_opened_more_often_than_low_ranks() -> None:
    big = simulate(_listings(), replace(_config(), users=120, sessions_per_user=8.0))
    opened = Counter(e.rank for e in big.events if e.kind == "opened")
    assert opened[1] + opened[2] > 2 * (opened[9] + opened[10])


def test_expected_gain_combines_the_funnel(market: Market) -> None:
    session = market.sessions[0]
    chances = market.chances(session, list(session.shown))
    for value in chances:
        for probability in (value.open, value.more, value.not_relevant, value.contact, value.answer,
                            value.accept, value.deal):
            assert 0.0 <= probability <= 1.0
        full = value.open * (1 - value.contact) * 1 + value.open * value.contact * (
            2 + value.answer * value.accept * value.deal)
        assert value.expected_gain == pytest.approx(full)
        assert 0.0 <= value.expected_gain <= 3.0


def test_without_tastes_every_user_values_a_candidate_alike(market: Market) -> None:
    flat = Market(_listings(), replace(_config(), behaviour=Behaviour(taste_weight=0.0)))
    session = market.sessions[0]
    other = replace(session, user_id=next(u.user_id for u in flat.users if u.user_id != session.user_id))
    assert flat.expected_gains(session, session.shown) == flat.expected_gains(other, session.shown)
    assert market.expected_gains(session, session.shown) != market.expected_gains(other, session.shown)


def test_text_relevance_is_one_for_the_need_itself(market: Market) -> None:
    need = market.sessions[0].need_id
    values = market.text_relevance(need, sorted(market.listings))
    assert values.max() == pytest.approx(1.0)
    assert values[sorted(market.listings).index(need)] == pytest.approx(1.0)
    assert values.min() >= 0.0


def test_queries_are_a_few_words_of_the_title() -> None:
    rng = np.random.default_rng(0)
    title = "Sulfide solid electrolyte for lithium batteries"
    for _ in range(20):
        words = title_query(title, rng).split()
        assert 2 <= len(words) <= 4 and set(words) <= set(title.split())
    fragments = title_query("锂电池正极材料的制备方法", rng).split()
    assert fragments and all(fragment in "锂电池正极材料的制备方法" for fragment in fragments)


def test_the_time_split_keeps_only_earlier_events_and_later_events_change_nothing(market: Market) -> None:
    cut = START + 30.0 * DAY
    before = time_split(market.events, cut)
    assert before and all(event.ts < cut for event in before)
    assert len(before) < len(market.events)
    owner = market.listings[1].owner_id
    late = [Event("dispute", market.users[0].user_id, listing_id=1, subject_id=owner, ts=cut + k)
            for k in range(5)] + [Event("deal", market.users[0].user_id, listing_id=1, subject_id=owner, ts=cut)]
    assert time_split(market.events + late, cut) == before
    assert compute_credits(time_split(market.events + late, cut), now=cut) == compute_credits(before, now=cut)
    later = sessions_between(market.sessions, cut, math.inf)
    earlier = sessions_between(market.sessions, START, cut)
    assert len(later) + len(earlier) == len(market.sessions)
    assert all(s.ts >= cut for s in later) and all(s.ts < cut for s in earlier)


def test_ndcg_on_a_hand_computed_case() -> None:
    assert ndcg_of_gains([3.0, 2.0, 0.0], [0.0, 2.0, 3.0]) == pytest.approx(1.0)
    assert ndcg_of_gains([0.0, 3.0], [3.0, 0.0]) == pytest.approx((3.0 / math.log2(3)) / 3.0)
    expected = (1.0 + 2.0 / math.log2(3)) / (3.0 + 2.0 / math.log2(3))
    assert ndcg_of_gains([1.0, 2.0], [1.0, 2.0, 3.0], k=2) == pytest.approx(expected)
    assert ndcg_of_gains([0.0, 0.0], [0.0, 0.0]) == 0.0
    assert ndcg_of_gains([1.0, 3.0], [3.0, 1.0], k=1) == pytest.approx(1.0 / 3.0)


def test_retrieval_score_is_the_lexical_leg_rrf_normalised() -> None:
    assert retrieval_score(1) == pytest.approx(1.0)
    assert retrieval_score(2) == pytest.approx(6.0 / 7.0)
    assert retrieval_score(10) < retrieval_score(9) < retrieval_score(1)
