"""Platform statistics (matchmaker.stats) on both backends: exact figures, filters, weeks, an empty database, CSV rows."""

from __future__ import annotations

import csv
import io
import json

import pytest

from bot.stats_api import StatsApi
from matchmaker.listings import SQLiteListingStore
from matchmaker.stats import LABELS, SearchLog, StatsFilter, platform_stats, stats_csv
from storage.sql import Connection, Error
from tests.contract.conftest import Backend
from tests.unit.test_stats import DAY, NOW, T0, Spec, make_listing, populate, utc


@pytest.fixture()
def db(backend: Backend) -> Connection:
    return populate(backend.connect())


def zeros() -> dict[str, int]:
    return {"searches": 0, "contacts": 0, "accepted": 0, "deals": 0}


def test_every_figure_of_the_whole_platform(db: Connection) -> None:
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


def test_a_field_filter_applies_to_listings_searches_and_threads(db: Connection) -> None:
    stats = platform_stats(db, StatsFilter(field="new_materials"), NOW, "en")
    assert stats["listings_by_field"] == {"new_materials": {"demand": 0, "achievement": 1, "funding": 1}}
    assert stats["listings_by_region"] == {"jiangsu": {"demand": 0, "achievement": 0, "funding": 1},
                                           "zhejiang": {"demand": 0, "achievement": 1, "funding": 0}}
    assert (stats["searches"], stats["contacts"], stats["accepted"], stats["deals"]) == (2, 2, 0, 0)
    assert stats["time_to_first_answer"] == {"count": 1, "median_hours": 5.0, "p90_hours": 5.0}
    assert stats["funnel_by_week"] == {"2026-W49": {"searches": 1, "contacts": 1, "accepted": 0, "deals": 0},
                                       "2026-W50": {"searches": 1, "contacts": 1, "accepted": 0, "deals": 0}}


def test_a_region_filter(db: Connection) -> None:
    stats = platform_stats(db, StatsFilter(region="zhejiang"), NOW, "en")
    assert stats["listings_by_field"] == {"new_materials": {"demand": 0, "achievement": 1, "funding": 0}}
    assert (stats["searches"], stats["contacts"], stats["accepted"], stats["deals"]) == (2, 1, 0, 0)
    assert stats["time_to_first_answer"]["count"] == 1


def test_a_period_counts_rows_by_their_own_time(db: Connection) -> None:
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


def test_the_end_of_a_period_is_exclusive(db: Connection) -> None:
    stats = platform_stats(db, StatsFilter(since=T0 - DAY, until=T0), NOW, "en")
    assert (stats["searches"], stats["contacts"]) == (1, 0)
    assert stats["listings_by_field"] == {"energy_environment": {"demand": 1, "achievement": 0, "funding": 0}}
    assert stats["funnel_by_week"] == {"2026-W48": {"searches": 1, "contacts": 0, "accepted": 0, "deals": 0}}


def test_nothing_matches_a_field_nobody_uses(db: Connection) -> None:
    stats = platform_stats(db, StatsFilter(field="chemicals"), NOW, "en")
    assert (stats["listings_by_field"], stats["listings_by_region"], stats["funnel_by_week"]) == ({}, {}, {})
    assert (stats["searches"], stats["contacts"], stats["accepted"], stats["deals"]) == (0, 0, 0, 0)
    assert stats["time_to_first_answer"] == {"count": 0, "median_hours": None, "p90_hours": None}


def test_an_empty_database_counts_nothing(backend: Backend) -> None:
    connection = backend.connect()
    stats = platform_stats(connection, StatsFilter(), NOW, "zh")
    assert (stats["listings_by_field"], stats["listings_by_region"], stats["funnel_by_week"]) == ({}, {}, {})
    assert (stats["searches"], stats["contacts"], stats["accepted"], stats["deals"]) == (0, 0, 0, 0)
    assert stats["time_to_first_answer"] == {"count": 0, "median_hours": None, "p90_hours": None}
    assert stats["codes"] == {"fields": [], "regions": []}
    assert backend.tables() == set()


def test_listings_without_a_status_column_all_count(backend: Backend) -> None:
    backend.script("CREATE TABLE listings (id INTEGER PRIMARY KEY, kind TEXT, field TEXT, region TEXT,"
                   " created_at REAL);"
                   "INSERT INTO listings VALUES (1, 'demand', 'chemicals', 'anhui', 1.0),"
                   " (2, 'demand', 'chemicals', 'anhui', 2.0), (3, 'achievement', 'chemicals', 'hebei', 3.0);")
    stats = platform_stats(backend.connect(), StatsFilter(), NOW, "en")
    assert stats["listings_by_field"] == {"chemicals": {"demand": 2, "achievement": 1, "funding": 0}}
    assert stats["listings_by_region"] == {"anhui": {"demand": 2, "achievement": 0, "funding": 0},
                                           "hebei": {"demand": 0, "achievement": 1, "funding": 0}}
    assert stats["contacts"] == 0


def test_the_search_log_is_migrated_once_and_keeps_rows(backend: Backend) -> None:
    connection = backend.connect()
    SearchLog(connection).record(T0, "user-9", "demand", "chemicals", "anhui", "zh", 0.42, 7)
    SearchLog(connection)
    rows = connection.execute("SELECT at, requester_id, target_kind, field, region, language, top_score, results"
                              " FROM search_log").fetchall()
    assert [tuple(r) for r in rows] == [(T0, "user-9", "demand", "chemicals", "anhui", "zh", 0.42, 7)]
    versions = connection.execute("SELECT version FROM schema_migrations WHERE name = 'search_log'").fetchall()
    assert [r[0] for r in versions] == [1]


def test_labels_exist_in_both_languages_and_other_languages_are_refused(db: Connection) -> None:
    assert set(LABELS["zh"]) == set(LABELS["en"])
    assert LABELS["zh"]["deals"] == "达成合作" and LABELS["en"]["deals"] == "Deals"
    with pytest.raises(ValueError, match="language"):
        platform_stats(db, StatsFilter(), NOW, "fr")


def test_a_search_belongs_to_the_utc_day_it_was_made_on(backend: Backend) -> None:
    connection = backend.connect()
    log = SearchLog(connection)
    sunday_night = utc(2026, 12, 7) - 0.4  # 23:59:59.6 on the last day of 2026-W49
    for at in (sunday_night, utc(2026, 12, 7), utc(2026, 12, 7) + DAY - 0.5):
        log.record(at, "u", "demand", "", "", "zh", 0.0, 0)
    weeks = platform_stats(connection, StatsFilter(), NOW, "zh")["funnel_by_week"]
    assert {week: counts["searches"] for week, counts in weeks.items()} == {"2026-W49": 1, "2026-W50": 2}


def test_weeks_across_a_year_end_have_no_gap(backend: Backend) -> None:
    connection = backend.connect()
    log = SearchLog(connection)
    log.record(utc(2026, 12, 24), "u", "demand", "", "", "zh", 0.0, 0)
    log.record(utc(2027, 1, 5), "u", "demand", "", "", "zh", 0.0, 0)
    weeks = platform_stats(connection, StatsFilter(), NOW, "zh")["funnel_by_week"]
    assert list(weeks) == ["2026-W52", "2026-W53", "2027-W01"]
    assert [w["searches"] for w in weeks.values()] == [1, 0, 1]


def test_the_csv_holds_every_figure(db: Connection) -> None:
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


def test_the_csv_of_an_empty_database_and_formula_like_codes(backend: Backend) -> None:
    connection = backend.connect()
    SQLiteListingStore(connection).add(make_listing(1, Spec("demand", "=HYPERLINK(1)", "@x", T0)))
    rows = list(csv.reader(io.StringIO(stats_csv(platform_stats(connection, StatsFilter(), NOW, "en")))))
    assert ["listings_by_field", "'=HYPERLINK(1)", "demand", "1"] in rows
    assert ["listings_by_region", "'@x", "demand", "1"] in rows
    assert ["time_to_first_answer", "", "median_hours", ""] in rows
    assert not any(r[0] == "funnel_by_week" for r in rows)


def test_the_statistics_api_reads_the_configured_database_read_only(backend: Backend,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    populate(backend.connect())
    monkeypatch.delenv("MATCHMAKER_DATABASE_URL", raising=False)
    monkeypatch.setenv("MATCHMAKER_PROFILE", "embedded")
    for name, value in backend.env().items():
        monkeypatch.setenv(name, value)
    api = StatsApi(None, "operator-token", clock=lambda: NOW)
    reply = api.handle("/stats", "since=2026-11-30&until=2026-12-06&lang=en", {"Authorization": "Bearer operator-token"})
    assert reply.status == 200
    data = json.loads(reply.body)
    assert (data["searches"], data["contacts"], data["accepted"], data["deals"]) == (2, 4, 2, 1)
    assert data["time_to_first_answer"] == {"count": 3, "median_hours": 2.0, "p90_hours": 8.4}
    with pytest.raises(Error):
        api._connection().execute("DELETE FROM search_log")
    assert backend.connect().execute("SELECT COUNT(*) FROM search_log").fetchone()[0] == 5
