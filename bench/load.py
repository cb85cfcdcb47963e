"""Concurrent conversations against running Rasa servers, and the load benchmark.

:func:`run_load` drives ``conversations`` users at once, each sending ``turns`` turns one
after the other over the REST channel; turn ``t`` of user ``c`` goes to server
``(c + t) % len(urls)``, so with two Rasa servers every conversation alternates between
them. Each user greets, describes a need of their own, pages, saves the need as an alert
and lists their alerts, so a reply that belongs to another user is recognisable
(:func:`cross_talk`). The integration tests of the production profile use this driver.

``python -m bench.load --conversations 50 --turns 10`` starts the embedded stack and the
production stack (two Rasa and two action servers behind nginx, PostgreSQL, Redis, HDFS,
HBase) one after the other on a small demo, runs the same load against each and prints one
JSON line per profile and think time: turns, search-turn p50/p95, errors, the p95 of the plain
greet turn measured in the same run, and turns answered per second. With no think time every
user sends their next message the moment a reply arrives, which measures capacity (the
latency is then mostly queueing); a few seconds of think time is closer to people typing.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SUBJECTS_EN = ("corrosion-proof coating", "low-power gas sensor", "fast battery charging", "biodegradable film",
               "sepsis test", "nitrogen removal process", "crop disease model", "light car composite",
               "cold-climate heat pump", "weld seam inspection")
CONTEXTS_EN = ("for ports", "for factories", "for clinics", "for exporters", "for buses")
SUBJECTS_ZH = ("锂电池正极材料", "污水脱氮工艺", "水稻病害识别", "光伏组件清洗", "钢结构防腐涂层")
CONTEXTS_ZH = ("用于化工园区", "用于农业合作社", "用于新能源车企", "用于城市供水", "用于港口设备")


SAVED_MARKS = ("Saved as need #", "已保存为订阅#")
"""How the assistant confirms a saved need (``actions.alerts``); only a confirmed one is owed."""


@dataclass(frozen=True)
class Turn:
    """One message of a conversation and what kind of turn it is."""

    text: str
    kind: str


@dataclass(frozen=True)
class TurnResult:
    """What one turn got: HTTP status (0 when no answer), time and the reply's messages."""

    conversation: int
    sender: str
    index: int
    turn: Turn
    server: int
    status: int
    ms: float
    reply: list[dict[str, Any]] = field(default_factory=list)
    error: str = ""


def need_of(conversation: int) -> tuple[str, str, tuple[str, str]]:
    """The language, the need and the two phrases that mark it, of user ``conversation``
    (every third user speaks Chinese; the marks are distinct for the first 75 users)."""
    if conversation % 3 == 2:
        k = conversation // 3
        marks = (SUBJECTS_ZH[k % 5], CONTEXTS_ZH[(k // 5) % 5])
        return "zh", f"我们需要{marks[0]}技术，{marks[1]}", marks
    k = conversation - (conversation + 1) // 3
    marks = (SUBJECTS_EN[k % 10], CONTEXTS_EN[(k // 10) % 5])
    return "en", f"We need a {marks[0]} {marks[1]}", marks


def conversation_turns(conversation: int, turns: int) -> list[Turn]:
    """The ``turns`` messages of user ``conversation``, cycling through one plan."""
    language, need, _ = need_of(conversation)
    zh = language == "zh"
    plan = [Turn("你好" if zh else "hello", "greet"), Turn(need, "search"), Turn("更多" if zh else "show me more", "more"),
            Turn("有新成果通知我" if zh else "notify me of new matches", "save"),
            Turn("我的订阅" if zh else "my alerts", "alerts"), Turn("我的洽谈" if zh else "my threads", "threads"),
            Turn(need, "search"), Turn("谢谢" if zh else "thanks", "thanks"), Turn("你好" if zh else "hello", "greet"),
            Turn("我的订阅" if zh else "my alerts", "alerts")]
    return [plan[i % len(plan)] for i in range(turns)]


def post(url: str, body: dict[str, Any], timeout: float) -> tuple[int, list[dict[str, Any]]]:
    """POST a turn; the status and the decoded messages (of an HTTP error too, when it has some)."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return int(reply.status), messages(reply.read())
    except urllib.error.HTTPError as error:
        return int(error.code), messages(error.read())


def messages(body: bytes) -> list[dict[str, Any]]:
    """The REST channel's list of messages in ``body``; empty when it is not one."""
    try:
        decoded = json.loads(body or b"[]")
    except ValueError:
        return []
    return [m for m in decoded if isinstance(m, dict)] if isinstance(decoded, list) else []


def run_conversation(urls: Sequence[str], conversation: int, turns: int, sender: str, timeout: float,
                     pause: float, start_after: float = 0.0) -> list[TurnResult]:
    """One user's turns, one after the other, alternating between ``urls``, from ``start_after`` seconds on."""
    results: list[TurnResult] = []
    time.sleep(start_after)
    for index, turn in enumerate(conversation_turns(conversation, turns)):
        server = (conversation + index) % len(urls)
        started = time.perf_counter()
        try:
            status, reply = post(f"{urls[server]}/webhooks/rest/webhook", {"sender": sender, "message": turn.text},
                                 timeout)
            error = ""
        except OSError as failure:
            status, reply, error = 0, [], f"{type(failure).__name__}: {failure}"
        results.append(TurnResult(conversation, sender, index, turn, server, status,
                                  (time.perf_counter() - started) * 1000, reply, error))
        if pause:
            time.sleep(pause)
    return results


def run_load(urls: Sequence[str], conversations: int, turns: int, prefix: str = "load", timeout: float = 120.0,
             pause: float = 0.0) -> list[TurnResult]:
    """``conversations`` users at once (one thread each), ``turns`` turns each; every result.

    With a ``pause`` (think time) the users arrive spread over one pause, as people do, rather
    than all in the same millisecond; without one they all start at once.
    """
    run = uuid.uuid4().hex[:6]
    spacing = pause / conversations if conversations else 0.0
    with ThreadPoolExecutor(max_workers=conversations) as pool:
        futures = [pool.submit(run_conversation, urls, c, turns, f"{prefix}-{run}-{c}", timeout, pause, c * spacing)
                   for c in range(conversations)]
        return [result for future in futures for result in future.result()]


def texts(reply: Sequence[dict[str, Any]]) -> str:
    """Every text of a reply, one per line."""
    return "\n".join(str(m.get("text") or "") for m in reply)


def cross_talk(results: Sequence[TurnResult]) -> list[str]:
    """Replies to "my alerts" that show another user's need, or not the user's own need once
    the assistant confirmed saving it."""
    found: list[str] = []
    marks = {r.conversation: need_of(r.conversation)[2] for r in results}
    saved = {(r.sender, r.conversation): r.index for r in results
             if r.turn.kind == "save" and r.status == 200 and any(mark in texts(r.reply) for mark in SAVED_MARKS)}
    for result in results:
        if result.turn.kind != "alerts" or result.status != 200 or \
                result.index < saved.get((result.sender, result.conversation), 1 << 30):
            continue
        shown = texts(result.reply)
        own = all(mark in shown for mark in marks[result.conversation])
        others = [c for c, pair in marks.items() if pair != marks[result.conversation]
                  and all(mark in shown for mark in pair)]
        if others or not own:
            found.append(f"{result.sender} turn {result.index}: own need shown {own}, others' {others[:3]}: "
                         f"{shown[:120]!r}")
    return found


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank) of ``values``; 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(fraction * len(ordered))) - 1))]


def summary(profile: str, results: Sequence[TurnResult], seconds: float, think: float) -> dict[str, Any]:
    """The figures of one run: search-turn p50/p95, errors (no answer, 5xx or an empty reply),
    the greet turn's p95, and the turns answered per second over the run."""
    search = [r.ms for r in results if r.turn.kind == "search"]
    greet = [r.ms for r in results if r.turn.kind == "greet"]
    errors = sum(1 for r in results if r.status != 200 or not r.reply)
    return {"profile": profile, "think_s": think, "turns": len(results),
            "p50_ms": round(statistics.median(search) if search else 0.0), "p95_ms": round(percentile(search, 0.95)),
            "errors": errors, "greet_p95_ms": round(percentile(greet, 0.95)),
            "all_p95_ms": round(percentile([r.ms for r in results], 0.95)),
            "turns_per_s": round(len(results) / max(seconds, 1e-9), 1)}


# -- the benchmark: both profiles in one run -------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


@contextmanager
def infra_service(script: str, env: dict[str, str]) -> Iterator[None]:
    """``infra/<script> start`` with ``env`` and stopped afterwards, unless it already runs."""
    command = str(ROOT / "infra" / script)
    running = subprocess.run([command, "status"], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL).returncode == 0
    if not running:
        subprocess.run([command, "start"], env=env, check=True)
    try:
        yield
    finally:
        if not running:
            subprocess.run([command, "stop"], env=env, check=False)


def newest_model() -> Path:
    """The Rasa model ``make model`` trained last."""
    from bot.stack import trained_model

    model = trained_model()
    if model is None:
        sys.exit("no trained Rasa model: run `make model` first")
    return model


def bootstrap(env: dict[str, str]) -> None:
    """Load the demo listings and publish an index for ``env``'s profile."""
    subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-m", "matchmaker.bootstrap"], cwd=ROOT, env=env,
                   check=True, stdout=subprocess.DEVNULL)


def measure(profile: str, instances: int, env: dict[str, str], var_dir: Path, conversations: int,
            turns: int, thinks: Sequence[float]) -> list[dict[str, Any]]:
    """Start the stack of ``profile``, run the load against every Rasa server once per think
    time (the pause of each user between a reply and their next message), stop it."""
    from bot.stack import Stack, StackConfig

    bootstrap({**env, "MATCHMAKER_VAR_DIR": str(var_dir)})
    config = StackConfig(model=newest_model(), rasa_port=5405, actions_port=5455, web_port=8480, wechat_port=8490,
                         var_dir=var_dir, instances=instances, entry_port=8400, actions_entry_port=5450,
                         extra_env=tuple((k, v) for k, v in env.items() if k.startswith("MATCHMAKER_")))
    lines = []
    with Stack(config) as stack:
        run_load(stack.config.rasa_urls, min(conversations, 4), 2, prefix="warm")
        for think in thinks:
            started = time.perf_counter()
            results = run_load(stack.config.rasa_urls, conversations, turns, prefix=f"{profile}-{think:g}", pause=think)
            figures = summary(profile, results, time.perf_counter() - started, think)
            figures["cross_talk"] = len(cross_talk(results))
            figures["cpus"] = os.cpu_count()
            lines.append(figures)
    return lines


def main(argv: list[str] | None = None) -> None:
    """Measure the embedded and the production profile in one run; one JSON line each."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--demo-limit", default="120")
    parser.add_argument("--profiles", default="embedded,production")
    parser.add_argument("--think-seconds", default="0,5",
                        help="pauses of each user between a reply and their next message, one run each")
    args = parser.parse_args(argv)
    base = {**os.environ, "PYTHONPATH": str(ROOT), "MATCHMAKER_DEMO_LIMIT": args.demo_limit,
            "MATCHMAKER_RATE_PER_MINUTE": "0"}
    scratch = Path(tempfile.mkdtemp(prefix="matchmaker-load-"))
    try:
        thinks = [float(value) for value in args.think_seconds.split(",")]
        if "embedded" in args.profiles:
            for line in measure("embedded", 1, base, scratch / "embedded", args.conversations, args.turns, thinks):
                print(json.dumps(line), flush=True)
        if "production" in args.profiles:
            for line in measure_production(base, scratch, args.conversations, args.turns, thinks):
                print(json.dumps(line), flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def measure_production(base: dict[str, str], scratch: Path, conversations: int, turns: int,
                       thinks: Sequence[float]) -> list[dict[str, Any]]:
    """The production profile on PostgreSQL, Redis, HDFS and HBase started for this run."""
    pg_password, redis_password = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    pg_env = {**base, "PG_DATA_DIR": str(scratch / "postgres"), "PG_PASSWORD": pg_password, "PG_PORT": "55532"}
    redis_env = {**base, "REDIS_DATA_DIR": str(scratch / "redis"), "REDIS_PASSWORD": redis_password,
                 "REDIS_PORT": "56479"}
    env = {**base, "MATCHMAKER_PROFILE": "production",
           "MATCHMAKER_DATABASE_URL": f"postgresql://matchmaker:{pg_password}@127.0.0.1:55532/matchmaker",
           "MATCHMAKER_REDIS_URL": f"redis://:{redis_password}@127.0.0.1:56479/0",
           "MATCHMAKER_HDFS_BASE": f"/bench/load-{uuid.uuid4().hex[:8]}",
           "MATCHMAKER_HBASE_TABLE_PREFIX": f"bench_{uuid.uuid4().hex[:8]}_"}
    os.chmod(scratch, 0o755)
    with infra_service("hdfs.sh", base), infra_service("hbase.sh", base), infra_service("postgres.sh", pg_env), \
            infra_service("redis.sh", redis_env):
        return measure("production", 2, env, scratch / "production", conversations, turns, thinks)


if __name__ == "__main__":
    main()
