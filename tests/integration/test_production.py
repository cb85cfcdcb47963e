"""The production profile on one machine: two Rasa servers and two action servers behind
nginx, conversations in PostgreSQL, locks in Redis, the app's stores in PostgreSQL, the
index on HDFS and behaviour events in HBase. Load, then faults while load runs."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.load import TurnResult, cross_talk, run_load, texts
from bot.stack import APP_PYTHON, Stack, StackConfig
from matchmaker.settings import PROJECT_ROOT
from tests.conftest import (
    DEMO_LIMIT,
    EVENTS_TABLE_PREFIX,
    HBASE_THRIFT,
    HDFS_HTTP,
    HDFS_URI,
    PORT_OFFSET,
    LocalServer,
    _model,
    hbase_answers,
    postgres_url,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.heavy]

ADMIN_TOKEN = f"prod-operator-{uuid.uuid4().hex}"
PUSH_SECRET = f"prod-push-{uuid.uuid4().hex}"
TABLES = f"{EVENTS_TABLE_PREFIX}prod_"


def redis_url(server: LocalServer) -> str:
    return f"redis://:{server.password}@127.0.0.1:{server.port}/0"


@pytest.fixture(scope="module")
def production(tmp_path_factory: pytest.TempPathFactory, postgres: LocalServer, redis_server: LocalServer, hbase: tuple[str, int], hdfs: str) -> Iterator[Stack]:
    """The two-instance stack on a small demo, started once for this module."""
    import subprocess

    var_dir = tmp_path_factory.mktemp("production")
    base = f"/tests/production-{uuid.uuid4().hex[:8]}"
    env = {"MATCHMAKER_PROFILE": "production", "MATCHMAKER_DATABASE_URL": postgres_url(postgres),
           "MATCHMAKER_REDIS_URL": redis_url(redis_server), "MATCHMAKER_HDFS": HDFS_URI,
           "MATCHMAKER_HDFS_BASE": base, "MATCHMAKER_WEBHDFS_URL": HDFS_HTTP,
           "MATCHMAKER_HBASE_TABLE_PREFIX": TABLES, "MATCHMAKER_INDEX_POLL_SECONDS": "1",
           "MATCHMAKER_PUSH_RETRY_SECONDS": "0.5", "MATCHMAKER_ADMIN_TOKEN": ADMIN_TOKEN,
           "MATCHMAKER_PUSH_SECRET": PUSH_SECRET, "MATCHMAKER_RATE_PER_MINUTE": "600", "MATCHMAKER_RATE_BURST": "60"}
    subprocess.run([str(APP_PYTHON), "-m", "matchmaker.bootstrap"], cwd=PROJECT_ROOT, check=True,
                   env={**__import__("os").environ, **env, "MATCHMAKER_VAR_DIR": str(var_dir),
                        "MATCHMAKER_DEMO_LIMIT": DEMO_LIMIT, "PYTHONPATH": str(PROJECT_ROOT)})
    config = StackConfig(model=_model(), rasa_port=5305 + PORT_OFFSET, actions_port=5355 + PORT_OFFSET,
                         web_port=8380 + PORT_OFFSET, wechat_port=8390 + PORT_OFFSET, var_dir=var_dir, instances=2,
                         entry_port=8300 + PORT_OFFSET, actions_entry_port=5350 + PORT_OFFSET,
                         extra_env=tuple(env.items()))
    try:
        with Stack(config) as running:
            yield running
    finally:
        from behaviour.hbase_store import HBaseEventStore
        from storage.files import resolve

        if hbase_answers():
            HBaseEventStore(*HBASE_THRIFT, table_prefix=TABLES).drop()
        location = resolve(f"{HDFS_URI}{base}", HDFS_HTTP)
        location.store.delete(location.path)


def tracker_texts(stack: Stack, sender: str, instance: int = 0) -> list[str]:
    """The user messages of ``sender``'s conversation, as one Rasa server has them."""
    url = (f"{stack.config.rasa_urls[instance]}/conversations/{urllib.parse.quote(sender, safe='')}/tracker"
           f"?token={stack.token}")
    with urllib.request.urlopen(url, timeout=30) as reply:
        tracker = json.loads(reply.read())
    return [str(event.get("text")) for event in tracker["events"] if event.get("event") == "user"]


def served_versions(stack: Stack) -> list[str]:
    """The index version each action server serves."""
    versions = []
    for instance in range(stack.config.instances):
        url = f"http://{stack.config.host}:{stack.config.actions_port + instance}/index"
        with urllib.request.urlopen(url, timeout=10) as reply:
            versions.append(str(json.loads(reply.read())["version"]))
    return versions


def by_sender(results: list[TurnResult]) -> dict[str, list[TurnResult]]:
    grouped: dict[str, list[TurnResult]] = {}
    for result in results:
        grouped.setdefault(result.sender, []).append(result)
    return grouped


def assert_answered_in_order(stack: Stack, results: list[TurnResult]) -> None:
    """Every turn that got a 200 is in its conversation's tracker, once and in order; the
    tracker holds nothing else."""
    for sender, turns in by_sender(results).items():
        answered = [r.turn.text for r in sorted(turns, key=lambda r: r.index) if r.status == 200]
        assert tracker_texts(stack, sender, instance=1) == answered, sender


def test_fifty_conversations_alternating_between_two_rasa_servers(production: Stack) -> None:
    results = run_load(production.config.rasa_urls, conversations=50, turns=10, prefix="alt")

    assert len(results) == 500
    failed = [(r.sender, r.index, r.status, r.error, texts(r.reply)[:80]) for r in results
              if r.status != 200 or not r.reply]
    assert failed == []
    assert {r.server for r in results} == {0, 1}
    assert cross_talk(results) == []
    assert all("Why:" in texts(r.reply) or "理由" in texts(r.reply) or "匹配" in texts(r.reply)
               for r in results if r.turn.kind == "search"), "every search shows matches"
    assert_answered_in_order(production, results)


def load_during(stack: Stack, fault: Any, conversations: int = 12, turns: int = 10,
                delay: float = 2.0) -> list[TurnResult]:
    """Run conversations through the entry point and apply ``fault`` ``delay`` seconds in."""
    outcome: dict[str, list[TurnResult]] = {}
    loader = threading.Thread(target=lambda: outcome.setdefault(
        "results", run_load([stack.config.entry_url], conversations, turns, prefix="fault", pause=0.3)))
    loader.start()
    time.sleep(delay)
    fault()
    loader.join(timeout=600)
    return outcome["results"]


def polite(result: TurnResult) -> bool:
    """A reply a user can read: text in it, whatever the status."""
    return bool(texts(result.reply).strip())


def test_a_killed_rasa_server_leaves_conversations_to_the_other_with_their_history(production: Stack) -> None:
    try:
        results = load_during(production, lambda: production.kill_process("rasa-1"))
        interrupted = [r for r in results if r.status != 200]
        assert len(interrupted) <= 12, "at most the turns in flight on the killed server"
        assert all(r.status == 503 and polite(r) for r in interrupted), [(r.status, r.error) for r in interrupted]
        for turns in by_sender(results).values():
            assert turns[-1].status == 200 and polite(turns[-1]), "every conversation goes on"
        assert_answered_in_order(production, results)
    finally:
        production.start_rasa(0)


def test_a_killed_action_server_is_announced_once_and_loses_nothing(production: Stack) -> None:
    try:
        results = load_during(production, lambda: production.kill_process("actions-1"))
        assert all(r.status == 200 and polite(r) for r in results), [(r.status, r.error) for r in results
                                                                      if r.status != 200]
        apologies = [r for r in results if "temporarily unavailable" in texts(r.reply) or "暂时不可用" in texts(r.reply)]
        assert len(apologies) <= 12
        assert cross_talk(results) == [], "every saved need is kept and shown to its owner only"
        assert_answered_in_order(production, results)
    finally:
        production.start_actions(0)


def test_a_postgresql_restart_fails_turns_politely_then_they_resume(production: Stack,
                                                                   postgres: LocalServer) -> None:
    results = load_during(production, lambda: postgres.run("restart"), turns=12)
    assert all(polite(r) and r.status in (200, 503) for r in results), [(r.status, r.error) for r in results
                                                                       if not polite(r)]
    for turns in by_sender(results).values():
        assert turns[-1].status == 200 and polite(turns[-1])
    after = run_load([production.config.entry_url], conversations=4, turns=5, prefix="after-pg")
    assert all(r.status == 200 and polite(r) for r in after)
    assert cross_talk(after) == []


def test_redis_down_gets_a_clear_reply_and_leaves_the_tracker_whole(production: Stack,
                                                                     redis_server: LocalServer) -> None:
    sender = f"redis-{uuid.uuid4().hex[:6]}"
    url = f"{production.config.entry_url}/webhooks/rest/webhook"
    first = run_load([production.config.entry_url], 1, 2, prefix=sender)
    assert all(r.status == 200 for r in first)
    redis_server.run("kill")
    try:
        from bench.load import post

        status, reply = post(url, {"sender": first[0].sender, "message": "hello"}, timeout=60)
        assert status in (200, 503) and texts(reply).strip(), (status, reply)
    finally:
        redis_server.run("start")
    status, reply = post(url, {"sender": first[0].sender, "message": "my threads"}, timeout=60)
    assert status == 200 and texts(reply).strip()
    history = tracker_texts(production, first[0].sender)
    assert history[:2] == [r.turn.text for r in first] and history[-1] == "my threads"


def test_a_corrupt_index_version_is_refused_by_both_action_servers(production: Stack) -> None:
    from index.remote import current_name, fetch_version, publish_version
    from storage.files import resolve

    before = served_versions(production)
    assert before[0] == before[1], "both action servers serve the same version"
    settings_root = resolve(f"{HDFS_URI}{production.environment()['MATCHMAKER_HDFS_BASE']}/index", HDFS_HTTP)
    scratch = Path(tempfile.mkdtemp(prefix="corrupt-index-"))
    try:
        good = fetch_version(settings_root, str(current_name(settings_root)), scratch / "cache")
        bad = scratch / f"{good.name[:-8]}{uuid.uuid4().hex[:8]}"
        shutil.copytree(good, bad)
        (bad / "ids.npy").write_bytes(b"garbage")
        publish_version(settings_root, bad)
        time.sleep(5)
        assert served_versions(production) == before
        results = run_load([production.config.entry_url], conversations=4, turns=2, prefix="after-corrupt")
        assert all(r.status == 200 and polite(r) for r in results)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def test_no_secret_set_for_the_run_is_in_any_log(production: Stack, stack: Stack, postgres: LocalServer,
                                                 redis_server: LocalServer) -> None:
    """The logs of both stacks (the embedded one has served every other integration test of
    the run, with Telegram and WeChat on) and of the infrastructure hold none of the secrets."""
    from tests.conftest import ADMIN_TOKEN as EMBEDDED_ADMIN_TOKEN
    from tests.conftest import MESSENGERS

    secrets = {"PostgreSQL password": postgres.password, "Redis password": redis_server.password,
               "admin token": ADMIN_TOKEN, "push secret": PUSH_SECRET, "Rasa token": production.token,
               "gateway secret": production.gateway_secret, "embedded admin token": EMBEDDED_ADMIN_TOKEN,
               "embedded push secret": stack.push_secret, "embedded Rasa token": stack.token,
               "embedded gateway secret": stack.gateway_secret, "Telegram bot token": MESSENGERS.telegram_token,
               "Telegram webhook secret": MESSENGERS.webhook_secret, "WeChat AppSecret": MESSENGERS.app_secret,
               "WeChat token": MESSENGERS.wechat_token}
    logs = [*production.log_dir.glob("*.log"), *stack.log_dir.glob("*.log"),
            *(PROJECT_ROOT / "infra" / "var" / "log").glob("*.log")]
    assert len(logs) >= 12
    found = [(name, log.name) for log in logs for name, value in secrets.items()
             if value in log.read_text(encoding="utf-8", errors="replace")]
    assert found == []
