"""Credit scores from verifiable behaviour: a documented, explainable formula.

Every participant gets six components in [0, 1], each smoothed towards a neutral prior so
that a newcomer with no history sits in the middle instead of at an extreme:

=================  =====  ================================================================
component          weight  definition
=================  =====  ================================================================
performance        0.20    completed deals: ``1 - exp(-(deals + 1) / 3)``
cooperation        0.25    ratings received, Bayesian mean with 2 prior ratings of 3.5,
                           mapped from 1-5 to 0-1
responsiveness     0.20    share of contact requests answered (prior 1 of 1) times
                           ``exp(-median response hours / 72)`` (prior 24 h)
efficiency         0.15    deals per contact request received (prior 1 of 2), capped at 1
reliability        0.10    ``1 - (declined + abandoned + 3 x disputes) / (threads + 2)``
verification       0.10    1 when the organisation is verified, else 0
=================  =====  ================================================================

``score = 100 x sum(weight x component)``. The "main component" shown on match cards is
the one that adds most to the score (for scores under 50, the one that costs most).
These follow the platform's credit evaluation: performance capability (performance),
cooperation credit (cooperation, responsiveness, reliability) and innovation efficiency.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from behaviour.events import Event
from behaviour.store import Credit

WEIGHTS = {"performance": 0.20, "cooperation": 0.25, "responsiveness": 0.20, "efficiency": 0.15,
           "reliability": 0.10, "verification": 0.10}
NEUTRAL_SCORE = 50.0


@dataclass
class Tally:
    """What is counted about one participant."""

    contacts_received: int = 0
    responses: int = 0
    response_hours: list[float] = field(default_factory=list)
    deals: int = 0
    declined: int = 0
    abandoned: int = 0
    disputes: int = 0
    ratings: list[int] = field(default_factory=list)
    verified: bool = False

    def merge(self, other: Tally) -> Tally:
        """The sum of two tallies (for distributed aggregation)."""
        return Tally(self.contacts_received + other.contacts_received, self.responses + other.responses,
                     self.response_hours + other.response_hours, self.deals + other.deals,
                     self.declined + other.declined, self.abandoned + other.abandoned,
                     self.disputes + other.disputes, self.ratings + other.ratings,
                     self.verified or other.verified)


def tallies_of(event: Event) -> list[tuple[str, Tally]]:
    """The participants an event counts for, each with its contribution."""
    kind, actor, subject = event.kind, event.user_id, event.subject_id
    found: list[tuple[str, Tally]] = []
    if kind == "contact" and subject:
        found.append((subject, Tally(contacts_received=1)))
    elif kind in ("accepted", "declined", "response"):
        hours = [event.response_seconds / 3600.0] if event.response_seconds > 0 else []
        found.append((actor, Tally(responses=1 if kind != "response" or hours else 0, response_hours=hours,
                                   declined=1 if kind == "declined" else 0)))
    elif kind == "deal":
        found.extend((party, Tally(deals=1)) for party in {actor, subject} if party)
    elif kind == "closed":
        found.extend((party, Tally(abandoned=1)) for party in {actor, subject} if party)
    elif kind == "rating" and subject and 1 <= event.rating <= 5:
        found.append((subject, Tally(ratings=[event.rating])))
    elif kind == "dispute" and subject:
        found.append((subject, Tally(disputes=1)))
    elif kind == "verified":
        found.append((actor, Tally(verified=True)))
    return found


def components(tally: Tally) -> dict[str, float]:
    """The six components of the formula, each in [0, 1]."""
    rating_mean = (sum(tally.ratings) + 2 * 3.5) / (len(tally.ratings) + 2)
    answered = (tally.responses + 1) / (tally.contacts_received + 1)
    hours = statistics.median(tally.response_hours) if tally.response_hours else 24.0
    threads = tally.contacts_received + tally.deals
    return {
        "performance": 1.0 - math.exp(-(tally.deals + 1) / 3.0),
        "cooperation": (rating_mean - 1.0) / 4.0,
        "responsiveness": min(1.0, answered) * math.exp(-hours / 72.0),
        "efficiency": min(1.0, (tally.deals + 1) / (tally.contacts_received + 2)),
        "reliability": max(0.0, 1.0 - (tally.declined + tally.abandoned + 3 * tally.disputes) / (threads + 2)),
        "verification": 1.0 if tally.verified else 0.0,
    }


def score(parts: dict[str, float]) -> float:
    """The credit score 0-100 of a set of components."""
    return round(100.0 * sum(WEIGHTS[name] * parts[name] for name in WEIGHTS), 2)


def main_component(credit: Credit) -> str:
    """The component that adds most (or, under 50, costs most) to the score."""
    gains = {name: WEIGHTS[name] * credit.components.get(name, 0.0) for name in WEIGHTS}
    if credit.score < NEUTRAL_SCORE:
        return min(WEIGHTS, key=lambda name: gains[name] - WEIGHTS[name])
    return max(gains, key=lambda name: gains[name])


def compute_credits(events: Iterable[Event], now: float | None = None) -> list[Credit]:
    """Credit of every participant the events mention (the job does the same distributed)."""
    totals: dict[str, Tally] = {}
    for event in events:
        for participant, tally in tallies_of(event):
            totals[participant] = totals[participant].merge(tally) if participant in totals else tally
    moment = time.time() if now is None else now
    return [credit_from(participant, tally, moment) for participant, tally in sorted(totals.items())]


def credit_from(participant: str, tally: Tally, now: float) -> Credit:
    """A participant's credit record from their tally."""
    parts = components(tally)
    return Credit(participant, score(parts), {k: round(v, 4) for k, v in parts.items()}, now)
