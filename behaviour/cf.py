"""Collaborative filtering: implicit feedback from events, and the factor model served.

Implicit feedback. Each event kind has a weight (what it says about the user's interest
in the listing); weights decay with age (half-life ``HALF_LIFE_DAYS``) and are summed per
(user, listing). Negative sums ("not relevant", declined) are kept: Spark's implicit ALS
reads them as preference 0 with confidence ``alpha * |r|``, i.e. a confident "no".

The model is ALS's user and listing factors. A known user's score for a listing is the
dot product of their factors, clipped to [0, 1] (implicit ALS predicts a 0/1 preference).
Cold start, by design:

- a user without factors (new since the last training) gets a vector folded in from the
  factors of the listings they engaged with positively (their events so far); with no such
  event their CF score is absent and ranking uses retrieval and credit alone;
- a listing without factors (posted since the last training) gets the mean score of the
  other candidates, so it is neither pushed down nor up.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from behaviour.events import Event

EVENT_WEIGHTS: dict[str, float] = {
    "shown": 0.0,
    "opened": 1.0,
    "more_like_this": 2.0,
    "not_relevant": -2.0,
    "contact": 4.0,
    "accepted": 0.0,
    "declined": -1.0,
    "deal": 8.0,
    "closed": 0.5,
    "rating": 0.0,
    "response": 0.0,
    "dispute": -3.0,
    "verified": 0.0,
}
HALF_LIFE_DAYS = 90.0
FILES = ("users.json", "user_factors.npy", "item_ids.npy", "item_factors.npy", "engaged.json")
NEIGHBOURS = 20
CONFIG = "config.json"

Matrix = npt.NDArray[np.float32]


def event_weight(event: Event, now: float, half_life_days: float = HALF_LIFE_DAYS) -> float:
    """The decayed implicit-feedback weight of one event (0 for events that say nothing)."""
    base = EVENT_WEIGHTS.get(event.kind, 0.0)
    if event.kind == "rating" and event.rating:
        base = float(event.rating - 3)
    if base == 0.0 or not event.listing_id:
        return 0.0
    age_days = max(0.0, now - event.ts) / 86400.0
    return base * math.pow(0.5, age_days / half_life_days)


def interactions(events: Iterable[Event], now: float | None = None,
                 half_life_days: float = HALF_LIFE_DAYS) -> dict[tuple[str, int], float]:
    """Summed decayed weights per (user, listing); pairs summing to 0 are left out."""
    moment = time.time() if now is None else now
    totals: dict[tuple[str, int], float] = defaultdict(float)
    for event in events:
        weight = event_weight(event, moment, half_life_days)
        if weight:
            totals[(event.user_id, event.listing_id)] += weight
    return {pair: value for pair, value in totals.items() if abs(value) > 1e-9}


@dataclass
class CFModel:
    """User and listing factors learned by ALS."""

    users: list[str]
    user_factors: Matrix
    item_ids: npt.NDArray[np.int64]
    item_factors: Matrix
    meta: dict[str, Any]
    engaged: dict[int, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._user_row = {user: row for row, user in enumerate(self.users)}
        self._item_row = {int(item): row for row, item in enumerate(self.item_ids.tolist())}

    @property
    def rank(self) -> int:
        """Number of latent factors."""
        return int(self.item_factors.shape[1]) if self.item_factors.ndim == 2 else 0

    def knows_user(self, user_id: str) -> bool:
        """Whether the user was in the training data."""
        return user_id in self._user_row

    def user_vector(self, user_id: str, engaged: Sequence[int] = ()) -> Matrix | None:
        """The user's factors, or a fold-in from listings they engaged with, or ``None``."""
        row = self._user_row.get(user_id)
        if row is not None:
            return np.asarray(self.user_factors[row], dtype=np.float32)
        rows = [self._item_row[i] for i in engaged if i in self._item_row]
        if not rows:
            return None
        return np.asarray(self.item_factors[rows].mean(axis=0), dtype=np.float32)

    def scores(self, user_id: str, listing_ids: Sequence[int], engaged: Sequence[int] = ()) -> dict[int, float]:
        """CF scores in [0, 1] for candidates (cold listings get the candidates' mean); empty if no user vector."""
        vector = self.user_vector(user_id, engaged)
        if vector is None or not listing_ids:
            return {}
        known = {i: float(np.clip(self.item_factors[self._item_row[i]] @ vector, 0.0, 1.0))
                 for i in listing_ids if i in self._item_row}
        neutral = float(np.mean(list(known.values()))) if known else 0.0
        return {i: known.get(i, neutral) for i in listing_ids}

    def similar_engaged(self, user_id: str, listing_ids: Sequence[int], engaged: Sequence[int] = ()) -> dict[int, int]:
        """Per listing, how many of the user's nearest neighbours (by factors) engaged with it.

        Without a user vector, how many users engaged with it at all.
        """
        vector = self.user_vector(user_id, engaged)
        if vector is None or not len(self.users):
            return {i: len(self.engaged.get(i, [])) for i in listing_ids}
        norms = np.linalg.norm(self.user_factors, axis=1) * max(float(np.linalg.norm(vector)), 1e-9)
        similarity = (self.user_factors @ vector) / np.maximum(norms, 1e-9)
        order = np.argsort(-similarity)
        neighbours = {self.users[row] for row in order[:NEIGHBOURS + 1] if self.users[row] != user_id}
        return {i: len(neighbours.intersection(self.engaged.get(i, []))) for i in listing_ids}

    def save(self, directory: Path) -> None:
        """Write the factor files and a ``config.json`` with counts and checksums."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "users.json").write_text(json.dumps(self.users, ensure_ascii=False), encoding="utf-8")
        np.save(directory / "user_factors.npy", self.user_factors.astype(np.float32), allow_pickle=False)
        np.save(directory / "item_ids.npy", self.item_ids.astype(np.int64), allow_pickle=False)
        np.save(directory / "item_factors.npy", self.item_factors.astype(np.float32), allow_pickle=False)
        (directory / "engaged.json").write_text(json.dumps({str(k): v for k, v in self.engaged.items()},
                                                           ensure_ascii=False), encoding="utf-8")
        config = {"format_version": 1, "counts": {"users": len(self.users), "items": len(self.item_ids)},
                  "rank": self.rank, "checksums": {name: _sha256(directory / name) for name in FILES},
                  "meta": self.meta}
        (directory / CONFIG).write_text(json.dumps(config, indent=2, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> CFModel:
        """Read and verify a model written by :meth:`save` (``ValueError`` if anything is off)."""
        config = json.loads((directory / CONFIG).read_text(encoding="utf-8"))
        for name in FILES:
            if _sha256(directory / name) != config["checksums"].get(name):
                raise ValueError(f"{directory / name} does not match its checksum")
        model = cls(users=json.loads((directory / "users.json").read_text(encoding="utf-8")),
                    user_factors=np.load(directory / "user_factors.npy", allow_pickle=False),
                    item_ids=np.load(directory / "item_ids.npy", allow_pickle=False),
                    item_factors=np.load(directory / "item_factors.npy", allow_pickle=False),
                    meta=dict(config.get("meta", {})),
                    engaged={int(k): list(v) for k, v in
                             json.loads((directory / "engaged.json").read_text(encoding="utf-8")).items()})
        if len(model.users) != config["counts"]["users"] or len(model.item_ids) != config["counts"]["items"]:
            raise ValueError(f"{directory}: counts differ from {CONFIG}")
        if model.user_factors.shape[0] != len(model.users) or model.item_factors.shape[0] != len(model.item_ids):
            raise ValueError(f"{directory}: factor rows differ from the id lists")
        return model


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
