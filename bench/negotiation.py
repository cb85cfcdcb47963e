"""Concurrent two-party negotiations over the REST channel: relay time, lost, duplicated, out-of-order.

    .venv/bin/python -m bench.negotiation --pairs 50

Each pair is a requester R (a new, anonymous REST sender) and an owner O (another REST sender):

1. R describes a technical problem (the ``say`` texts of ``data/eval/chat_cases_*.jsonl``,
   English and Chinese alternately, so owners differ) and says "contact 1" / "联系第1个";
2. the owner of the new thread (``threads.owner_id`` in the assistant's SQLite database) gets
   an invite code (``SQLiteAccountStore.invite``) and O says "login <code>";
3. O accepts, R then O confirm the NDA, both enter the thread;
4. ten messages each way, ping-pong: the sender sends ``m<pair>-<R|O>-<k> ...``; the other
   side waits on its REST inbox (``POST /webhooks/rest/inbox``, a long poll that returns as
   soon as something waits for it) until the message shows up;
5. O proposes, R counters, O accepts the counter and both rate each other.

R and O of a pair talk from two threads of one pool (2 x pairs workers), so all pairs run at
once. The **relay time** of a message is the time the recipient's inbox long poll returned
with it minus the time the sender's turn returned (the message is stored before that turn
is acknowledged). What a party receives at the top of any reply counts (the
assistant puts what waited at the top of every reply). A message is **lost** when its
sender's turn was acknowledged and the recipient never received it (each wait gives up
after ``--wait`` seconds), **duplicated** when received more than once and **out of order**
when received after a later message of the same sender. **errors** are turns that raised
(HTTP errors, timeouts) and replies without the confirmation a step should get (a refusal
such as "Which thread?"); the first few are printed to stderr.

The assistant is the one answering at ``--url`` (a running ``make run``; the benchmark reads
the database of ``load_settings()``, so run it with the same ``MATCHMAKER_VAR_DIR``); when
nothing answers there, the benchmark starts one on ports of its own on the data under
``MATCHMAKER_VAR_DIR`` (default ``var/``) with the newest model in ``models/``. The last line
printed is one JSON object; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.assistant import assistant
from bench.reply_times import percentile
from bot.stack import post_json
from matchmaker.accounts import SQLiteAccountStore
from matchmaker.listings import connect
from matchmaker.settings import PROJECT_ROOT, load_settings

CASE_FILES = {"en": PROJECT_ROOT / "data/eval/chat_cases_en.jsonl", "zh": PROJECT_ROOT / "data/eval/chat_cases_zh.jsonl"}
MESSAGES_EACH_WAY = 10
INBOX_WAIT_S = 10.0
POLL_INTERVAL_S = 0.05
TURN_TIMEOUT_S = 60.0
MAX_ERROR_SAMPLES = 8

THREAD_ID = {"en": re.compile(r"thread #(\d+)"), "zh": re.compile(r"洽谈 ?#(\d+)")}
RELAYED = re.compile(r"^💬 (?:Thread #|洽谈#)(\d+) · [^:：]*[:：]\s*(.*)$", re.S)
BODY = re.compile(r"^m(\d+)-([RO])-(\d+)\b")
REFUSALS = ("Which thread?", "请问是哪个洽谈", "There is no thread", "您没有编号", "not possible", "不能进行这一操作",
            "Only the other party", "需要由对方操作", "Sorry", "抱歉")

# What each party says, by language; "{t}" is the thread id.
PHRASES: dict[str, dict[str, str]] = {
    "en": {"contact": "contact 1", "login": "login {code}", "accept": "accept {t}", "nda": "I agree to the NDA {t}",
           "open": "open thread {t}", "inbox": "inbox", "propose": "propose licence 500000 yuan 12 months",
           "counter": "counter licence 400000 yuan 12 months", "accept_proposal": "accept proposal",
           "rate": "rate thread {t} 5 good partner", "R": "could you share the pilot-scale test data?",
           "O": "yes, we will send the report and the measurements."},
    "zh": {"contact": "联系第1个", "login": "登录 {code}", "accept": "接受{t}", "nda": "同意保密协议{t}",
           "open": "进入洽谈{t}", "inbox": "查看新消息", "propose": "提议 许可 50万 12个月",
           "counter": "还价 许可 40万 12个月", "accept_proposal": "接受方案", "rate": "洽谈{t}评分5 合作愉快",
           "R": "请问贵方能否提供中试阶段的测试数据？", "O": "可以，我们整理好报告和测量数据后发给您。"},
}
# The confirmation each step must get; a reply without it counts as an error.
EXPECT: dict[str, dict[str, str]] = {
    "en": {"login": r"Signed in", "accept": r"You accepted thread #{t}\b", "nda_first": r"NDA confirmed for thread #{t}\b",
           "nda_second": r"Thread #{t} is open", "open": r"You are in thread #{t} ",
           "send": r"Sent to the other party \(thread #{t},", "propose": r"Proposal sent in thread #{t}:",
           "counter": r"Proposal sent in thread #{t}:", "accept_proposal": r"Deal agreed in thread #{t}!",
           "rate": r"for thread #{t} is recorded"},
    "zh": {"login": r"登录成功", "accept": r"您已接受洽谈#{t}\D", "nda_first": r"您已确认洽谈#{t}的保密协议",
           "nda_second": r"洽谈#{t}已正式开启", "open": r"您已进入洽谈#{t}（", "send": r"已发送给对方（洽谈#{t}，",
           "propose": r"已在洽谈#{t}中提交方案", "counter": r"已在洽谈#{t}中提交方案",
           "accept_proposal": r"洽谈#{t}已达成合作", "rate": r"您对洽谈#{t}的评分（5星）已记录"},
}


class Deadline:
    """The run's overall time limit, shared by every worker."""

    def __init__(self, seconds: float) -> None:
        """Expire ``seconds`` from now."""
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        """Seconds left (0 when expired)."""
        return max(0.0, self.at - time.monotonic())


class Run:
    """What every worker records: turn times, errors, receipts, sends (thread-safe)."""

    def __init__(self, url: str, deadline: Deadline) -> None:
        """Talk to the Rasa server at ``url`` until ``deadline``."""
        self.url = url.rstrip("/") + "/webhooks/rest/webhook"
        self.inbox_url = url.rstrip("/") + "/webhooks/rest/inbox"
        self.deadline = deadline
        self.lock = threading.Lock()
        self.turn_ms: list[float] = []
        self.inbox_ms: list[float] = []
        self.errors = 0
        self.errors_by_step: Counter[str] = Counter()
        self.samples: list[str] = []
        self.foreign = 0
        self.threads_ready = 0
        self.deals = 0
        self.rated = 0
        self.sent = 0
        self.received = 0

    def error(self, step: str, sample: str) -> None:
        """Count one error of ``step``; keep the first few samples."""
        with self.lock:
            self.errors += 1
            self.errors_by_step[step] += 1
            if len(self.samples) < MAX_ERROR_SAMPLES:
                self.samples.append(sample)


@dataclass
class Party:
    """One REST sender of a pair and what it received of its own thread."""

    pair: int
    side: str
    lang: str
    sender: str
    receipts: list[tuple[str, int, float]] = field(default_factory=list)

    def phrase(self, key: str, **values: object) -> str:
        """What this party says for ``key`` in its language."""
        return PHRASES[self.lang][key].format(**values)


@dataclass
class Pair:
    """Both parties of one negotiation, the thread and the time each message was stored."""

    index: int
    lang: str
    problem: str
    requester: Party
    owner: Party
    thread: int | None = None
    ready: threading.Event = field(default_factory=threading.Event)
    exchanged: threading.Barrier = field(default_factory=lambda: threading.Barrier(2))
    stored_at: dict[tuple[str, int], float] = field(default_factory=dict)


def load_problems() -> dict[str, list[str]]:
    """The ``say`` texts of the chat cases, by language."""
    problems: dict[str, list[str]] = {}
    for lang, path in CASE_FILES.items():
        lines = path.read_text(encoding="utf-8").splitlines()
        problems[lang] = [str(json.loads(line)["say"]) for line in lines if line.strip()]
    return problems


def make_pairs(count: int, problems: dict[str, list[str]]) -> list[Pair]:
    """``count`` pairs, English and Chinese alternately, each with its own problem."""
    run_id = uuid.uuid4().hex[:8]
    pairs: list[Pair] = []
    for index in range(count):
        lang = "en" if index % 2 == 0 else "zh"
        texts = problems[lang]
        problem = texts[(index // 2) % len(texts)]
        pairs.append(Pair(index, lang, problem, Party(index, "R", lang, f"neg-{run_id}-{index}-r"),
                          Party(index, "O", lang, f"neg-{run_id}-{index}-o")))
    return pairs


def texts_of(replies: Sequence[dict[str, Any]]) -> list[str]:
    """The texts of a REST reply."""
    return [str(item.get("text") or "") for item in replies]


def record_receipts(run: Run, pair: Pair, party: Party, replies: Sequence[dict[str, Any]], at: float) -> None:
    """Note every relayed message of the pair's thread in ``replies`` (others count as foreign)."""
    for text in texts_of(replies):
        relayed = RELAYED.match(text)
        if not relayed:
            continue
        body = BODY.match(relayed.group(2))
        if body and int(relayed.group(1)) == pair.thread and int(body.group(1)) == pair.index:
            party.receipts.append((body.group(2), int(body.group(3)), at))
            with run.lock:
                run.received += 1
        else:
            with run.lock:
                run.foreign += 1


@dataclass(frozen=True)
class Turn:
    """One REST turn's reply (empty when the turn raised) and whether it showed what the step needs."""

    replies: list[dict[str, Any]]
    ok: bool


def turn(run: Run, pair: Pair, party: Party, text: str, step: str = "inbox") -> Turn:
    """One REST turn of ``party``: timed, its receipts recorded, checked against what ``step`` needs.

    A step of ``EXPECT`` needs its confirmation; any other step only needs no refusal.
    """
    started = time.perf_counter()
    try:
        replies = list(post_json(run.url, {"sender": party.sender, "message": text},
                                 timeout=min(TURN_TIMEOUT_S, max(run.deadline.left(), 1.0))) or [])
    except (OSError, ValueError) as error:
        run.error(step, f"pair {pair.index} {party.side} {text!r}: {type(error).__name__}: {error}")
        return Turn([], False)
    returned = time.perf_counter()
    with run.lock:
        run.turn_ms.append((returned - started) * 1000)
    record_receipts(run, pair, party, replies, returned)
    own = [t for t in texts_of(replies) if not t.startswith("💬")]
    expected = EXPECT[party.lang].get(step)
    if expected is not None:
        pattern = expected.format(t=pair.thread)
        ok = any(re.search(pattern, t) for t in own)
    else:
        ok = not any(marker in t for t in own for marker in REFUSALS)
    if not ok:
        run.error(step, f"pair {pair.index} {party.side} {text!r}: {' | '.join(own)[:300]}")
    return Turn(replies, ok)


def asks_confirmation(replies: Sequence[dict[str, Any]]) -> bool:
    """Whether the bot asked to confirm the description before searching (no cards yet)."""
    buttons = [str(b.get("payload", "")) for item in replies for b in item.get("buttons") or []]
    return "/affirm" in buttons and not any(p.startswith("/contact") for p in buttons)


def owner_of(database: Path, thread: int) -> str | None:
    """The owner participant of a thread, read from the assistant's database."""
    db = connect(database)
    try:
        row = db.execute("SELECT owner_id FROM threads WHERE id = ?", (thread,)).fetchone()
    finally:
        db.close()
    return str(row[0]) if row else None


def invite(database: Path, owner_id: str) -> str:
    """A one-time sign-in code for ``owner_id``."""
    db = connect(database)
    try:
        return SQLiteAccountStore(db).invite(None, owner_id)
    finally:
        db.close()


def open_thread(run: Run, pair: Pair, database: Path) -> bool:
    """Steps 1-3: R asks for contact, O signs in and accepts, both confirm the NDA and enter."""
    r, o = pair.requester, pair.owner
    described = turn(run, pair, r, pair.problem, "describe")
    if asks_confirmation(described.replies):
        turn(run, pair, r, "/affirm", "describe")
    contact = turn(run, pair, r, r.phrase("contact"), "contact")
    found = [m for m in (THREAD_ID[pair.lang].search(t) for t in texts_of(contact.replies)) if m]
    if not found:
        if contact.ok:
            run.error("contact", f"pair {pair.index} R: no thread id in {' | '.join(texts_of(contact.replies))[:300]}")
        return False
    pair.thread = int(found[0].group(1))
    owner_id = owner_of(database, pair.thread)
    if owner_id is None:
        run.error("contact", f"pair {pair.index}: thread {pair.thread} not in {database}")
        return False
    t = pair.thread
    steps = ((o, o.phrase("login", code=invite(database, owner_id)), "login"), (o, o.phrase("accept", t=t), "accept"),
             (r, r.phrase("nda", t=t), "nda_first"), (o, o.phrase("nda", t=t), "nda_second"),
             (o, o.phrase("open", t=t), "open"), (r, r.phrase("open", t=t), "open"))
    return all(turn(run, pair, party, text, step).ok for party, text, step in steps)


def wait_for(run: Run, pair: Pair, party: Party, key: tuple[str, int], wait_s: float) -> bool:
    """Long-poll ``party``'s REST inbox until ``key`` was received, ``wait_s`` passed or the run expired."""
    give_up = time.monotonic() + min(wait_s, run.deadline.left())
    while not any((side, k) == key for side, k, _ in party.receipts):
        left = give_up - time.monotonic()
        if left <= 0:
            return False
        started = time.perf_counter()
        try:
            reply = post_json(run.inbox_url, {"sender": party.sender, "wait": min(INBOX_WAIT_S, left)},
                              timeout=INBOX_WAIT_S + TURN_TIMEOUT_S)
        except (OSError, ValueError) as error:
            run.error("inbox", f"pair {pair.index} {party.side} inbox: {type(error).__name__}: {error}")
            time.sleep(POLL_INTERVAL_S)
            continue
        returned = time.perf_counter()
        with run.lock:
            run.inbox_ms.append((returned - started) * 1000)
        record_receipts(run, pair, party, list((reply or {}).get("messages") or []), returned)
    return True


def send(run: Run, pair: Pair, party: Party, k: int) -> None:
    """Send message ``k`` of ``party``; note when its turn was acknowledged (the message is stored)."""
    if turn(run, pair, party, f"m{pair.index}-{party.side}-{k} {party.phrase(party.side)}", "send").ok:
        pair.stored_at[(party.side, k)] = time.perf_counter()
        with run.lock:
            run.sent += 1


def exchange(run: Run, pair: Pair, party: Party, wait_s: float) -> None:
    """Step 4 for one side: R sends then waits for the answer; O waits then answers."""
    other = "O" if party.side == "R" else "R"
    for k in range(MESSAGES_EACH_WAY):
        if run.deadline.left() <= 0:
            return
        if party.side == "R":
            send(run, pair, party, k)
            wait_for(run, pair, party, (other, k), wait_s)
        else:
            wait_for(run, pair, party, (other, k), wait_s)
            send(run, pair, party, k)


def meet(run: Run, pair: Pair) -> bool:
    """Wait until both sides finished the exchange; ``False`` when the other side never came."""
    try:
        pair.exchanged.wait(timeout=max(run.deadline.left(), 1.0))
    except threading.BrokenBarrierError:
        run.error("exchange", f"pair {pair.index}: the other side did not finish the exchange in time")
        return False
    return True


def settle(run: Run, pair: Pair) -> None:
    """Step 5: O proposes, R counters, O accepts the counter, both rate."""
    r, o = pair.requester, pair.owner
    if not all(turn(run, pair, party, party.phrase(step), step).ok
               for party, step in ((o, "propose"), (r, "counter"), (o, "accept_proposal"))):
        return
    rated = [turn(run, pair, party, party.phrase("rate", t=pair.thread), "rate").ok for party in (o, r)]
    with run.lock:
        run.deals += 1
        run.rated += all(rated)


def requester_side(run: Run, pair: Pair, database: Path, wait_s: float) -> None:
    """R's worker: opens the thread (talking as both), exchanges, then settles."""
    try:
        ok = open_thread(run, pair, database)
    except Exception as error:  # noqa: BLE001 - a broken pair is counted, the others go on
        run.error("setup", f"pair {pair.index}: {type(error).__name__}: {error}")
        ok = False
    if ok:
        with run.lock:
            run.threads_ready += 1
    else:
        pair.thread = None
    pair.ready.set()
    if not ok:
        return
    exchange(run, pair, pair.requester, wait_s)
    if meet(run, pair):
        settle(run, pair)


def owner_side(run: Run, pair: Pair, wait_s: float) -> None:
    """O's worker: waits for the open thread, then exchanges."""
    if not pair.ready.wait(timeout=max(run.deadline.left(), 1.0)) or pair.thread is None:
        return
    exchange(run, pair, pair.owner, wait_s)
    meet(run, pair)


def drive(run: Run, pairs: Sequence[Pair], database: Path, wait_s: float) -> None:
    """Run every pair at once on 2 x pairs workers, printing progress to stderr."""
    expected = len(pairs) * 2 * MESSAGES_EACH_WAY
    with ThreadPoolExecutor(max_workers=2 * len(pairs)) as pool:
        futures: list[Future[None]] = []
        for pair in pairs:
            futures.append(pool.submit(requester_side, run, pair, database, wait_s))
            futures.append(pool.submit(owner_side, run, pair, wait_s))
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=5, return_when=FIRST_EXCEPTION)
            with run.lock:
                line = (f"threads open {run.threads_ready}/{len(pairs)}, sent {run.sent}/{expected}, "
                        f"received {run.received}, turns {len(run.turn_ms)}, deals {run.deals}, errors {run.errors}")
            print(line, file=sys.stderr, flush=True)
            for future in done:
                if future.exception() is not None:
                    run.error("worker", f"{future.exception()!r}")


def tally(pairs: Sequence[Pair]) -> dict[str, Any]:
    """Lost, duplicated and out-of-order messages and relay times over every pair."""
    lost = duplicated = out_of_order = messages = 0
    relay_ms: list[float] = []
    for pair in pairs:
        messages += len(pair.stored_at)
        for party in (pair.requester, pair.owner):
            counts = Counter((side, k) for side, k, _ in party.receipts)
            duplicated += sum(n - 1 for n in counts.values())
            highest = -1
            first_at: dict[tuple[str, int], float] = {}
            for side, k, at in party.receipts:
                if (side, k) in first_at:
                    continue
                first_at[(side, k)] = at
                if k < highest:
                    out_of_order += 1
                highest = max(highest, k)
            other = "O" if party.side == "R" else "R"
            for (side, k), stored in pair.stored_at.items():
                if side != other:
                    continue
                if (side, k) not in first_at:
                    lost += 1
                else:
                    relay_ms.append(max(0.0, first_at[(side, k)] - stored) * 1000)
    return {"messages": messages, "lost": lost, "duplicated": duplicated, "out_of_order": out_of_order,
            "relay_ms": relay_ms}


def _rounded(values: list[float], share: float) -> int | None:
    return round(percentile(values, share)) if values else None


def report(run: Run, pairs: Sequence[Pair], seconds: float) -> dict[str, Any]:
    """The JSON summary of a run."""
    counts = tally(pairs)
    relay_ms = counts.pop("relay_ms")
    return {"pairs": len(pairs), **counts,
            "relay_p50_ms": round(statistics.median(relay_ms)) if relay_ms else None,
            "relay_p95_ms": _rounded(relay_ms, 0.95), "errors": run.errors,
            "errors_by_step": dict(sorted(run.errors_by_step.items())), "threads_open": run.threads_ready,
            "deals": run.deals, "rated": run.rated, "foreign": run.foreign,
            "turns": len(run.turn_ms), "turn_p50_ms": round(statistics.median(run.turn_ms)) if run.turn_ms else None,
            "turn_p95_ms": _rounded(run.turn_ms, 0.95), "cpus": len(os.sched_getaffinity(0)),
            "seconds": round(seconds, 1)}


def benchmark(url: str, pairs: Sequence[Pair], database: Path, timeout_s: float, wait_s: float) -> dict[str, Any]:
    """Drive ``pairs`` against the assistant at ``url``; return the summary."""
    run = Run(url, Deadline(timeout_s))
    started = time.perf_counter()
    drive(run, pairs, database, wait_s)
    seconds = time.perf_counter() - started
    for sample in run.samples:
        print(f"error: {sample}", file=sys.stderr)
    return report(run, pairs, seconds)


def main(argv: list[str] | None = None) -> None:
    """Run the negotiations against a running assistant (or one started here); print the JSON summary last."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--url", default="http://127.0.0.1:5005")
    parser.add_argument("--model", type=Path, help="model for an assistant started here (default: newest)")
    parser.add_argument("--timeout", type=float, default=1200.0, help="overall limit in seconds")
    parser.add_argument("--wait", type=float, default=30.0, help="seconds a recipient waits for one message")
    args = parser.parse_args(argv)
    if args.pairs < 1:
        parser.error("--pairs must be at least 1")
    settings = load_settings()
    pairs = make_pairs(args.pairs, load_problems())
    with assistant(args.url, args.model, (5505, 5555, 8580)) as running:
        summary = benchmark(running.url, pairs, settings.database_path, args.timeout, args.wait)
    print(json.dumps(summary, ensure_ascii=False))


if __name__ == "__main__":
    main()
