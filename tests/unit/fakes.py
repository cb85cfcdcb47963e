"""Small deterministic stand-ins used by unit tests of the code around real systems."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Sequence

import numpy as np

from behaviour.store import SQLiteEventStore
from index.build import build_hybrid
from index.text import lexical_tokens
from matchmaker.brokerage import Brokerage
from matchmaker.desk import SQLiteDesk
from matchmaker.index_holder import IndexHolder
from matchmaker.listings import Listing, SQLiteListingStore, connect
from matchmaker.matching import MatchService
from matchmaker.negotiation import load_nda
from matchmaker.negotiation_store import SQLiteNegotiationStore
from matchmaker.reranking import CFHolder, Reranker
from matchmaker.runtime import Services, alert_engine
from matchmaker.settings import load_settings
from matchmaker.stats import SearchLog
from nlu.lexicon import Lexicon

ROOT = Path(__file__).resolve().parents[2]


class HashingEncoder:
    """Deterministic stand-in for a sentence encoder: hashed bag of tokens in 64 dims.

    Every batch it encodes is recorded in ``calls``.
    """

    dimension = 64

    def __init__(self, name: str = "hashing-64") -> None:
        self.name = name
        self.calls: list[list[str]] = []

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        self.calls.append(list(texts))
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in lexical_tokens(text):
                vectors[row, zlib.crc32(token.encode()) % self.dimension] += 1.0
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1.0, norms)


def make_listing(source: str, kind: str, title: str, text: str, language: str = "en",
                 region: str = "jiangsu", field: str = "new_energy", maturity: int = 5,
                 owner: str = "org:lab") -> Listing:
    return Listing(id=0, kind=kind, title=title, text=text, owner_id=owner, owner_name=f"{owner} (demo)",
                   owner_type="institute", listing_type="paper", region=region, field=field,
                   maturity=maturity, language=language, source=source)


DEMO = [
    make_listing("a1", "achievement", "Sulfide solid electrolyte for lithium batteries",
                 "A sulfide solid electrolyte raises the safety of lithium batteries. It was tested in pouch cells.",
                 region="jiangsu", maturity=6, owner="org:battery-lab"),
    make_listing("a2", "achievement", "Low-temperature lithium battery cathode",
                 "A cathode material keeps lithium battery capacity at minus 30 degrees.",
                 region="zhejiang", maturity=8, owner="org:cathode-lab"),
    make_listing("a3", "achievement", "Kiln waste heat recovery",
                 "Waste heat from ceramic kilns is recovered to cut energy consumption by 20 percent.",
                 region="jiangsu", field="energy_environment", maturity=7, owner="org:heat-lab"),
    make_listing("a4", "achievement", "锂电池正极材料", "一种锂电池正极材料，低温容量保持率高。已完成中试。",
                 language="zh", region="anhui", maturity=6, owner="org:hefei-lab"),
    make_listing("a5", "achievement", "陶瓷窑炉余热回收", "陶瓷窑炉余热回收技术，能耗降低20%。",
                 language="zh", region="jiangsu", field="energy_environment", maturity=7, owner="org:yixing-lab"),
    make_listing("d1", "demand", "Battery safety at low temperature",
                 "Our company needs lithium batteries that stay safe and keep capacity in winter.",
                 owner="org:ev-maker", maturity=6),
]


def make_services(tmp_path: Path, env: dict[str, str] | None = None) -> Services:
    """Services over a tiny store and index, built with the hashing encoder (``env``: more settings)."""
    env = {"MATCHMAKER_VAR_DIR": str(tmp_path), **(env or {})}
    settings = load_settings(env)
    connection = connect(settings.database_path)
    listings = SQLiteListingStore(connection)
    listings.add_many(DEMO)
    stored = list(listings.iter_all())
    index = build_hybrid([item.id for item in stored], [item.search_text for item in stored], HashingEncoder())
    holder = IndexHolder(index)
    events = SQLiteEventStore(settings.events_path)
    cf = CFHolder(None, tmp_path / "cf-cache")
    reranker = Reranker(settings.rank_weights, events, cf)
    threads = SQLiteNegotiationStore(connect(settings.database_path), events=events, listings=listings)
    matcher = MatchService(listings, holder, reranker)
    desk = SQLiteDesk(connect(settings.database_path), threads.accounts, threads.notify)
    return Services(settings=settings, lexicon=Lexicon.load(ROOT / "data" / "lexicon.yml"), listings=listings,
                    threads=threads, indexes=holder, matcher=matcher, events=events, cf=cf,
                    nda=load_nda(ROOT / "data" / "nda.yml"), brokerage=Brokerage(desk, threads, listings, matcher),
                    search_log=SearchLog(connect(settings.database_path)),
                    alerts=alert_engine(settings, listings, threads, HashingEncoder()))


class Clock:
    """A clock the test moves by hand (``clock.now = ...``)."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now
