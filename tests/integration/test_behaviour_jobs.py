"""The CF and credit Spark jobs read events from the real HBase and change the ranking."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from behaviour.events import Event
from behaviour.hbase_store import HBaseEventStore
from jobs.credit import compute_and_store
from jobs.train_cf import publish_model, train
from matchmaker.matching import MatchService, SearchRequest
from matchmaker.reranking import CFHolder, Reranker
from matchmaker.runtime import Services
from matchmaker.settings import load_settings
from storage.files import resolve
from tests.unit.fakes import make_services

pytestmark = [pytest.mark.integration, pytest.mark.spark]

QUERY = SearchRequest(query="lithium battery", target_kind="achievement", language="en", requester_id="ent:0")


@pytest.fixture()
def events_table(hbase: tuple[str, int]) -> Iterator[HBaseEventStore]:
    store = HBaseEventStore(*hbase, table_prefix=f"test_{uuid.uuid4().hex[:8]}_")
    store.ensure_table()
    try:
        yield store
    finally:
        store.drop()


def ids_by_title(services: Services) -> dict[str, int]:
    return {item.title: item.id for item in services.listings.iter_all()}


def test_jobs_learn_from_hbase_events_and_rerank_matches(events_table: HBaseEventStore, tmp_path: Path) -> None:
    services = make_services(tmp_path)
    kiln = ids_by_title(services)["Kiln waste heat recovery"]
    before = services.matcher.search(QUERY)
    top, second = before[0].listing, before[1].listing
    events = []
    for n in range(8):
        user = f"ent:{n}"
        events += [Event("contact", user, listing_id=second.id, subject_id=second.owner_id, ts=1000.0 + n),
                   Event("deal", user, listing_id=second.id, subject_id=second.owner_id, ts=2000.0 + n),
                   Event("rating", user, subject_id=second.owner_id, rating=5, ts=2100.0 + n),
                   Event("not_relevant", user, listing_id=top.id, ts=900.0 + n)]
        if n:
            events.append(Event("opened", user, listing_id=kiln, ts=800.0 + n))
    events.append(Event("verified", second.owner_id, ts=10.0))
    events_table.append(events)
    settings = load_settings({"MATCHMAKER_VAR_DIR": str(tmp_path), "MATCHMAKER_EVENT_STORE": "hbase",
                              "MATCHMAKER_HBASE_TABLE_PREFIX": events_table.table_name[:-len("events")]})

    model, report = train(settings, rank=4, iterations=8, now=3000.0)
    summary = compute_and_store(settings, now=3000.0)

    assert report["users"] == 8 and report["listings"] == 3
    assert summary["participants"] >= 2
    credit = events_table.credits([second.owner_id])[second.owner_id]
    assert credit.score > 60 and credit.components["verification"] == 1.0
    version = publish_model(model, settings.cf_uri)
    holder = CFHolder(resolve(settings.cf_uri), tmp_path / "cf-cache")
    assert holder.check_once() == version
    matcher = MatchService(services.listings, services.indexes, Reranker((0.6, 0.3, 0.1), events_table, holder))
    matches = matcher.search(QUERY)
    assert matches[0].listing.id == second.id
    signals = matches[0].signals
    assert signals is not None and signals.similar_engaged >= 5 and signals.credit_known and signals.cf is not None
