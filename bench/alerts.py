"""Saved-need alerts at scale: posting -> alert time, and alerts missed or doubled against brute force.

    .venv/bin/python -m bench.alerts --needs 10000 --postings 1000

Everything runs in one process on a temporary embedded database (``matchmaker.listings.connect``),
each store on its own connection as in the server:

1. **Needs** from real corpus texts: SciFact claims (English) and CSL titles or author keyword
   lists (Chinese), ``--en-share`` of them English. A claim is saved by several participants
   (there are 809 claims), each need by its own anonymous REST sender, so its notices land as
   outbox rows of that sender. A share of the needs has a region, field or maturity filter, a
   few target demands or funding (they must never fire on the achievements posted here). The
   needs are stored in one transaction and the English queries are encoded once, in batches;
   the setup time goes to stderr.
2. **Engine**: ``AlertEngine`` with the real ``SQLiteNegotiationStore.notify`` as its sink and
   ``per_day`` above the number of postings (no digest in the bench; any are counted apart),
   running on its own thread (``start``), woken by every posting as the chat action wakes it.
3. **Postings**: ``--postings`` achievements (SciFact abstracts, CSL abstracts; half of them cited
   by or belonging to a saved need, the other half drawn at random; some owned by a participant
   whose need they match, which must not alert that participant) are stored from another thread
   at ``--rate`` a second.
4. **Measure**: posting -> alert is the outbox row's ``created_at`` minus the ``created_at`` the
   poster gave the listing just before storing it. The alerts in the outbox are compared with a
   brute-force reference computed independently of the matcher: dense scores as one matrix product
   of all English need and posting vectors (the postings encoded again by the benchmark), lexical
   shares as one sparse product of binary need-term and posting-term matrices, the same hard
   filters and thresholds as numpy masks. ``missed`` are reference pairs without an alert,
   ``unexpected`` alerts the reference does not have, ``duplicates`` extra alerts of one pair.

The last line on stdout is one JSON object; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import numpy.typing as npt
from scipy import sparse

from bench.reply_times import percentile
from index.dense import DEFAULT_MODEL, SentenceTransformerEncoder, Vectors
from index.text import lexical_tokens
from matchmaker.alerts import AlertEngine, NeedMatcher, SavedNeed, SQLiteNeedStore, topic_terms
from matchmaker.demo_data import csl_achievements, scifact_achievements
from matchmaker.listings import Listing, SQLiteListingStore, connect
from matchmaker.negotiation_store import SQLiteNegotiationStore
from matchmaker.settings import load_settings
from nlu.lexicon import Lexicon

SEED = 20261201
ENCODE_BATCH = 128
OTHER_KINDS = ("demand", "funding")
DRAIN_TIMEOUT_S = 600.0


def log(message: str) -> None:
    """One progress line on stderr."""
    print(f"[alerts] {message}", file=sys.stderr, flush=True)


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


@dataclass(frozen=True)
class Corpus:
    """The real texts: SciFact claims and their cited abstracts, CSL papers with their keywords."""

    claims: dict[str, str]
    cited: dict[str, list[str]]
    scifact: dict[str, Listing]
    csl: dict[str, Listing]
    csl_keywords: dict[str, str]


def read_corpus(datasets: Path, lexicon: Lexicon) -> Corpus:
    """Read both corpora; achievements get the seeded region, field and maturity of the demo data."""
    rng = random.Random(SEED)
    scifact = {listing.source.split(":", 1)[1]: listing
               for listing in scifact_achievements(datasets / "scifact" / "corpus.jsonl", lexicon, rng)}
    csl = {listing.source.split(":", 1)[1]: listing
           for listing in csl_achievements(datasets / "csl" / "corpus.jsonl", lexicon, rng)}
    claims = {str(r["_id"]): str(r["text"]) for r in _jsonl(datasets / "scifact" / "queries.jsonl")}
    cited: dict[str, list[str]] = {}
    with (datasets / "scifact" / "qrels" / "train.tsv").open(encoding="utf-8") as handle:
        for line in list(handle)[1:]:
            claim, doc = line.split("\t")[:2]
            if claim in claims and doc in scifact:
                cited.setdefault(claim, []).append(doc)
    keywords = {str(r["_id"]): "，".join(r.get("keywords", [])) for r in _jsonl(datasets / "csl" / "corpus.jsonl")}
    return Corpus({c: t for c, t in claims.items() if c in cited}, cited, scifact, csl,
                  {k: v for k, v in keywords.items() if v and k in csl})


@dataclass(frozen=True)
class PlannedNeed:
    """A need to save and the corpus documents written for it (``scifact:<id>`` / ``csl:<id>``)."""

    need: SavedNeed
    anchors: tuple[str, ...]


def plan_needs(corpus: Corpus, count: int, en_share: float, filtered: float, rng: random.Random) -> list[PlannedNeed]:
    """``count`` needs from real texts; a ``filtered`` share has a region, field or maturity filter."""
    english = round(count * en_share)
    claims = sorted(corpus.claims)
    rng.shuffle(claims)
    chinese = [(cid, corpus.csl[cid].title) for cid in sorted(corpus.csl)]
    chinese += [(cid, text) for cid, text in sorted(corpus.csl_keywords.items())]
    rng.shuffle(chinese)
    planned: list[PlannedNeed] = []
    for i in range(count):
        if i < english:
            claim = claims[i % len(claims)]
            query, language = corpus.claims[claim], "en"
            anchors = tuple(f"scifact:{doc}" for doc in corpus.cited[claim])
            anchor = corpus.scifact[corpus.cited[claim][0]]
        else:
            cid, query = chinese[(i - english) % len(chinese)]
            language, anchors, anchor = "zh", (f"csl:{cid}",), corpus.csl[cid]
        need = SavedNeed(0, f"bench-need-{i:05d}", query, _target_kind(rng), language)
        planned.append(PlannedNeed(_with_filter(need, anchor, filtered, rng), anchors))
    rng.shuffle(planned)
    return planned


def _target_kind(rng: random.Random) -> str:
    return rng.choice(OTHER_KINDS) if rng.random() < 0.05 else "achievement"


def _with_filter(need: SavedNeed, anchor: Listing, share: float, rng: random.Random) -> SavedNeed:
    """Maybe add a filter, drawn around the anchor document so that some filtered needs still fire."""
    roll = rng.random() / share if share else 1.0
    regions = ["jiangsu", "zhejiang", "shanghai", "beijing", "guangdong", "anhui", "hubei", "sichuan"]
    if roll < 0.5:
        chosen = set(rng.sample(regions, rng.randint(1, 3)))
        if rng.random() < 0.6:
            chosen.add(anchor.region)
        return replace(need, regions=tuple(sorted(chosen)))
    if roll < 0.8:
        fields = ["biomedicine", "new_materials", "advanced_manufacturing", "electronic_information"]
        return replace(need, field=anchor.field if rng.random() < 0.6 else rng.choice(fields))
    if roll < 1.0:
        return replace(need, min_maturity=rng.randint(3, 7))
    return need


def plan_postings(corpus: Corpus, needs: Sequence[PlannedNeed], count: int, en_share: float,
                  true_share: float, rng: random.Random) -> list[Listing]:
    """``count`` achievements: ``true_share`` written for some need, the rest drawn at random, shuffled."""
    documents = {**{f"scifact:{k}": v for k, v in corpus.scifact.items()}, **{f"csl:{k}": v for k, v in corpus.csl.items()}}
    owners: dict[str, list[str]] = {}
    for planned in needs:
        for anchor in planned.anchors:
            owners.setdefault(anchor, []).append(planned.need.owner_id)
    chosen: list[str] = []
    for language, share in (("scifact", en_share), ("csl", 1 - en_share)):
        wanted = round(count * share)
        anchored = sorted(a for a in owners if a.startswith(language))
        rest = sorted(k for k in documents if k.startswith(language) and k not in owners)
        true = rng.sample(anchored, min(len(anchored), round(wanted * true_share)))
        chosen += true + rng.sample(rest, wanted - len(true))
    rng.shuffle(chosen)
    postings = []
    for key in chosen[:count]:
        listing = replace(documents[key], source=f"bench:{key}")
        if key in owners and rng.random() < 0.1:
            listing = replace(listing, owner_id=rng.choice(owners[key]))
        postings.append(listing)
    return postings


@dataclass
class Run:
    """What the poster recorded: the listing as stored, with the time it was handed to the store."""

    stored: list[Listing]
    posted_at: dict[int, float]
    seconds: float


def post_steadily(store: SQLiteListingStore, postings: Sequence[Listing], rate: float, engine: AlertEngine) -> Run:
    """Store ``postings`` at ``rate`` a second from the calling thread, waking the engine after each."""
    stored: list[Listing] = []
    posted_at: dict[int, float] = {}
    start = time.time()
    for i, listing in enumerate(postings):
        pause = start + i / rate - time.time()
        if pause > 0:
            time.sleep(pause)
        now = time.time()
        saved = store.add(replace(listing, created_at=now))
        posted_at[saved.id] = now
        stored.append(saved)
        engine.wake()
        if (i + 1) % 100 == 0:
            log(f"posted {i + 1}/{len(postings)}")
    return Run(stored, posted_at, time.time() - start)


def post_from_thread(store: SQLiteListingStore, postings: Sequence[Listing], rate: float, engine: AlertEngine) -> Run:
    """:func:`post_steadily` on a thread of its own, while the engine runs on its thread."""
    runs: list[Run] = []
    poster = threading.Thread(target=lambda: runs.append(post_steadily(store, postings, rate, engine)), name="poster")
    poster.start()
    poster.join()
    if not runs:
        raise RuntimeError("the poster thread failed")
    return runs[0]


def wait_until_scanned(needs: SQLiteNeedStore, listings: SQLiteListingStore) -> float:
    """Wait until the engine's cursor reached the last published listing; return the seconds waited."""
    start = time.time()
    last = listings.last_publish_seq()
    while needs.cursor() < last:
        if time.time() - start > DRAIN_TIMEOUT_S:
            raise TimeoutError(f"the engine did not catch up within {DRAIN_TIMEOUT_S} s")
        time.sleep(0.05)
    return time.time() - start


@dataclass(frozen=True)
class Delivered:
    """The notices found in the outbox."""

    alerts: Counter[tuple[int, int]]
    latencies_ms: list[float]
    digests: int
    misrouted: int


def read_outbox(path: Path, run: Run, owners: dict[int, str]) -> Delivered:
    """Alert and digest notices of the outbox, one per outbox row."""
    db = connect(path)
    rows = db.execute("SELECT m.body, m.data, o.created_at, o.recipient_id FROM thread_messages m JOIN outbox o"
                      " ON o.thread_id = m.thread_id AND o.seq = m.seq WHERE m.thread_id = 0").fetchall()
    db.close()
    alerts: Counter[tuple[int, int]] = Counter()
    latencies, digests, misrouted = [], 0, 0
    for row in rows:
        data = json.loads(row["data"])
        if row["body"] == "digest":
            digests += 1
            continue
        need_id, listing_id = int(data["need_id"]), int(data["listing_id"])
        alerts[(need_id, listing_id)] += 1
        misrouted += owners.get(need_id) != row["recipient_id"]
        latencies.append((float(row["created_at"]) - run.posted_at[listing_id]) * 1000.0)
    return Delivered(alerts, latencies, digests, misrouted)


def count_held(path: Path) -> int:
    """Alert rows held for a digest (none when ``per_day`` is above the number of postings)."""
    db = connect(path)
    held = int(db.execute("SELECT COUNT(*) FROM alerts WHERE state != 'sent'").fetchone()[0])
    db.close()
    return held


def reference_pairs(needs: Sequence[SavedNeed], need_vectors: dict[int, Vectors], postings: Sequence[Listing],
                    posting_vectors: dict[int, Vectors], threshold_dense: float,
                    threshold_lexical: float) -> set[tuple[int, int]]:
    """Every (need, posting) pair that must alert, by brute force over all pairs."""
    allowed = filter_mask(needs, postings)
    shares = lexical_shares(needs, postings)
    fired = shares >= threshold_lexical
    english_needs = [i for i, need in enumerate(needs) if need.language == "en"]
    english_postings = [j for j, posting in enumerate(postings) if posting.language == "en"]
    if english_needs and english_postings:
        left = np.vstack([need_vectors[needs[i].id] for i in english_needs])
        right = np.vstack([posting_vectors[postings[j].id] for j in english_postings])
        dense = left @ right.T >= threshold_dense
        fired[np.ix_(english_needs, english_postings)] |= dense
    rows, cols = np.nonzero(allowed & fired)
    return {(needs[i].id, postings[j].id) for i, j in zip(rows.tolist(), cols.tolist(), strict=True)}


def filter_mask(needs: Sequence[SavedNeed], postings: Sequence[Listing]) -> npt.NDArray[np.bool_]:
    """Hard filters as a (needs x postings) boolean matrix."""
    def column(values: Sequence[Any]) -> npt.NDArray[Any]:
        return np.array(values, dtype=object)[:, None]

    def row(values: Sequence[Any]) -> npt.NDArray[Any]:
        return np.array(values, dtype=object)[None, :]

    mask = (column([n.target_kind for n in needs]) == row([p.kind for p in postings]))
    mask &= column([n.language for n in needs]) == row([p.language for p in postings])
    mask &= column([n.owner_id for n in needs]) != row([p.owner_id for p in postings])
    mask &= row([p.status == "published" for p in postings]).astype(bool)
    regions = sorted({p.region for p in postings} | {r for n in needs for r in n.regions})
    region_of = np.array([regions.index(p.region) for p in postings])
    wanted = np.zeros((len(needs), len(regions)), dtype=bool)
    for i, need in enumerate(needs):
        wanted[i, [regions.index(r) for r in need.regions]] = True
    unfiltered = np.array([not need.regions for need in needs])[:, None]
    mask &= unfiltered | wanted[:, region_of]
    mask &= unset([n.field for n in needs]) | (column([n.field for n in needs]) == row([p.field for p in postings]))
    minimum = np.array([n.min_maturity or 0 for n in needs])[:, None]
    mask &= minimum <= np.array([p.maturity for p in postings])[None, :]
    mask &= unset([n.stage for n in needs]) | (column([n.stage for n in needs]) == row([p.stage for p in postings]))
    return np.asarray(mask, dtype=bool)


def unset(values: Sequence[Any]) -> npt.NDArray[np.bool_]:
    """A column that is true where a need has no such filter."""
    return np.array([value is None for value in values], dtype=bool)[:, None]


def lexical_shares(needs: Sequence[SavedNeed], postings: Sequence[Listing]) -> npt.NDArray[np.float64]:
    """Share of each need's distinct terms found in each posting, from binary term matrices."""
    vocabulary: dict[str, int] = {}
    need_terms = [sorted(topic_terms(n.query)) for n in needs]
    for terms in need_terms:
        for term in terms:
            vocabulary.setdefault(term, len(vocabulary))
    posting_terms = [sorted({t for t in lexical_tokens(f"{p.title}\n{p.text}") if t in vocabulary}) for p in postings]
    left = binary_matrix(need_terms, vocabulary)
    right = binary_matrix(posting_terms, vocabulary)
    counts = (left @ right.T).toarray().astype(np.float64)
    sizes = np.array([len(terms) for terms in need_terms], dtype=np.float64)[:, None]
    return np.divide(counts, sizes, out=np.zeros_like(counts), where=sizes > 0)


def binary_matrix(rows: Sequence[Sequence[str]], vocabulary: dict[str, int]) -> sparse.csr_matrix:
    """A CSR matrix with a 1 where a row has a term."""
    indices = [vocabulary[t] for terms in rows for t in terms]
    pointers = np.cumsum([0] + [len(terms) for terms in rows])
    data = np.ones(len(indices), dtype=np.int32)
    return sparse.csr_matrix((data, indices, pointers), shape=(len(rows), len(vocabulary)))


def encode_by_text(encoder: SentenceTransformerEncoder, texts: dict[int, str]) -> dict[int, Vectors]:
    """Encode each distinct text once, in batches; rows keyed as ``texts``."""
    distinct = list(dict.fromkeys(texts.values()))
    encoded = encoder.encode(distinct, batch_size=ENCODE_BATCH) if distinct else np.zeros((0, 1), dtype=np.float32)
    row_of = {text: i for i, text in enumerate(distinct)}
    return {key: encoded[row_of[text]:row_of[text] + 1] for key, text in texts.items()}


def time_matches(matcher: NeedMatcher, postings: Sequence[Listing],
                 vectors: dict[int, Vectors]) -> dict[str, list[float]]:
    """Milliseconds of ``matcher.matches`` per posting and language, the embedding given (encoding aside)."""
    times: dict[str, list[float]] = {}
    for posting in postings:
        start = time.perf_counter()
        matcher.matches(posting, vectors.get(posting.id))
        times.setdefault(posting.language, []).append((time.perf_counter() - start) * 1000.0)
    return times


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--needs", type=int, default=10_000)
    parser.add_argument("--postings", type=int, default=1_000)
    parser.add_argument("--rate", type=float, default=10.0, help="postings a second")
    parser.add_argument("--en-share", type=float, default=0.4, help="share of English needs and postings")
    parser.add_argument("--filtered", type=float, default=0.3, help="share of needs with a filter")
    parser.add_argument("--true-share", type=float, default=0.5, help="share of postings written for a need")
    parser.add_argument("--interval", type=float, default=0.5, help="engine scan interval when not woken")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--seed", type=int, default=SEED)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Set up, post, wait for the engine, compare with the reference, print the JSON summary last."""
    args = parse_args(argv)
    began = time.time()
    faiss.omp_set_num_threads(1)
    settings = load_settings()
    rng = random.Random(args.seed)
    corpus = read_corpus(settings.datasets_dir, Lexicon.load(settings.lexicon_path))
    planned = plan_needs(corpus, args.needs, args.en_share, args.filtered, rng)
    postings = plan_postings(corpus, planned, args.postings, args.en_share, args.true_share, rng)
    log(f"corpus read and planned in {time.time() - began:.1f} s: {len(planned)} needs, {len(postings)} postings")
    with tempfile.TemporaryDirectory(prefix="bench-alerts-") as tmp:
        path = Path(tmp) / "matchmaker.db"
        poster = SQLiteListingStore(connect(path))
        engine_listings = SQLiteListingStore(connect(path))
        needs = SQLiteNeedStore(connect(path))
        threads = SQLiteNegotiationStore(connect(path), listings=engine_listings)
        encoder = SentenceTransformerEncoder(args.model)

        setup = time.time()
        saved = needs.save_many([p.need for p in planned])
        stored_s = time.time() - setup
        need_vectors = encode_by_text(encoder, {n.id: n.query for n in saved if n.language == "en"})
        encoded_s = time.time() - setup - stored_s
        matcher = NeedMatcher(encoder)
        matcher.add_many(saved, need_vectors)
        engine = AlertEngine(needs, engine_listings, matcher, threads.notify, per_day=args.postings + 1,
                             interval=args.interval)
        engine.load()
        log(f"setup {time.time() - setup:.1f} s: stored {len(saved)} needs in {stored_s:.1f} s, encoded "
            f"{len({n.query for n in saved if n.language == 'en'})} distinct English queries in {encoded_s:.1f} s, "
            f"matcher built in {time.time() - setup - stored_s - encoded_s:.1f} s")

        engine.start()
        run = post_from_thread(poster, postings, args.rate, engine)
        drained = wait_until_scanned(needs, poster)
        engine.stop()
        log(f"posted {len(run.stored)} in {run.seconds:.1f} s; engine caught up {drained:.1f} s after the last")

        delivered = read_outbox(path, run, {n.id: n.owner_id for n in saved})
        held = count_held(path)
        reference_start = time.time()
        posting_vectors = encode_by_text(encoder, {p.id: f"{p.title}\n{p.text}" for p in run.stored
                                                   if p.language == "en"})
        expected = reference_pairs(saved, need_vectors, run.stored, posting_vectors, matcher.threshold_dense,
                                   matcher.threshold_lexical)
        log(f"reference computed in {time.time() - reference_start:.1f} s: {len(expected)} pairs")
        match_ms = time_matches(matcher, run.stored, posting_vectors)

    got = set(delivered.alerts)
    written_for = {anchor for p in planned for anchor in p.anchors}
    drawn = {p.id for p in run.stored if p.source.removeprefix("bench:") not in written_for}
    summary = {
        "needs": len(saved), "postings": len(run.stored), "alerts": sum(delivered.alerts.values()),
        "p95_posting_to_alert_ms": round(percentile(delivered.latencies_ms, 0.95)) if delivered.latencies_ms else None,
        "missed": len(expected - got), "duplicates": sum(c - 1 for c in delivered.alerts.values()),
        "unexpected": len(got - expected), "reference_alerts": len(expected), "digests": delivered.digests + held,
        "misrouted": delivered.misrouted,
        "alerts_on_random_postings": sum(c for (_, listing_id), c in delivered.alerts.items() if listing_id in drawn),
        "random_postings": len(drawn),
        "p50_posting_to_alert_ms": round(percentile(delivered.latencies_ms, 0.5)) if delivered.latencies_ms else None,
        "max_posting_to_alert_ms": round(max(delivered.latencies_ms)) if delivered.latencies_ms else None,
        **{f"match_p95_ms_{language}": round(percentile(times, 0.95), 2) for language, times in match_ms.items()},
        "rate_per_s": args.rate, "en_needs": sum(n.language == "en" for n in saved),
        "filtered_needs": sum(bool(n.regions or n.field or n.min_maturity) for n in saved),
        "cpus": os.cpu_count(), "seconds": round(time.time() - began, 1),
    }
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    main()
