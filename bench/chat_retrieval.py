"""Known-item retrieval through the whole dialogue, against the bare index on the same messages.

    .venv/bin/python -m bench.chat_retrieval --cases data/eval/chat_cases_en.jsonl data/eval/chat_cases_zh.jsonl

A case is one JSON line ``{"lang","say","expect_any":[titles], "split"?, "subset"?}``: a new
user says ``say`` over the REST channel of the assistant, answers a confirmation if the bot
asks one, reads the match cards, asks for "more", and the case is a hit at k when one of the
expected titles is among the first k cards. The assistant is the one answering at ``--url``
(a running ``make run``); when nothing answers there, the benchmark starts one on the data
under ``MATCHMAKER_VAR_DIR`` (default ``var/``, built by ``make demo``) with the newest model.

To tell where a miss is lost, the benchmark loads the same index and stores in-process and
reads the search the dialogue made from the conversation tracker (Rasa's HTTP API; the token
is ``MATCHMAKER_RASA_TOKEN``, known when the benchmark starts the assistant itself). Stages:

* ``intent``: the dialogue did not search the achievements at all (wrong intent, no cards);
* ``index_top60``: the bare index does not rank the listing in its top 60 for the raw message;
* ``filter``: a hard filter of the dialogue's search removed the listing;
* ``query``: the dialogue's query text ranks it below 5 where the raw message ranked it in the top 5;
* ``index_rank``: in the index's top 60 but not its top 5 for the raw message (the index's own loss);
* ``rerank``: the text ranking of the dialogue's search put it in the top 5, the final ranking did not;
* ``render``: the matcher ranked it in the top 5 but no card showed its title.

The last line printed is one JSON object; per-case details go to ``--details``.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.assistant import assistant
from bot.stack import post_json
from matchmaker.listings import MAX_TITLE_CHARS, ListingFilter
from matchmaker.matching import SearchRequest
from matchmaker.runtime import Services, build_services
from matchmaker.settings import load_settings

STAGES = ("intent", "index_top60", "filter", "query", "index_rank", "rerank", "render")
CONFIRM_PAYLOADS = ("/affirm",)
DEFAULT_CASES = ("data/eval/chat_cases_en.jsonl", "data/eval/chat_cases_zh.jsonl")


@dataclass(frozen=True)
class Case:
    """One known-item conversation."""

    lang: str
    say: str
    expect_any: tuple[str, ...]
    id: str = ""
    split: str = "all"
    subset: bool = False


@dataclass
class Outcome:
    """What one conversation showed and, for a miss, where it was lost."""

    case: Case
    shown: list[str] = field(default_factory=list)
    rank: int | None = None
    index_rank: int | None = None
    stage: str | None = None
    search: dict[str, Any] | None = None


def load_cases(paths: Iterable[str | Path]) -> list[Case]:
    """Read cases from JSON-lines files."""
    cases: list[Case] = []
    for path in paths:
        for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            raw = json.loads(line)
            cases.append(Case(lang=raw["lang"], say=raw["say"], expect_any=tuple(raw["expect_any"]),
                              id=str(raw.get("id") or f"{Path(path).stem}:{number}"),
                              split=str(raw.get("split", "all")), subset=bool(raw.get("subset", False))))
    return cases


def normal_title(title: str) -> str:
    """A title as a card shows it: stripped and cut to the stored length."""
    return " ".join(title.split())[:MAX_TITLE_CHARS].strip()


def card_titles(replies: Sequence[dict[str, Any]]) -> list[str]:
    """Titles of the match cards in a REST reply, in order ("N. title" first line, contact button)."""
    titles: list[str] = []
    for item in replies:
        buttons = item.get("buttons") or []
        if not any(str(b.get("payload", "")).startswith("/contact") for b in buttons):
            continue
        first_line = str(item.get("text") or "").split("\n", 1)[0]
        _, _, title = first_line.partition(". ")
        titles.append(normal_title(title))
    return titles


def asks_confirmation(replies: Sequence[dict[str, Any]]) -> bool:
    """Whether the bot asked the user to confirm before searching."""
    return any(str(b.get("payload", "")) in CONFIRM_PAYLOADS for item in replies for b in item.get("buttons") or [])


class Assistant:
    """A running assistant reached over REST, with optional tracker access."""

    def __init__(self, url: str, token: str | None) -> None:
        """Talk to the Rasa server at ``url``; ``token`` opens its HTTP API."""
        self.url = url.rstrip("/")
        self.token = token

    def say(self, sender: str, text: str) -> list[dict[str, Any]]:
        """One REST turn."""
        return list(post_json(f"{self.url}/webhooks/rest/webhook", {"sender": sender, "message": text},
                              timeout=120) or [])

    def search_slot(self, sender: str) -> dict[str, Any] | None:
        """The ``search`` slot of a conversation, when the API token is known."""
        if not self.token:
            return None
        try:
            with urllib.request.urlopen(f"{self.url}/conversations/{sender}/tracker?token={self.token}",
                                        timeout=30) as reply:
                slots = json.loads(reply.read()).get("slots") or {}
        except (OSError, ValueError):
            return None
        value = slots.get("search")
        return value if isinstance(value, dict) else None


def converse(assistant: Assistant, case: Case) -> tuple[list[str], dict[str, Any] | None]:
    """Say the case, confirm if asked, page once; return the titles shown (up to 10) and the search."""
    sender = f"bench-{uuid.uuid4().hex[:12]}"
    replies = assistant.say(sender, case.say)
    if not card_titles(replies) and asks_confirmation(replies):
        replies = assistant.say(sender, "/affirm")
    shown = card_titles(replies)
    if shown:
        shown += card_titles(assistant.say(sender, "more" if case.lang == "en" else "更多"))
    return shown, assistant.search_slot(sender)


def first_rank(titles: Sequence[str], expected: Iterable[str]) -> int | None:
    """1-based position of the first expected title among ``titles``."""
    wanted = {normal_title(t) for t in expected}
    return next((i for i, title in enumerate(titles, start=1) if title in wanted), None)


class Diagnosis:
    """The index and stores of the assistant, loaded in-process to locate misses."""

    def __init__(self, services: Services) -> None:
        """Use ``services`` built from the assistant's settings."""
        self.services = services
        self._kind_ids = {kind: np.asarray(services.listings.matching_ids(ListingFilter(kind=kind)), dtype=np.int64)
                          for kind in ("achievement", "demand")}
        self._ids_by_title: dict[str, set[int]] = {}
        for listing_id, listing in services.listings.get_many(self._kind_ids["achievement"].tolist()).items():
            self._ids_by_title.setdefault(normal_title(listing.title), set()).add(listing_id)

    def expected_ids(self, case: Case) -> set[int]:
        """Ids of the listings whose titles the case expects."""
        return set().union(*(self._ids_by_title.get(normal_title(t), set()) for t in case.expect_any))

    def text_rank(self, query: str, ids: set[int], allowed: np.ndarray, k: int = 60) -> int | None:
        """1-based rank of the first of ``ids`` in the index's top ``k`` for ``query`` within ``allowed``."""
        hits = self.services.indexes.current().search(query, k=k, allowed_ids=allowed)
        return next((i for i, hit in enumerate(hits, start=1) if hit.id in ids), None)

    def bare_rank(self, case: Case, ids: set[int]) -> int | None:
        """Rank of the expected listing for the raw message among all achievements."""
        return self.text_rank(case.say, ids, self._kind_ids["achievement"])

    def stage(self, outcome: Outcome, ids: set[int]) -> str:
        """Where a miss at 5 was lost (see the module docstring)."""
        request = _request(outcome.search)
        if not outcome.shown or (request is not None and request.target_kind != "achievement"):
            return "intent"
        if outcome.index_rank is None:
            return "index_top60"
        if request is None:
            return "query" if outcome.index_rank <= 5 else "index_rank"
        allowed = set(self.services.listings.matching_ids(request.listing_filter()))
        if not ids & allowed:
            return "filter"
        dialogue_text = self.text_rank(request.query, ids, np.asarray(sorted(allowed), dtype=np.int64))
        final = [m.listing.id for m in self.services.matcher.search(request, limit=5)]
        if ids & set(final):
            return "render"
        if dialogue_text is not None and dialogue_text <= 5:
            return "rerank"
        return "query" if outcome.index_rank <= 5 else "index_rank"


def _request(search: dict[str, Any] | None) -> SearchRequest | None:
    if not search:
        return None
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in search.items()}
    try:
        return SearchRequest(**values)
    except TypeError:
        return None


def run_cases(assistant: Assistant, cases: Sequence[Case], diagnosis: Diagnosis | None) -> list[Outcome]:
    """Drive every case and locate each miss."""
    outcomes: list[Outcome] = []
    for number, case in enumerate(cases, start=1):
        shown, search = converse(assistant, case)
        outcome = Outcome(case=case, shown=shown, rank=first_rank(shown, case.expect_any), search=search)
        if diagnosis is not None:
            ids = diagnosis.expected_ids(case)
            outcome.index_rank = diagnosis.bare_rank(case, ids) if ids else None
            if outcome.rank is None or outcome.rank > 5:
                outcome.stage = diagnosis.stage(outcome, ids) if ids else "index_top60"
        outcomes.append(outcome)
        print(f"\r{number}/{len(cases)} conversations", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return outcomes


def _share(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


def summary(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Hit rates, MRR and miss stages, per language."""
    languages = sorted({o.case.lang for o in outcomes})

    def per_language(metric: Any) -> dict[str, float | None]:
        return {lang: _share([metric(o) for o in outcomes if o.case.lang == lang]) for lang in languages}

    result: dict[str, Any] = {
        "cases": len(outcomes),
        "hit@5": per_language(lambda o: float(o.rank is not None and o.rank <= 5)),
        "hit@10": per_language(lambda o: float(o.rank is not None and o.rank <= 10)),
        "mrr@5": per_language(lambda o: 1.0 / o.rank if o.rank is not None and o.rank <= 5 else 0.0),
    }
    if any(o.index_rank is not None or o.stage for o in outcomes):
        result["index_hit@5"] = per_language(lambda o: float(o.index_rank is not None and o.index_rank <= 5))
    stages = Counter(o.stage for o in outcomes if o.stage)
    result["by_stage"] = {lang: {s: sum(1 for o in outcomes if o.case.lang == lang and o.stage == s)
                                 for s in STAGES if stages[s]} for lang in languages}
    return result


def report(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """The summary of all cases, with one summary per split."""
    result = summary(outcomes)
    splits = sorted({o.case.split for o in outcomes})
    if len(splits) > 1:
        result["by_split"] = {name: summary([o for o in outcomes if o.case.split == name]) for name in splits}
    return result


def main(argv: list[str] | None = None) -> None:
    """Run the cases against a running assistant (or one started here) and print the JSON summary."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", nargs="+", default=list(DEFAULT_CASES))
    parser.add_argument("--url", default="http://127.0.0.1:5005")
    parser.add_argument("--model", type=Path, help="model for an assistant started here (default: newest)")
    parser.add_argument("--split", help="only cases of this split (tune / heldout)")
    parser.add_argument("--subset", action="store_true", help="only the cases marked subset")
    parser.add_argument("--no-diagnosis", action="store_true", help="skip loading the index in-process")
    parser.add_argument("--details", type=Path, default=Path("results/chat_retrieval_cases.jsonl"))
    args = parser.parse_args(argv)
    cases = [c for c in load_cases(args.cases)
             if (not args.split or c.split == args.split) and (not args.subset or c.subset)]
    settings = load_settings()
    diagnosis = None if args.no_diagnosis else Diagnosis(build_services(settings))
    with assistant(args.url, args.model, (5405, 5455, 8480)) as running:
        outcomes = run_cases(Assistant(running.url, running.token), cases, diagnosis)
    args.details.parent.mkdir(parents=True, exist_ok=True)
    with args.details.open("w", encoding="utf-8") as handle:
        for outcome in outcomes:
            handle.write(json.dumps(asdict(outcome), ensure_ascii=False) + "\n")
    print(json.dumps(report(outcomes), ensure_ascii=False))


if __name__ == "__main__":
    main()
