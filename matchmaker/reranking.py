"""Re-ranking retrieved matches with collaborative filtering and the owners' credit.

``blend = (w_r x retrieval + w_cf x cf + w_c x credit / 100) / (w_r + w_cf + w_c)`` with the
weights of ``MATCHMAKER_RANK_WEIGHTS`` (default 0.6, 0.3, 0.1), and the served score is
``final = retrieval + clip(blend - retrieval + preference bonus, -max_shift, +max_shift)``
(``MATCHMAKER_RERANK_MAX_SHIFT``, default 0.15). The clip is the bound on re-ranking: no
signal moves a listing by more than ``max_shift``, so a listing whose retrieval score leads
another's by more than ``2 x max_shift`` always stays ahead of it, and one that leads the
sixth candidate by that much is always on the first page of five. When the user has no CF
vector (a new user with no positive event yet) the CF term and its weight drop out, so the
user still gets a ranking by retrieval and credit. An owner without a computed credit
counts as the neutral 50. If the event store is unreachable the signals it provides are
left out for that search; the search itself never fails because of them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from behaviour.cf import CFModel
from behaviour.credit import NEUTRAL_SCORE, main_component
from behaviour.store import Credit, EventStore
from matchmaker.versions import VersionPoller
from storage.files import Location

logger = logging.getLogger(__name__)

POSITIVE = ("opened", "more_like_this", "contact", "deal")
DEFAULT_MAX_SHIFT = 0.15


def bounded_shift(shift: float, max_shift: float) -> float:
    """``shift`` clipped to ``[-max_shift, +max_shift]``."""
    return max(-max_shift, min(max_shift, shift))


@dataclass(frozen=True)
class Signals:
    """What re-ranking knows about one candidate, for the score and the explanation."""

    cf: float | None = None
    similar_engaged: int = 0
    credit: float = NEUTRAL_SCORE
    credit_known: bool = False
    credit_main: str = ""


class CFHolder:
    """The served CF model (or none yet), swapped when a newer version is published."""

    def __init__(self, root: Location | None, cache_dir: Path) -> None:
        """Serve versions published under ``root`` (``None``: CF disabled)."""
        self._model: CFModel | None = None
        self._version: str | None = None
        self._lock = threading.Lock()
        self._poller = None if root is None else VersionPoller(
            "CF", root, cache_dir, CFModel.load, self._serve, rejects=(OSError, ValueError, KeyError))

    @property
    def model(self) -> CFModel | None:
        """The model served now."""
        return self._model

    @property
    def version(self) -> str | None:
        """The version served now."""
        return self._version

    def set_model(self, model: CFModel | None, version: str | None = None) -> None:
        """Serve ``model`` (used by the loader and by evaluations)."""
        with self._lock:
            self._model, self._version = model, version

    def check_once(self) -> str | None:
        """Load a newly published version if there is one; return its name if swapped in."""
        return None if self._poller is None else self._poller.check_once(self._version)

    def _serve(self, model: CFModel, name: str) -> None:
        self.set_model(model, name)
        logger.info("now serving CF version %s (%d users, %d listings)", name, len(model.users), len(model.item_ids))


class Reranker:
    """Blends retrieval, CF and credit scores and gathers the evidence for each card."""

    def __init__(self, weights: tuple[float, float, float], events: EventStore, cf: CFHolder,
                 max_shift: float = DEFAULT_MAX_SHIFT) -> None:
        """Use ``weights`` (retrieval, CF, credit); no candidate moves by more than ``max_shift``."""
        self.weights = weights
        self.max_shift = max_shift
        self._events = events
        self._cf = cf

    def signals(self, user_id: str, candidates: Sequence[tuple[int, str]]) -> dict[int, Signals]:
        """Signals for ``(listing id, owner id)`` candidates."""
        listing_ids = [listing_id for listing_id, _ in candidates]
        credits = self._credits({owner for _, owner in candidates})
        model = self._cf.model
        cf_scores: dict[int, float] = {}
        similar: dict[int, int] = {}
        if model is not None:
            engaged = self._engaged(user_id) if not model.knows_user(user_id) else []
            cf_scores = model.scores(user_id, listing_ids, engaged)
            similar = model.similar_engaged(user_id, listing_ids, engaged)
        result = {}
        for listing_id, owner in candidates:
            credit = credits.get(owner)
            result[listing_id] = Signals(
                cf=cf_scores.get(listing_id), similar_engaged=similar.get(listing_id, 0),
                credit=credit.score if credit else NEUTRAL_SCORE, credit_known=credit is not None,
                credit_main=main_component(credit) if credit else "")
        return result

    def blend(self, retrieval: float, signals: Signals) -> float:
        """The final score in [0, 1]."""
        w_r, w_cf, w_c = self.weights
        if signals.cf is None:
            w_cf = 0.0
        total = w_r + w_cf + w_c
        if total <= 0:
            return retrieval
        return (w_r * retrieval + w_cf * (signals.cf or 0.0) + w_c * signals.credit / 100.0) / total

    def final(self, retrieval: float, signals: Signals | None, bonus: float = 0.0) -> float:
        """The served score: retrieval moved by the signals and ``bonus``, by at most ``max_shift``."""
        shift = bonus + (self.blend(retrieval, signals) - retrieval if signals is not None else 0.0)
        return retrieval + bounded_shift(shift, self.max_shift)

    def _credits(self, owners: set[str]) -> dict[str, Credit]:
        try:
            return self._events.credits(owners)
        except (ConnectionError, OSError) as error:
            logger.warning("credit scores unavailable for this search: %s", error)
            return {}

    def _engaged(self, user_id: str) -> list[int]:
        try:
            return sorted({e.listing_id for e in self._events.for_user(user_id)
                           if e.kind in POSITIVE and e.listing_id})
        except (ConnectionError, OSError) as error:
            logger.warning("events unavailable for this search: %s", error)
            return []
