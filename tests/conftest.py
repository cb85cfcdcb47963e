"""One running assistant (action server, Rasa server, web page, messenger gateways) shared by the integration tests.

The stack runs on a small demo (a few hundred listings per corpus) in a temporary folder,
with the Rasa model that ``make test`` trained (``MATCHMAKER_MODEL_ARCHIVE``). Its Telegram
and WeChat channels talk to local stand-ins of the Bot API and the WeChat API
(``tests.standins``), started with it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from bot.stack import APP_PYTHON, Stack, StackConfig, post_json, trained_model
from matchmaker.settings import PROJECT_ROOT
from tests.standins.accounts import MessengerAccounts
from tests.standins.telegram_api import TelegramBotApi
from tests.standins.wechat_api import WeChatApi

DEMO_LIMIT = "120"
PORT_OFFSET = int(os.environ.get("MATCHMAKER_TEST_PORT_OFFSET", "0"))
"""Added to every port the tests' own servers listen on, so two test runs can share a machine."""


def _model() -> Path:
    model = trained_model()
    if model is None:
        pytest.fail("no trained Rasa model: run `make model` (make test does) first")
    return model


EVENTS_TABLE_PREFIX = f"test_{uuid.uuid4().hex[:8]}_"
ADMIN_TOKEN = f"operator-{uuid.uuid4().hex}"
TELEGRAM_TOKEN = "7700001:stack-test-token"
TELEGRAM_WEBHOOK_SECRET = uuid.uuid4().hex
TELEGRAM_WEBHOOK_PORT = 8288 + PORT_OFFSET
WECHAT_PORT = 8290 + PORT_OFFSET
WECHAT_TOKEN = "stacktesttoken"
WECHAT_APP_ID = "wx0000000000stack"
WECHAT_APP_SECRET = uuid.uuid4().hex


@pytest.fixture(scope="session")
def bot_api() -> Iterator[TelegramBotApi]:
    """The Bot API stand-in the stack's Telegram channel talks to."""
    with TelegramBotApi(TELEGRAM_TOKEN) as api:
        yield api


@pytest.fixture(scope="session")
def wechat_api() -> Iterator[WeChatApi]:
    """The WeChat API stand-in the stack's WeChat channel talks to."""
    with WeChatApi(WECHAT_APP_ID, WECHAT_APP_SECRET) as api:
        yield api


MESSENGERS = MessengerAccounts(TELEGRAM_TOKEN, TELEGRAM_WEBHOOK_PORT, TELEGRAM_WEBHOOK_SECRET, WECHAT_TOKEN,
                               WECHAT_APP_ID, WECHAT_APP_SECRET)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, hbase: tuple[str, int], bot_api: TelegramBotApi,
          wechat_api: WeChatApi) -> Iterator[Stack]:
    """The assistant on a small demo, writing its behaviour events to the real HBase."""
    var_dir = tmp_path_factory.mktemp("var")
    env = {**os.environ, "MATCHMAKER_VAR_DIR": str(var_dir), "MATCHMAKER_DEMO_LIMIT": DEMO_LIMIT,
           "PYTHONPATH": str(PROJECT_ROOT)}
    subprocess.run([str(APP_PYTHON), "-m", "matchmaker.bootstrap"], cwd=PROJECT_ROOT, env=env, check=True)
    config = StackConfig(model=_model(), rasa_port=5205 + PORT_OFFSET, actions_port=5255 + PORT_OFFSET,
                         web_port=8280 + PORT_OFFSET, wechat_port=WECHAT_PORT,
                         var_dir=var_dir,
                         extra_env=(("MATCHMAKER_VAR_DIR", str(var_dir)), ("MATCHMAKER_INDEX_POLL_SECONDS", "1"),
                                    ("MATCHMAKER_EVENT_STORE", "hbase"),
                                    ("MATCHMAKER_HBASE_TABLE_PREFIX", EVENTS_TABLE_PREFIX),
                                    *MESSENGERS.env(bot_api, wechat_api), ("MATCHMAKER_PUSH_RETRY_SECONDS", "0.5"),
                                    ("MATCHMAKER_ADMIN_TOKEN", ADMIN_TOKEN)))
    try:
        with Stack(config) as running:
            yield running
    finally:
        from behaviour.hbase_store import HBaseEventStore

        if hbase_answers():
            HBaseEventStore(*HBASE_THRIFT, table_prefix=EVENTS_TABLE_PREFIX).drop()


Chat = Callable[[str], list[dict[str, Any]]]


@pytest.fixture()
def chat(stack: Stack) -> Chat:
    """Send messages as one new user over the REST channel."""
    sender = f"test-{uuid.uuid4().hex[:8]}"
    return make_chat(stack, sender)


def make_chat(stack: Stack, sender: str) -> Chat:
    def send(text: str) -> list[dict[str, Any]]:
        reply = post_json(f"{stack.config.rasa_url}/webhooks/rest/webhook", {"sender": sender, "message": text})
        print(f"{sender} > {text}\n  < {reply}", file=sys.stderr)
        return list(reply)

    return send


@pytest.fixture()
def web_page_url(stack: Stack) -> str:
    return stack.config.page_url


HDFS_HTTP = "http://127.0.0.1:9870"
HDFS_URI = "hdfs://127.0.0.1:8020"


@contextlib.contextmanager
def local_service(script: str, answers: Callable[[], bool]) -> Iterator[None]:
    """Start ``infra/<script>`` unless the service already answers; stop it afterwards if started here."""
    command = str(PROJECT_ROOT / "infra" / script)
    started = not answers()
    if started:
        subprocess.run([command, "start"], check=True)
    try:
        yield
    finally:
        if started:
            subprocess.run([command, "stop"], check=False)


def _hdfs_answers() -> bool:
    try:
        with urllib.request.urlopen(f"{HDFS_HTTP}/webhdfs/v1/?op=GETFILESTATUS&user.name=matchmaker", timeout=3):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def hdfs() -> Iterator[str]:
    """A real HDFS on 127.0.0.1 (``infra/hdfs.sh``): started for the tests and stopped after them.

    An HDFS that is already running (``make infra-up``) is used as it is and left running.
    Yields the ``hdfs://`` URI of the NameNode.
    """
    with local_service("hdfs.sh", _hdfs_answers):
        yield HDFS_URI


@pytest.fixture()
def hdfs_dir(hdfs: str) -> Iterator[str]:
    """A fresh HDFS directory (``hdfs://.../tests/<id>``), deleted afterwards."""
    from storage.files import resolve

    location = resolve(f"{hdfs}/tests/{uuid.uuid4().hex[:10]}", HDFS_HTTP)
    location.store.makedirs(location.path)
    try:
        yield location.uri
    finally:
        location.store.delete(location.path)


HBASE_THRIFT = ("127.0.0.1", 9090)


def hbase_answers() -> bool:
    """Whether the HBase Thrift server answers a table listing."""
    import happybase

    try:
        connection = happybase.Connection(*HBASE_THRIFT, timeout=3000)
        connection.tables()
        connection.close()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not answering"
        return False


@pytest.fixture(scope="session")
def hbase() -> Iterator[tuple[str, int]]:
    """A real HBase with its Thrift server on 127.0.0.1:9090 (``infra/hbase.sh``).

    Started for the tests and stopped after them, unless it was already running.
    """
    with local_service("hbase.sh", hbase_answers):
        yield HBASE_THRIFT


@dataclass(frozen=True)
class LocalServer:
    """A server the tests started on 127.0.0.1 (``infra/<script>``) and how to reach it."""

    script: str
    port: int
    password: str
    env: dict[str, str]

    def run(self, command: str) -> None:
        """``infra/<script> <command>`` (start, stop, restart, kill) with this server's settings."""
        subprocess.run([str(PROJECT_ROOT / "infra" / self.script), command], env=self.env, check=True)


@contextlib.contextmanager
def started_server(script: str, port: int, prefix: str) -> Iterator[LocalServer]:
    """``infra/<script>`` on ``port`` in a fresh data directory with a new password; stopped and removed after.

    The script reads ``<PREFIX>_PORT``, ``<PREFIX>_DATA_DIR`` and ``<PREFIX>_PASSWORD``.
    """
    data = Path(tempfile.mkdtemp(prefix=f"matchmaker-{script.split('.')[0]}-"))
    password = secrets.token_urlsafe(18)
    server = LocalServer(script, port, password, {**os.environ, f"{prefix}_DATA_DIR": str(data),
                                                  f"{prefix}_PORT": str(port), f"{prefix}_PASSWORD": password})
    server.run("start")
    try:
        yield server
    finally:
        server.run("stop")
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[LocalServer]:
    """A real PostgreSQL (``infra/postgres.sh``) in a fresh data directory, with databases
    ``matchmaker`` and ``rasa`` owned by role ``matchmaker``; stopped and removed afterwards."""
    with started_server("postgres.sh", 55432 + PORT_OFFSET, "PG") as server:
        yield server


def postgres_url(server: LocalServer, database: str = "matchmaker") -> str:
    """The ``postgresql://`` URL of ``database`` on ``server``, as role ``matchmaker``."""
    return f"postgresql://matchmaker:{server.password}@127.0.0.1:{server.port}/{database}"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[LocalServer]:
    """A real Redis (``infra/redis.sh``) with a password, in a fresh directory; stopped afterwards."""
    with started_server("redis.sh", 56379 + PORT_OFFSET, "REDIS") as server:
        yield server
