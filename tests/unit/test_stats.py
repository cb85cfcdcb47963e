"""Platform statistics (matchmaker.stats): exact figures, filters, weeks, an empty database, CSV rows."""

from __future__ import annotations

import csv
import io
import sqlite3
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from matchmaker.listings import Listing, SQLiteListingStore, connect
from matchmaker.negotiation import Terms
from matchmaker.negotiation_store import SQLiteNegotiationStore
from matchmaker.stats import LABELS, SearchLog, StatsFilter, platform_stats, stats_csv, week_label

HOUR = 3600.0
DAY = 86400.0
# Monday 2026-11-30 09:00 UTC, in ISO week 2026-W49.
T0 = datetime(2026, 11, 30, 9, tzinfo=timezone.utc).timestamp()
NOW = T0 + 30 * DAY
NDA = "platform-nda-2025.1"
LICENCE = Terms("licence", 300_000, 180, ("pilot",))


class Clock:
    """A clock the test sets by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class Spec:
    """One listing of the test world."""

    kind: str
    field: str
    region: str
    created_at: float
    status: str = "published"
    owner_id: str = "org:lab"


SPECS = (
    Spec("demand", "energy_environment", "jiangsu", T0 - DAY, owner_id="org:kiln-works"),  # 1, W48
    Spec("achievement", "energy_environment", "jiangsu", T0, owner_id="org:heat-lab"),  # 2, W49
    Spec("achievement", "new_materials", "zhejiang", T0 + 7 * DAY, owner_id="org:coat-lab"),  # 3, W50
    Spec("funding", "new_materials", "jiangsu", T0, owner_id="org:fund"),  # 4, W49
    Spec("achievement", "new_materials", "zhejiang", T0, status="pending"),  # 5: not counted
    Spec("demand", "biomedicine", "beijing", T0, status="rejected"),  # 6: not counted
)
SEARCHES = (
    (T0 - DAY, "energy_environment", "jiangsu"),  # W48
    (T0 + HOUR, "energy_environment", "jiangsu"),  # W49
    (T0 + 3 * HOUR, "new_materials", "zhejiang"),  # W49
    (T0 + 7 * DAY, "new_materials", "zhejiang"),  # W50
    (T0 + 21 * DAY, "", ""),  # W52
)


def make_listing(number: int, spec: Spec) -> Listing:
    """The listing of ``spec``, a funding offer with its amounts and stage."""
    listing = Listing(id=0, kind=spec.kind, title=f"Listing {number}", text=f"Text of listing {number}.",
                      owner_id=spec.owner_id, owner_name=f"Owner {number}", owner_type="institute",
                      listing_type="patent", region=spec.region, field=spec.field, maturity=5, language="en",
                      source=f"test:{number}", created_at=spec.created_at, status=spec.status)
    if spec.kind == "funding":
        return replace(listing, amount_min=100_000, amount_max=900_000, stage="seed")
    return listing


def build_world(path: Path) -> sqlite3.Connection:
    """A database with six listings, five searches and five threads at exact times.

    Threads (owner's first answer after): A on listing 2, opened T0, accepted after 2 h, NDA,
    deal; B on listing 3, opened T0+7d+1h, declined after 5 h; C on listing 1, opened T0,
    accepted after 10 h, then withdrawn; D on listing 2, opened T0+1d, the owner asks a
    question after 1 h (answered, not accepted); E on listing 4, opened T0+2d, withdrawn
    unanswered.
    """
    connection = connect(path)
    store = SQLiteListingStore(connection)
    ids = [store.add(make_listing(n, spec)).id for n, spec in enumerate(SPECS, start=1)]
    log = SearchLog(connection)
    for at, field, region in SEARCHES:
        log.record(at, "user-1", "achievement", field, region, "en", 0.8, 3)
    clock = Clock(T0)
    threads = SQLiteNegotiationStore(connection, clock=clock)

    def open_at(when: float, listing: int, requester: str) -> int:
        clock.now = when
        thread, _ = threads.open(ids[listing - 1], requester, SPECS[listing - 1].owner_id, "interested")
        return thread.id

    a = open_at(T0, 2, "user-a")
    clock.now = T0 + 2 * HOUR
    threads.accept(a, "org:heat-lab")
    threads.confirm_nda(a, "org:heat-lab", NDA)
    threads.confirm_nda(a, "user-a", NDA)
    threads.accept_proposal(threads.propose(a, "user-a", LICENCE).id, "org:heat-lab")
    b = open_at(T0 + 7 * DAY + HOUR, 3, "user-b")
    clock.now = T0 + 7 * DAY + 6 * HOUR
    threads.decline(b, "org:coat-lab")
    c = open_at(T0, 1, "user-c")
    clock.now = T0 + 10 * HOUR
    threads.accept(c, "org:kiln-works")
    clock.now = T0 + 11 * HOUR
    threads.withdraw(c, "user-c")
    d = open_at(T0 + DAY, 2, "user-d")
    clock.now = T0 + DAY + HOUR
    threads.post_message(d, "org:heat-lab", "Which kiln size?", "q-1")
    e = open_at(T0 + 2 * DAY, 4, "user-e")
    clock.now = T0 + 3 * DAY
    threads.withdraw(e, "user-e")
    return connection


@pytest.fixture()
def db(tmp_path: Path) -> sqlite3.Connection:
    return build_world(tmp_path / "m.db")


def zeros() -> dict[str, int]:
    return {"searches": 0, "contacts": 0, "accepted": 0, "deals": 0}


def utc(year: int, month: int, day: int) -> float:
    return datetime(year, month, day, tzinfo=timezone.utc).timestamp()


def test_every_figure_of_the_whole_platform(db: sqlite3.Connection) -> None:
    stats = platform_stats(db, StatsFilter(), NOW, "en")
    assert stats["listings_by_field"] == {
        "energy_environment": {"demand": 1, "achievement": 1, "funding": 0},
        "new_materials": {"demand": 0, "achievement": 1, "funding": 1},
    }
    assert stats["listings_by_region"] == {
        "jiangsu": {"demand": 1, "achievement": 1, "funding": 1},
        "zhejiang": {"demand": 0, "achievement": 1, "funding": 0},
    }
    assert (stats["searches"], stats["contacts"], stats["accepted"], stats["deals"]) == (5, 5, 2, 1)
    assert stats["time_to_first_answer"] == {"count": 4, "median_hours": 3.5, "p90_hours": 8.5}
    assert stats["funnel_by_week"] == {
        "2026-W48": {"searches": 1, "contacts": 0, "accepted": 0, "deals": 0},
        "2026-W49": {"searches": 2, "contacts": 4, "accepted": 2, "deals": 1},
        "2026-W50": {"searches": 1, "contacts": 1, "accepted": 0, "deals": 0},
        "2026-W51": zeros(),
        "2026-W52": {"searches": 1, "contacts": 0, "accepted": 0, "deals": 0},
    }
    assert stats["codes"] == {"fields": ["biomedicine", "energy_environment", "new_materials"],
                              "regions": ["beijing", "jiangsu", "zhejiang"]}
    assert stats["filter"] == {"since": None, "until": None, "field": None, "region": None}
    assert (stats["generated_at"], stats["language"], stats["kinds"]) == (NOW, "en", ["demand", "achievement", "funding"])
    assert stats["labels"] == LABELS["en"]


def test_a_field_filter_applies_to_listings_searches_and_threads(db: sqlite3.Connection) -> None:
    stats = platform_stats(db, StatsFilter(field="new_materials"), NOW, "en")
    assert stats["listings_by_field"] == {"new_materials": {"demand": 0, "achievement": 1, "funding": 1}}
    assert stats["listings_by_region"] == {"jiangsu": {"demand": 0, "achievement": 0, "funding": 1},
                                           "zhejiang": {"demand": 0, "achievement": 1, "funding": 0}}
    assert (stats["searches"], stats["contacts"], stats["accepted"], stats["deals"]) == (2, 2, 0, 0)
    assert stats["time_to_first_answer"] == {"count": 1, "median_hours": 5.0, "p90_hours": 5.0}
    assert stats["funnel_by_week"] == {"2026-W49": {"searches": 1, "contacts": 1, "accepted": 0, "deals": 0},
                                       "2026-W50": {"searches": 1, "contacts": 1, "accepted": 0, "deals": 0}}


def test_a_region_filter(db: sqlite3.Connection) -> None:
    stats = platform_stats(db, StatsFilter(region="zhejiang"), NOW, "en")
    assert stats["listings_by_field"] == {"new_materials": {"demand": 0, "achievement": 1, "funding": 0}}
    assert (stats["searches"], stats["contacts"], stats["accepted"], stats["deals"]) == (2, 1, 0, 0)
    assert stats["time_to_first_answer"]["count"] == 1


def test_a_period_counts_rows_by_their_own_time(db: sqlite3.Connection) -> None:
    week49 = StatsFilter(since=utc(2026, 11, 30), until=utc(2026, 12, 7))
    stats = platform_stats(db, week49, NOW, "zh")
    assert stats["listings_by_field"] == {"energy_environment": {"demand": 0, "achievement": 1, "funding": 0},
                                          "new_materials": {"demand": 0, "achievement": 0, "funding": 1}}
    assert (stats["searches"], stats["contacts"], stats["accepted"], stats["deals"]) == (2, 4, 2, 1)
    assert stats["time_to_first_answer"] == {"count": 3, "median_hours": 2.0, "p90_hours": 8.4}
    assert stats["funnel_by_week"] == {"2026-W49": {"searches": 2, "contacts": 4, "accepted": 2, "deals": 1}}
    assert stats["filter"] == {"since": "2026-11-30T00:00:00Z", "until": "2026-12-07T00:00:00Z",
                               "field": None, "region": None}
    assert stats["labels"]["listings_by_field"] == "按领域统计的发布信息"


def test_the_end_of_a_period_is_exclusive(db: sqlite3.Connection) -> None:
    stats = platform_stats(db, StatsFilter(since=T0 - DAY, until=T0), NOW, "en")
    assert (stats["searches"], stats["contacts"]) == (1, 0)
    assert stats["listings_by_field"] == {"energy_environment": {"demand": 1, "achievement": 0, "funding": 0}}
    assert stats["funnel_by_week"] == {"2026-W48": {"searches": 1, "contacts": 0, "accepted": 0, "deals": 0}}


def test_nothing_matches_a_field_nobody_uses(db: sqlite3.Connection) -> None:
    stats = platform_stats(db, StatsFilter(field="chemicals"), NOW, "en")
    assert (stats["listings_by_field"], stats["listings_by_region"], stats["funnel_by_week"]) == ({}, {}, {})
    assert (stats["searches"], stats["contacts"], stats["accepted"], stats["deals"]) == (0, 0, 0, 0)
    assert stats["time_to_first_answer"] == {"count": 0, "median_hours": None, "p90_hours": None}


def test_an_empty_database_counts_nothing(tmp_path: Path) -> None:
    connection = connect(tmp_path / "m.db")
    stats = platform_stats(connection, StatsFilter(), NOW, "zh")
    assert (stats["listings_by_field"], stats["listings_by_region"], stats["funnel_by_week"]) == ({}, {}, {})
    assert (stats["searches"], stats["contacts"], stats["accepted"], stats["deals"]) == (0, 0, 0, 0)
    assert stats["time_to_first_answer"] == {"count": 0, "median_hours": None, "p90_hours": None}
    assert stats["codes"] == {"fields": [], "regions": []}
    tables = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    assert tables == []


def test_listings_without_a_status_column_all_count(tmp_path: Path) -> None:
    connection = connect(tmp_path / "m.db")
    connection.executescript("CREATE TABLE listings (id INTEGER PRIMARY KEY, kind TEXT, field TEXT, region TEXT,"
                             " created_at REAL);"
                             "INSERT INTO listings VALUES (1, 'demand', 'chemicals', 'anhui', 1.0),"
                             " (2, 'demand', 'chemicals', 'anhui', 2.0), (3, 'achievement', 'chemicals', 'hebei', 3.0);")
    stats = platform_stats(connection, StatsFilter(), NOW, "en")
    assert stats["listings_by_field"] == {"chemicals": {"demand": 2, "achievement": 1, "funding": 0}}
    assert stats["listings_by_region"] == {"anhui": {"demand": 2, "achievement": 0, "funding": 0},
                                           "hebei": {"demand": 0, "achievement": 1, "funding": 0}}
    assert stats["contacts"] == 0


def test_the_search_log_is_migrated_once_and_keeps_rows(tmp_path: Path) -> None:
    connection = connect(tmp_path / "m.db")
    SearchLog(connection).record(T0, "user-9", "demand", "chemicals", "anhui", "zh", 0.42, 7)
    SearchLog(connection)
    rows = connection.execute("SELECT at, requester_id, target_kind, field, region, language, top_score, results"
                              " FROM search_log").fetchall()
    assert [tuple(r) for r in rows] == [(T0, "user-9", "demand", "chemicals", "anhui", "zh", 0.42, 7)]
    versions = connection.execute("SELECT version FROM schema_migrations WHERE name = 'search_log'").fetchall()
    assert [r[0] for r in versions] == [1]


def test_labels_exist_in_both_languages_and_other_languages_are_refused(db: sqlite3.Connection) -> None:
    assert set(LABELS["zh"]) == set(LABELS["en"])
    assert LABELS["zh"]["deals"] == "达成合作" and LABELS["en"]["deals"] == "Deals"
    with pytest.raises(ValueError, match="language"):
        platform_stats(db, StatsFilter(), NOW, "fr")


@pytest.mark.parametrize(("day", "label"), [((2026, 11, 30), "2026-W49"), ((2026, 11, 29), "2026-W48"),
                                            ((2027, 1, 1), "2026-W53"), ((2027, 1, 4), "2027-W01")])
def test_week_labels_are_iso_weeks(day: tuple[int, int, int], label: str) -> None:
    assert week_label(utc(*day) + 12 * HOUR) == label


def test_weeks_across_a_year_end_have_no_gap(tmp_path: Path) -> None:
    connection = connect(tmp_path / "m.db")
    log = SearchLog(connection)
    log.record(utc(2026, 12, 24), "u", "demand", "", "", "zh", 0.0, 0)
    log.record(utc(2027, 1, 5), "u", "demand", "", "", "zh", 0.0, 0)
    weeks = platform_stats(connection, StatsFilter(), NOW, "zh")["funnel_by_week"]
    assert list(weeks) == ["2026-W52", "2026-W53", "2027-W01"]
    assert [w["searches"] for w in weeks.values()] == [1, 0, 1]


def test_the_csv_holds_every_figure(db: sqlite3.Connection) -> None:
    text = stats_csv(platform_stats(db, StatsFilter(field="new_materials"), NOW, "en"))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["section", "key", "metric", "value"]
    assert text.endswith("\r\n")
    assert rows[1:6] == [["filter", "", "since", ""], ["filter", "", "until", ""],
                         ["filter", "", "field", "new_materials"], ["filter", "", "region", ""],
                         ["filter", "", "generated_at", "2026-12-30T09:00:00Z"]]
    body = rows[6:]
    assert body[:3] == [["listings_by_field", "new_materials", "demand", "0"],
                        ["listings_by_field", "new_materials", "achievement", "1"],
                        ["listings_by_field", "new_materials", "funding", "1"]]
    assert ["listings_by_region", "zhejiang", "achievement", "1"] in body
    summary = [r for r in body if r[0] == "summary"]
    assert summary == [["summary", "", "searches", "2"], ["summary", "", "contacts", "2"],
                       ["summary", "", "accepted", "0"], ["summary", "", "deals", "0"]]
    assert [r for r in body if r[0] == "time_to_first_answer"] == [
        ["time_to_first_answer", "", "count", "1"], ["time_to_first_answer", "", "median_hours", "5.0"],
        ["time_to_first_answer", "", "p90_hours", "5.0"]]
    funnel = [r for r in body if r[0] == "funnel_by_week"]
    assert len(funnel) == 8
    assert funnel[:4] == [["funnel_by_week", "2026-W49", m, v] for m, v in
                          (("searches", "1"), ("contacts", "1"), ("accepted", "0"), ("deals", "0"))]
    assert len(body) == 3 + 6 + 4 + 3 + 8


def test_the_csv_of_an_empty_database_and_formula_like_codes(tmp_path: Path) -> None:
    connection = connect(tmp_path / "m.db")
    SQLiteListingStore(connection).add(make_listing(1, Spec("demand", "=HYPERLINK(1)", "@x", T0)))
    rows = list(csv.reader(io.StringIO(stats_csv(platform_stats(connection, StatsFilter(), NOW, "en")))))
    assert ["listings_by_field", "'=HYPERLINK(1)", "demand", "1"] in rows
    assert ["listings_by_region", "'@x", "demand", "1"] in rows
    assert ["time_to_first_answer", "", "median_hours", ""] in rows
    assert not any(r[0] == "funnel_by_week" for r in rows)
