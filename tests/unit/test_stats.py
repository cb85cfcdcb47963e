"""Platform statistics (matchmaker.stats): the test world and ISO weeks.

The figures read from a database (exact figures, filters, weeks, an empty database, CSV rows) are
tested on both backends in ``tests/contract/test_search_stats.py``, on :func:`populate`'s world.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import pytest

from matchmaker.listings import Listing, SQLiteListingStore, connect
from matchmaker.negotiation import Terms
from matchmaker.negotiation_store import SQLiteNegotiationStore
from matchmaker.stats import SearchLog, week_label
from storage.sql import Connection
from tests.unit.fakes import Clock

HOUR = 3600.0
DAY = 86400.0
# Monday 2026-11-30 09:00 UTC, in ISO week 2026-W49.
T0 = datetime(2026, 11, 30, 9, tzinfo=timezone.utc).timestamp()
NOW = T0 + 30 * DAY
NDA = "platform-nda-2025.1"
LICENCE = Terms("licence", 300_000, 180, ("pilot",))



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
    """:func:`populate` on a new SQLite file."""
    connection = connect(path)
    populate(connection)
    return connection


def populate(connection: Connection) -> Connection:
    """A database with six listings, five searches and five threads at exact times.

    Threads (owner's first answer after): A on listing 2, opened T0, accepted after 2 h, NDA,
    deal; B on listing 3, opened T0+7d+1h, declined after 5 h; C on listing 1, opened T0,
    accepted after 10 h, then withdrawn; D on listing 2, opened T0+1d, the owner asks a
    question after 1 h (answered, not accepted); E on listing 4, opened T0+2d, withdrawn
    unanswered.
    """
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


def utc(year: int, month: int, day: int) -> float:
    return datetime(year, month, day, tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize(("day", "label"), [((2026, 11, 30), "2026-W49"), ((2026, 11, 29), "2026-W48"),
                                            ((2027, 1, 1), "2026-W53"), ((2027, 1, 4), "2027-W01")])
def test_week_labels_are_iso_weeks(day: tuple[int, int, int], label: str) -> None:
    assert week_label(utc(*day) + 12 * HOUR) == label
