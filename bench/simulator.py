"""A seeded simulator of the matchmaking market, for measuring re-ranking offline.

Enterprises search the demo achievements, look at the top ten, open, mark, contact; owners
accept or decline, threads end in deals or closures, ratings and disputes. Every choice is
drawn from a hidden model, so an evaluation can score any ranking against what the users
would really have valued, not only against what the logged ranking happened to show.

Hidden state (never written to the events, and not derivable from any text):

- every listing has a "style", one of ``taste_dims`` kinds of result (each field has its
  own mix of styles), and a taste vector: the style's axis plus a little noise;
- every enterprise belongs to a segment whose members share a taste vector (plus a
  personal deviation), has a language and a home field;
- every owner has a quality in (0, 1): how likely and how fast they answer, accept and
  deliver, and how they are rated.

A session: the enterprise has a need (the full text of a listing of its home field, or
sometimes of another field in its language; some topics are in much more demand than
others), types a short query made of a few words of that listing's title, and is shown
the top ten by BM25 (sometimes a second page). Text relevance is the TF-IDF cosine
between the need's full text and a candidate (saturating at ``text_scale``), so the query
is a lossy description of the need and retrieval a real but noisy signal of it. Each
shown card is examined with a position-biased probability; the user then opens it, asks
for more like it, marks it not relevant or contacts the owner with probabilities driven
by text relevance, taste match and (for contacts and deals) owner quality; see
:class:`Behaviour`. Timestamps spread over ``days`` so that time decay matters.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from behaviour.events import Event
from index.config import HybridSettings
from index.lexical import BM25Index
from index.text import ENGLISH_STOPWORDS, lexical_tokens
from matchmaker.listings import Listing

FloatArray = npt.NDArray[np.float64]

DAY = 86400.0
START = 1_735_689_600.0
"""Start of the simulated period: 2025-01-01 00:00 UTC (fixed, so runs are reproducible)."""

_CJK_RUN = re.compile("[\u4e00-\u9fff]+")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9\-]{2,}")
_NOT_RELEVANT_REASONS = ("off topic", "wrong field", "too theoretical", "not mature enough")


@dataclass(frozen=True)
class Behaviour:
    """Coefficients of the hidden behaviour model (logits unless said otherwise).

    ``T`` is text relevance in [0, 1], ``S`` the taste match in [-1, 1] and ``Q`` the
    owner's quality in (0, 1).

    Attributes:
        position_decay: A card at rank r is examined with probability ``r ** -position_decay``.
        open_bias: Open logit: ``open_bias + open_text * T + open_taste * S``.
        open_text: See ``open_bias``.
        open_taste: See ``open_bias``.
        more_bias: "More like this" after opening: ``more_bias + more_taste * S``.
        more_taste: See ``more_bias``.
        not_relevant_bias: "Not relevant" for an examined, unopened card:
            ``not_relevant_bias - not_relevant_text * T - not_relevant_taste * S``.
        not_relevant_text: See ``not_relevant_bias``.
        not_relevant_taste: See ``not_relevant_bias``.
        contact_bias: Contact after opening:
            ``contact_bias + contact_text * T + contact_taste * S + contact_quality * (Q - 0.5)``
            (the user reads the owner's track record on the details page).
        contact_text: See ``contact_bias``.
        contact_taste: See ``contact_bias``.
        contact_quality: See ``contact_bias``.
        silent: Probability an owner never answers: ``silent * (1 - Q)``.
        accept_floor: Probability an answering owner accepts: ``accept_floor + accept_span * Q``.
        accept_span: See ``accept_floor``.
        deal_bias: Deal after acceptance:
            ``deal_bias + deal_match * (T + S) + deal_quality * (Q - 0.5)``.
        deal_match: See ``deal_bias``.
        deal_quality: See ``deal_bias``.
        dispute: Probability a deal is disputed: ``dispute * (1 - Q) ** 2``.
        text_scale: TF-IDF cosine at which text relevance reaches 1.
        taste_weight: Multiplies the taste match everywhere (0: tastes play no part).
    """

    position_decay: float = 0.6
    open_bias: float = -2.0
    open_text: float = 4.0
    open_taste: float = 2.0
    more_bias: float = -2.5
    more_taste: float = 3.0
    not_relevant_bias: float = -0.5
    not_relevant_text: float = 4.0
    not_relevant_taste: float = 2.0
    contact_bias: float = -2.5
    contact_text: float = 2.0
    contact_taste: float = 3.0
    contact_quality: float = 2.0
    silent: float = 0.3
    accept_floor: float = 0.25
    accept_span: float = 0.7
    deal_bias: float = -1.5
    deal_match: float = 2.0
    deal_quality: float = 3.0
    dispute: float = 0.4
    text_scale: float = 0.35
    taste_weight: float = 1.0


@dataclass(frozen=True)
class MarketConfig:
    """Size and shape of a simulated market.

    Attributes:
        seed: Seed of every random draw.
        users: Number of enterprises.
        segments: Number of taste segments the enterprises fall into.
        taste_dims: Dimensions of the hidden taste space.
        style_concentration: Dirichlet concentration of each field's mix of styles (small:
            a field's listings mostly share one style).
        style_noise: How far a listing's taste vector strays from its style's axis.
        personal_taste: Size of an enterprise's personal deviation from its segment's taste.
        days: Length of the simulated period.
        sessions_per_user: Mean number of searches per enterprise over the period
            (activity varies log-normally between enterprises).
        home_field_share: Share of searches in the enterprise's home field.
        need_skew: Zipf exponent of how often a listing's topic is the need searched for
            (0: every listing equally often). Each listing gets a random popularity rank
            within its (language, field), so demand concentrates on some topics.
        shown: Cards on a page of results.
        next_page: Probability that a user asks for the next page (one more page at most).
        behaviour: The behaviour model.
    """

    seed: int = 7
    users: int = 500
    segments: int = 8
    taste_dims: int = 4
    style_concentration: float = 2.0
    style_noise: float = 0.3
    personal_taste: float = 0.5
    days: float = 180.0
    sessions_per_user: float = 12.0
    home_field_share: float = 0.8
    need_skew: float = 1.0
    shown: int = 10
    next_page: float = 0.25
    behaviour: Behaviour = field(default_factory=Behaviour)


@dataclass(frozen=True)
class Enterprise:
    """A simulated enterprise (the searching user) with its hidden traits."""

    user_id: str
    segment: int
    language: str
    field: str
    taste: FloatArray
    quality: float


@dataclass(frozen=True)
class Session:
    """One search: who, when, the hidden need (a listing id), the query and the cards shown (one or two pages)."""

    session_id: int
    user_id: str
    ts: float
    need_id: int
    query: str
    shown: tuple[int, ...]


@dataclass(frozen=True)
class Chances:
    """The hidden probabilities of one (session, candidate) pair, before position bias."""

    open: float
    more: float
    not_relevant: float
    contact: float
    answer: float
    accept: float
    deal: float

    @property
    def expected_gain(self) -> float:
        """Expected engagement grade if the card is examined: open 1, contact 2, deal 3."""
        deal_given_contact = self.answer * self.accept * self.deal
        return self.open * (1.0 + self.contact * (1.0 + deal_given_contact))


def sigmoid(value: float) -> float:
    """The logistic function."""
    return 1.0 / (1.0 + math.exp(-value))


def achievements_with_ids(listings: Iterable[Listing]) -> list[Listing]:
    """The achievements among ``listings``, numbered 1, 2, ... in order.

    Args:
        listings: Listings such as :func:`matchmaker.demo_data.demo_listings` yields.

    Returns:
        The achievements with their ids set.
    """
    found = [item for item in listings if item.kind == "achievement"]
    return [replace(item, id=number) for number, item in enumerate(found, start=1)]


def demo_achievements(datasets_dir: Path, demands_path: Path, lexicon_path: Path,
                      limit_per_corpus: int | None = None) -> list[Listing]:
    """The demo achievements (CSL and SciFact abstracts) numbered from 1.

    Args:
        datasets_dir: Directory holding ``csl/`` and ``scifact/``.
        demands_path: The written demands file (read by the loader, then left out).
        lexicon_path: The lexicon used to classify fields.
        limit_per_corpus: At most this many abstracts per corpus.

    Returns:
        The achievements.
    """
    from matchmaker.demo_data import demo_listings
    from nlu.lexicon import Lexicon

    return achievements_with_ids(demo_listings(datasets_dir, demands_path, Lexicon.load(lexicon_path),
                                               limit_per_corpus))


def tfidf_matrix(texts: Sequence[str]) -> sp.csr_matrix:
    """L2-normalised TF-IDF rows (sublinear tf) over the index's tokens.

    Args:
        texts: Documents.

    Returns:
        One unit-length row per document.
    """
    vocabulary: dict[str, int] = {}
    rows: list[int] = []
    cols: list[int] = []
    values: list[float] = []
    for row, text in enumerate(texts):
        for term, count in Counter(lexical_tokens(text)).items():
            rows.append(row)
            cols.append(vocabulary.setdefault(term, len(vocabulary)))
            values.append(1.0 + math.log(count))
    matrix = sp.csr_matrix((values, (rows, cols)), shape=(len(texts), len(vocabulary)), dtype=np.float64)
    df = np.bincount(matrix.indices, minlength=len(vocabulary))
    idf = np.log((1.0 + len(texts)) / (1.0 + df)) + 1.0
    matrix = sp.csr_matrix(matrix @ sp.diags(idf))
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    return sp.csr_matrix(sp.diags(1.0 / np.maximum(norms, 1e-12)) @ matrix)


def title_query(title: str, rng: np.random.Generator) -> str:
    """A short query a user might type for a need: a few words (or Chinese fragments) of its title.

    Args:
        title: The need's title.
        rng: Random source.

    Returns:
        Two to four English words in title order, or two or three Chinese fragments of
        two to four characters; the whole title when neither can be found.
    """
    runs = [run for run in _CJK_RUN.findall(title) if len(run) >= 2]
    if runs:
        fragments = []
        for _ in range(int(rng.integers(2, 4))):
            run = runs[int(rng.integers(len(runs)))]
            size = min(len(run), int(rng.integers(2, 5)))
            start = int(rng.integers(0, len(run) - size + 1))
            fragments.append(run[start:start + size])
        return " ".join(dict.fromkeys(fragments))
    words = [word for word in _WORD.findall(title) if word.lower() not in ENGLISH_STOPWORDS]
    if not words:
        return title
    size = min(len(words), int(rng.integers(2, 5)))
    keep = sorted(rng.choice(len(words), size=size, replace=False).tolist())
    return " ".join(words[i] for i in keep)


def retrieval_score(rank: int, rrf_k: int = HybridSettings().rrf_k) -> float:
    """The served retrieval score of the lexical leg alone at 1-based ``rank``.

    It is what :class:`index.hybrid.HybridIndex` returns in lexical mode (and for Chinese
    queries in hybrid mode): the RRF score over the best achievable one.

    Args:
        rank: 1-based rank in the BM25 list.
        rrf_k: The RRF constant.

    Returns:
        A score in (0, 1].
    """
    return (rrf_k + 1.0) / (rrf_k + rank)


class Market:
    """The simulated market: listings, hidden traits, sessions and the behaviour log."""

    def __init__(self, listings: Sequence[Listing], config: MarketConfig | None = None) -> None:
        """Draw the hidden traits of ``listings`` (ids must be set) and their owners.

        Args:
            listings: Achievements with unique non-zero ids.
            config: The market's shape.

        Raises:
            ValueError: If there are no listings or ids are missing or repeated.
        """
        ids = [item.id for item in listings]
        if not ids or 0 in ids or len(set(ids)) != len(ids):
            raise ValueError("listings must be non-empty with unique non-zero ids")
        self.config = config or MarketConfig()
        self.listings = {item.id: item for item in listings}
        self._rng = np.random.default_rng(self.config.seed)
        self._row = {listing_id: row for row, listing_id in enumerate(ids)}
        self._tfidf = tfidf_matrix([item.search_text for item in listings])
        self._bm25 = BM25Index.build(ids, [item.search_text for item in listings])
        self._latent = self._listing_tastes(listings)
        self.owner_quality = self._owner_qualities(listings)
        self.users = self._enterprises(listings)
        self._user = {user.user_id: user for user in self.users}
        self._pools = self._need_pools(listings)
        self.sessions: list[Session] = []
        self.events: list[Event] = []

    def retrieve(self, query: str, k: int) -> list[int]:
        """The top ``k`` listing ids for ``query`` by BM25.

        Args:
            query: Query text.
            k: How many.

        Returns:
            Listing ids, best first.
        """
        return [int(i) for i in self._bm25.search(query, k=k)[0].tolist()]

    def chances(self, session: Session, listing_ids: Sequence[int]) -> list[Chances]:
        """The hidden probabilities for candidates of a session.

        Args:
            session: The search.
            listing_ids: Candidate listings.

        Returns:
            Per candidate, the probabilities of each reaction as if its card were examined.
        """
        b = self.config.behaviour
        texts = self.text_relevance(session.need_id, listing_ids)
        found = []
        for listing_id, text in zip(listing_ids, texts.tolist(), strict=True):
            taste = b.taste_weight * self.taste_match(session.user_id, listing_id)
            quality = self.owner_quality[self.listings[listing_id].owner_id]
            found.append(Chances(
                open=sigmoid(b.open_bias + b.open_text * text + b.open_taste * taste),
                more=sigmoid(b.more_bias + b.more_taste * taste),
                not_relevant=sigmoid(b.not_relevant_bias - b.not_relevant_text * text - b.not_relevant_taste * taste),
                contact=sigmoid(b.contact_bias + b.contact_text * text + b.contact_taste * taste
                                + b.contact_quality * (quality - 0.5)),
                answer=1.0 - b.silent * (1.0 - quality),
                accept=b.accept_floor + b.accept_span * quality,
                deal=sigmoid(b.deal_bias + b.deal_match * (text + taste) + b.deal_quality * (quality - 0.5)),
            ))
        return found

    def expected_gains(self, session: Session, listing_ids: Sequence[int]) -> dict[int, float]:
        """Expected engagement grade of each candidate without position bias (0 to 3).

        Args:
            session: The search.
            listing_ids: Candidates.

        Returns:
            ``listing id -> P(open) + P(contact) + P(deal)``.
        """
        return {i: c.expected_gain for i, c in zip(listing_ids, self.chances(session, listing_ids), strict=True)}

    def text_relevance(self, need_id: int, listing_ids: Sequence[int]) -> FloatArray:
        """Hidden text relevance of listings to a need, in [0, 1].

        Args:
            need_id: The listing whose full text is the need.
            listing_ids: Candidates.

        Returns:
            ``min(1, cosine / text_scale)`` per candidate.
        """
        rows = [self._row[i] for i in listing_ids]
        cosine = (self._tfidf[rows] @ self._tfidf[self._row[need_id]].T).toarray().ravel()
        return np.asarray(np.minimum(1.0, cosine / self.config.behaviour.text_scale), dtype=np.float64)

    def taste_match(self, user_id: str, listing_id: int) -> float:
        """Hidden cosine between an enterprise's taste and a listing's latent taste."""
        return float(self._user[user_id].taste @ self._latent[self._row[listing_id]])

    def run(self) -> Market:
        """Simulate every enterprise's searches and their consequences over the period.

        Returns:
            The market itself, with ``sessions`` and ``events`` filled (events by time).
        """
        start, end = START, START + self.config.days * DAY
        plans = [(float(ts), user) for user in self.users for ts in self._session_times(start, end)]
        plans.sort(key=lambda plan: (plan[0], plan[1].user_id))
        events = self._verifications(start, end)
        for number, (ts, user) in enumerate(plans, start=1):
            session = self._session(number, user, ts)
            self.sessions.append(session)
            events.extend(self._reactions(session))
        self.events = sorted((e for e in events if e.ts < end), key=lambda e: (e.ts, e.event_id))
        return self

    def _listing_tastes(self, listings: Sequence[Listing]) -> FloatArray:
        config, dims = self.config, self.config.taste_dims
        fields = sorted({item.field for item in listings})
        shares = {name: self._rng.dirichlet(np.full(dims, config.style_concentration)) for name in fields}
        styles = np.stack([np.eye(dims)[int(self._rng.choice(dims, p=shares[item.field]))] for item in listings])
        raw = styles + config.style_noise * self._rng.normal(size=(len(listings), dims)) / math.sqrt(dims)
        return np.asarray(raw / np.linalg.norm(raw, axis=1, keepdims=True), dtype=np.float64)

    def _owner_qualities(self, listings: Sequence[Listing]) -> dict[str, float]:
        owners = sorted({item.owner_id for item in listings})
        return {owner: float(q) for owner, q in zip(owners, self._rng.beta(2.0, 2.0, size=len(owners)), strict=True)}

    def _enterprises(self, listings: Sequence[Listing]) -> list[Enterprise]:
        config = self.config
        segment_tastes = [_unit(self._rng.normal(size=config.taste_dims)) for _ in range(config.segments)]
        homes = [(item.language, item.field) for item in listings]
        users = []
        for number in range(config.users):
            segment = int(self._rng.integers(config.segments))
            language, home = homes[int(self._rng.integers(len(homes)))]
            taste = _unit(segment_tastes[segment] + config.personal_taste * self._rng.normal(size=config.taste_dims)
                          / math.sqrt(config.taste_dims))
            users.append(Enterprise(f"ent:{number:04d}", segment, language, home, taste,
                                    float(self._rng.beta(3.0, 2.0))))
        return users

    def _session_times(self, start: float, end: float) -> FloatArray:
        mean = self.config.sessions_per_user * float(self._rng.lognormal(-0.18, 0.6))
        count = max(1, int(self._rng.poisson(mean)))
        return np.sort(self._rng.uniform(start, end, size=count))

    def _session(self, number: int, user: Enterprise, ts: float) -> Session:
        need = self._need(user)
        query = title_query(self.listings[need].title, self._rng)
        pages = 2 if self._rng.random() < self.config.next_page else 1
        shown = tuple(self.retrieve(query, pages * self.config.shown))
        return Session(number, user.user_id, ts, need, query, shown)

    def _need(self, user: Enterprise) -> int:
        in_home = self._rng.random() < self.config.home_field_share
        ids, chances = self._pools[(user.language, user.field if in_home else "")]
        return int(self._rng.choice(ids, p=chances))

    def _need_pools(self, listings: Sequence[Listing]) -> dict[tuple[str, str], tuple[list[int], FloatArray]]:
        popularity = {}
        for _, members in sorted(_group(listings, lambda item: (item.language, item.field)).items()):
            ranks = self._rng.permutation(len(members)) + 1
            popularity.update({item.id: float(r) ** -self.config.need_skew for item, r in zip(members, ranks,
                                                                                                strict=True)})
        pools = {}
        groups = {**_group(listings, lambda item: (item.language, item.field)),
                  **_group(listings, lambda item: (item.language, ""))}
        for key, members in groups.items():
            weights = np.asarray([popularity[item.id] for item in members])
            pools[key] = ([item.id for item in members], weights / weights.sum())
        return pools

    def _event(self, kind: str, user_id: str, ts: float, *, listing_id: int = 0, subject_id: str = "",
               thread_id: int = 0, rank: int = 0, query: str = "", reason: str = "", rating: int = 0,
               response_seconds: float = 0.0) -> Event:
        event_id = "".join(f"{int(part):08x}" for part in self._rng.integers(0, 1 << 32, size=4))
        return Event(kind, user_id, listing_id=listing_id, subject_id=subject_id, thread_id=thread_id, rank=rank,
                     query=query, reason=reason, rating=rating, response_seconds=response_seconds, ts=ts,
                     event_id=event_id)

    def _reactions(self, session: Session) -> list[Event]:
        b = self.config.behaviour
        found: list[Event] = []
        all_chances = self.chances(session, session.shown)
        for rank, (listing_id, chances) in enumerate(zip(session.shown, all_chances, strict=True), start=1):
            owner = self.listings[listing_id].owner_id
            ts = session.ts + rank
            found.append(self._event("shown", session.user_id, ts, listing_id=listing_id, rank=rank,
                                     query=session.query, subject_id=owner))
            if self._rng.random() >= rank ** -b.position_decay:
                continue
            clock = ts + float(self._rng.uniform(20.0, 300.0))
            if self._rng.random() >= chances.open:
                if self._rng.random() < chances.not_relevant:
                    reason = _NOT_RELEVANT_REASONS[int(self._rng.integers(len(_NOT_RELEVANT_REASONS)))]
                    found.append(self._event("not_relevant", session.user_id, clock, listing_id=listing_id,
                                             rank=rank, query=session.query, reason=reason))
                continue
            found.append(self._event("opened", session.user_id, clock, listing_id=listing_id, rank=rank,
                                     query=session.query))
            if self._rng.random() < chances.more:
                found.append(self._event("more_like_this", session.user_id, clock + 30.0, listing_id=listing_id,
                                         rank=rank, query=session.query))
            if self._rng.random() < chances.contact:
                thread = session.session_id * 100 + rank
                found.extend(self._thread(session, listing_id, thread, rank, clock + 120.0, chances))
        return found

    def _thread(self, session: Session, listing_id: int, thread: int, rank: int, ts: float,
                chances: Chances) -> list[Event]:
        user, owner = session.user_id, self.listings[listing_id].owner_id
        quality = self.owner_quality[owner]
        found = [self._event("contact", user, ts, listing_id=listing_id, subject_id=owner, thread_id=thread,
                             rank=rank, query=session.query)]
        if self._rng.random() >= chances.answer:
            closed_at = ts + float(self._rng.uniform(10.0, 20.0)) * DAY
            return found + [self._event("closed", user, closed_at, listing_id=listing_id, subject_id=owner,
                                        thread_id=thread)]
        delay = self._response_seconds(quality)
        if self._rng.random() >= chances.accept:
            return found + [self._event("declined", owner, ts + delay, listing_id=listing_id, subject_id=user,
                                        thread_id=thread, response_seconds=delay)]
        found.append(self._event("accepted", owner, ts + delay, listing_id=listing_id, subject_id=user,
                                 thread_id=thread, response_seconds=delay))
        clock = ts + delay
        for _ in range(int(self._rng.integers(0, 3))):
            clock += float(self._rng.uniform(0.5, 4.0)) * DAY
            answer = self._response_seconds(quality)
            found.append(self._event("response", owner, clock + answer, listing_id=listing_id, subject_id=user,
                                     thread_id=thread, response_seconds=answer))
        end = clock + float(self._rng.uniform(5.0, 40.0)) * DAY
        if self._rng.random() >= chances.deal:
            return found + [self._event("closed", user, end, listing_id=listing_id, subject_id=owner,
                                        thread_id=thread)]
        return found + self._deal(user, owner, end, listing_id, thread)

    def _deal(self, user: str, owner: str, ts: float, listing_id: int, thread: int) -> list[Event]:
        quality = self.owner_quality[owner]
        found = [self._event("deal", user, ts, listing_id=listing_id, subject_id=owner, thread_id=thread)]
        rated = ts + float(self._rng.uniform(1.0, 7.0)) * DAY
        found.append(self._event("rating", user, rated, listing_id=listing_id, subject_id=owner, thread_id=thread,
                                 rating=self._stars(quality)))
        found.append(self._event("rating", owner, rated + 3600.0, listing_id=listing_id, subject_id=user,
                                 thread_id=thread, rating=self._stars(self._user[user].quality)))
        if self._rng.random() < self.config.behaviour.dispute * (1.0 - quality) ** 2:
            disputed = ts + float(self._rng.uniform(5.0, 30.0)) * DAY
            found.append(self._event("dispute", user, disputed, listing_id=listing_id, subject_id=owner,
                                     thread_id=thread))
        return found

    def _response_seconds(self, quality: float) -> float:
        median_hours = 2.0 + 70.0 * (1.0 - quality) ** 2
        return float(median_hours * 3600.0 * self._rng.lognormal(0.0, 0.8))

    def _stars(self, quality: float) -> int:
        return int(np.clip(round(1.5 + 3.5 * quality + float(self._rng.normal(0.0, 0.6))), 1, 5))

    def _verifications(self, start: float, end: float) -> list[Event]:
        found = []
        for owner, quality in sorted(self.owner_quality.items()):
            if self._rng.random() < 0.2 + 0.5 * quality:
                found.append(self._event("verified", owner, float(self._rng.uniform(start, end))))
        for user in self.users:
            if self._rng.random() < 0.3:
                found.append(self._event("verified", user.user_id, float(self._rng.uniform(start, end))))
        return found


def simulate(listings: Sequence[Listing], config: MarketConfig | None = None) -> Market:
    """Build a market over ``listings`` and run it.

    Args:
        listings: Achievements with unique non-zero ids.
        config: The market's shape.

    Returns:
        The market with its sessions and events.
    """
    return Market(listings, config).run()


def _group(listings: Sequence[Listing], key: Callable[[Listing], tuple[str, str]]) -> dict[tuple[str, str],
                                                                                      list[Listing]]:
    groups: dict[tuple[str, str], list[Listing]] = {}
    for item in listings:
        groups.setdefault(key(item), []).append(item)
    return groups


def _unit(vector: FloatArray) -> FloatArray:
    return np.asarray(vector / max(float(np.linalg.norm(vector)), 1e-12), dtype=np.float64)
