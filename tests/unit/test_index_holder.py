"""Listings another server stored become searchable here: the holder folds in what was
published since it last looked."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from index.build import build_hybrid
from matchmaker.index_holder import IndexHolder
from matchmaker.listings import SQLiteListingStore, connect
from tests.unit.fakes import DEMO, HashingEncoder, make_listing


def test_listings_published_by_another_server_are_folded_in_once(tmp_path: Path) -> None:
    here = SQLiteListingStore(connect(tmp_path / "shared.db"))
    here.add_many(DEMO)
    listings = list(here.iter_all())
    holder = IndexHolder(build_hybrid([i.id for i in listings], [i.search_text for i in listings], HashingEncoder()))
    holder.published_up_to(here.last_publish_seq())
    assert holder.fold_in_published(here) == 0

    other_server = SQLiteListingStore(connect(tmp_path / "shared.db"))
    posted = other_server.add(make_listing("chat:1", "achievement", "Seawater desalination membrane",
                                             "A membrane with graphene oxide layers for seawater desalination"))
    mine = here.add(make_listing("chat:2", "achievement", "Magnetic bearing",
                                   "A magnetic bearing for high speed flywheels"))
    holder.add([mine.id], [mine.search_text])

    assert holder.fold_in_published(here) == 1, "only the listing this server did not add itself"
    ids = np.asarray(holder.current().ids()).tolist()
    assert ids.count(posted.id) == 1 and ids.count(mine.id) == 1
    assert holder.fold_in_published(here) == 0
    assert posted.id in [hit.id for hit in holder.current().search("graphene oxide desalination membrane", k=3)]
