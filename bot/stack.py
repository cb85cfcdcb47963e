"""Start and stop the whole assistant: action server, Rasa server, web page and messenger gateways.

``python -m bot.stack --model models/X.tar.gz`` is what ``make run`` calls; tests use
:class:`Stack` as a context manager. Each server is started, then waited for until it
really answers (the action server only answers once its models are warm; the Rasa server
gets one parse per language so its first real reply is not a cold one). Ctrl-C stops
everything.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable
from urllib.parse import unquote, urlsplit

from matchmaker.settings import PROJECT_ROOT, load_settings

RASA_BIN = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"
APP_PYTHON = PROJECT_ROOT / ".venv" / "bin" / "python"


def trained_model() -> Path | None:
    """The Rasa model to serve: ``MATCHMAKER_MODEL_ARCHIVE``, else the newest in ``models/``
    (``None`` when ``make model`` has not run)."""
    archive = os.environ.get("MATCHMAKER_MODEL_ARCHIVE")
    if archive:
        return Path(archive)
    models = sorted((PROJECT_ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1] if models else None


class StackError(RuntimeError):
    """A server did not come up; the message names its log file."""


@dataclass(frozen=True)
class StackConfig:
    """Where the servers listen and what they serve."""

    model: Path
    host: str = "127.0.0.1"
    rasa_port: int = 5005
    actions_port: int = 5055
    web_port: int = 8080
    wechat_port: int = 8090
    var_dir: Path = field(default_factory=lambda: load_settings().var_dir)
    extra_env: tuple[tuple[str, str], ...] = ()
    instances: int = 1
    entry_port: int = 8000
    actions_entry_port: int = 5150

    @property
    def rasa_url(self) -> str:
        """Base URL of the (first) Rasa server."""
        return f"http://{self.host}:{self.rasa_port}"

    @property
    def rasa_urls(self) -> list[str]:
        """Base URLs of every Rasa server (``rasa_port``, ``rasa_port + 1``, ...)."""
        return [f"http://{self.host}:{self.rasa_port + i}" for i in range(self.instances)]

    @property
    def entry_url(self) -> str:
        """Where clients send turns: the Rasa server, or nginx in front of several."""
        return self.rasa_url if self.instances == 1 else f"http://{self.host}:{self.entry_port}"

    @property
    def actions_url(self) -> str:
        """Where the Rasa servers call actions: the action server, or nginx in front of several."""
        port = self.actions_port if self.instances == 1 else self.actions_entry_port
        return f"http://{self.host}:{port}"

    def name(self, server: str, instance: int) -> str:
        """The process name of ``server`` number ``instance`` (``rasa``, or ``rasa-2`` of several)."""
        return server if self.instances == 1 else f"{server}-{instance + 1}"

    @property
    def page_url(self) -> str:
        """URL of the chat page."""
        return f"http://{self.host}:{self.web_port}/"


def _get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return int(reply.status), reply.read()
    except urllib.error.HTTPError as error:
        return int(error.code), b""


def post_json(url: str, body: Any, timeout: float = 60.0) -> Any:
    """POST ``body`` as JSON and return the decoded JSON reply."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as reply:
        return json.loads(reply.read() or b"null")


class Stack:
    """The three servers of the assistant as child processes."""

    def __init__(self, config: StackConfig) -> None:
        """Prepare to run with ``config``; nothing starts until :meth:`start`."""
        self.config = config
        self.token = os.environ.get("MATCHMAKER_RASA_TOKEN") or secrets.token_hex(16)
        self.push_secret = (dict(config.extra_env).get("MATCHMAKER_PUSH_SECRET")
                            or os.environ.get("MATCHMAKER_PUSH_SECRET") or secrets.token_hex(32))
        self.gateway_secret = os.environ.get("MATCHMAKER_GATEWAY_SECRET") or secrets.token_hex(32)
        self.admin_token = (dict(config.extra_env).get("MATCHMAKER_ADMIN_TOKEN")
                            or os.environ.get("MATCHMAKER_ADMIN_TOKEN") or secrets.token_urlsafe(24))
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: dict[str, IO[bytes]] = {}
        self.log_dir = config.var_dir / "logs"

    def environment(self) -> dict[str, str]:
        """The environment every child process gets.

        ``MATCHMAKER_PUSH_SECRET`` (the action server's web pushes to the Rasa server) and
        ``MATCHMAKER_GATEWAY_SECRET`` (the messenger gateways' turns) and
        ``MATCHMAKER_ADMIN_TOKEN`` (the statistics) are new random secrets per run unless the
        environment sets them; ``MATCHMAKER_RASA_URL`` is where the Rasa server listens.
        """
        env = dict(os.environ)
        env.update({
            "PYTHONPATH": str(PROJECT_ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false", "MATCHMAKER_VAR_DIR": str(self.config.var_dir),
            "MATCHMAKER_ACTIONS_PORT": str(self.config.actions_port),
            "MATCHMAKER_ACTIONS_URL": self.config.actions_url,
            "MATCHMAKER_TRACKER_DB": str(self.config.var_dir / "trackers.db"),
            "MATCHMAKER_PUSH_SECRET": self.push_secret, "MATCHMAKER_RASA_URL": self.config.entry_url,
            "MATCHMAKER_RASA_PUSH_URLS": ",".join(self.config.rasa_urls),
            "MATCHMAKER_GATEWAY_SECRET": self.gateway_secret, "MATCHMAKER_ADMIN_TOKEN": self.admin_token,
        })
        env.update(dict(self.config.extra_env))
        if env.get("MATCHMAKER_PROFILE") == "production":
            env.update(production_stores(env))
        return env

    def start(self) -> None:
        """Start the servers, each waited for until it answers.

        Several instances of a server start together and are then waited for one by one;
        with more than one, nginx is started in front of them.
        """
        self.log_dir.mkdir(parents=True, exist_ok=True)
        cfg = self.config
        self.write_endpoints()
        if cfg.instances > 1:
            self.start_entry()
        for instance in range(cfg.instances):
            self.spawn_actions(instance)
        for instance in range(cfg.instances):
            self.wait_actions(instance)
        for instance in range(cfg.instances):
            self.spawn_rasa(instance)
        for instance in range(cfg.instances):
            self.wait_rasa(instance)
        self._spawn("web", [str(APP_PYTHON), "-m", "bot.webpage", "--host", cfg.host, "--port", str(cfg.web_port),
                            "--socket-url", cfg.entry_url])
        self._wait("web", cfg.page_url, timeout=60)
        self.start_gateways()

    def spawn_rasa(self, instance: int = 0) -> None:
        """Start Rasa server number ``instance`` (not waited for: see :meth:`wait_rasa`)."""
        cfg = self.config
        self._spawn(cfg.name("rasa", instance),
                    [str(RASA_BIN), "run", "--model", str(cfg.model), "--endpoints", str(self.endpoints_path),
                     "--credentials", "credentials.yml", "--interface", cfg.host,
                     "--port", str(cfg.rasa_port + instance), "--cors", "*", "--enable-api",
                     "--auth-token", self.token])

    def wait_rasa(self, instance: int = 0) -> None:
        """Wait until Rasa server number ``instance`` answers, then warm its parser in both languages."""
        cfg = self.config
        url = cfg.rasa_urls[instance]
        self._wait(cfg.name("rasa", instance), f"{url}/status?token={self.token}", timeout=600)
        for text in ("hello", "你好", "We need a better battery material", "我们需要电池材料技术"):
            post_json(f"{url}/model/parse?token={self.token}", {"text": text})

    def start_entry(self) -> None:
        """Start nginx in front of the Rasa servers and the action servers."""
        cfg = self.config
        run_dir = cfg.var_dir / "nginx"
        run_dir.mkdir(parents=True, exist_ok=True)
        servers = "\n".join(f"        server {cfg.host}:{cfg.rasa_port + i} max_fails=1 fail_timeout=3s;"
                            for i in range(cfg.instances))
        actions = "\n".join(f"        server {cfg.host}:{cfg.actions_port + i} max_fails=1 fail_timeout=3s;"
                            for i in range(cfg.instances))
        conf = fill((PROJECT_ROOT / "infra" / "nginx.conf.template").read_text(encoding="utf-8"), {
            "RUN_DIR": str(run_dir), "LOG_DIR": str(self.log_dir), "HOST": cfg.host,
            "ENTRY_PORT": str(cfg.entry_port), "ACTIONS_ENTRY_PORT": str(cfg.actions_entry_port),
            "RASA_SERVERS": servers, "ACTION_SERVERS": actions})
        (run_dir / "nginx.conf").write_text(conf, encoding="utf-8")
        self._spawn("nginx", [shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(run_dir), "-c", str(run_dir / "nginx.conf")])

        def listening() -> bool:
            try:
                with socket.create_connection((cfg.host, cfg.entry_port), timeout=1):
                    return True
            except OSError:
                return False

        self._wait_until("nginx", listening, timeout=30, pause=0.2)

    def gateways(self) -> dict[str, bool]:
        """Which messenger gateways this run starts (each needs its token)."""
        env = self.environment()
        return {"telegram": bool(env.get("TELEGRAM_BOT_TOKEN")), "wechat": bool(env.get("WECHAT_TOKEN"))}

    def start_gateways(self) -> None:
        """Start the Telegram and WeChat gateways whose tokens are set, each waited for."""
        cfg = self.config
        wanted = self.gateways()
        if wanted["telegram"]:
            ready = self.log_dir / "telegram.ready"
            ready.unlink(missing_ok=True)
            self._spawn("telegram", [str(APP_PYTHON), "-m", "channels.telegram_gateway", "--ready-file", str(ready)])
            self._wait_for_file("telegram", ready, timeout=60)
        if wanted["wechat"]:
            self._spawn("wechat", [str(APP_PYTHON), "-m", "channels.wechat_gateway", "--host", cfg.host,
                                   "--port", str(cfg.wechat_port)])
            self._wait("wechat", f"http://{cfg.host}:{cfg.wechat_port}/health", timeout=60)

    @property
    def wechat_url(self) -> str:
        """The WeChat server URL (what the official account's server configuration points at)."""
        return f"http://{self.config.host}:{self.config.wechat_port}/wechat"

    @property
    def endpoints_path(self) -> Path:
        """Where :meth:`write_endpoints` puts the filled endpoints file."""
        return self.config.var_dir / "endpoints.yml"

    def write_endpoints(self) -> Path:
        """Fill the endpoints template's ``${VARIABLES}`` from the environment into the run folder.

        The production template (``endpoints.production.yml``) keeps its passwords as
        references that Rasa resolves from its environment, so no secret is written.
        """
        env = self.environment()
        name = "endpoints.production.yml" if env.get("MATCHMAKER_PROFILE") == "production" else "endpoints.yml"
        template = string.Template((PROJECT_ROOT / name).read_text(encoding="utf-8"))
        self.endpoints_path.write_text(template.substitute(env), encoding="utf-8")
        return self.endpoints_path

    def spawn_actions(self, instance: int = 0) -> None:
        """Start action server number ``instance`` (not waited for: see :meth:`wait_actions`).

        Of several, each keeps its caches in a folder of its own (``var/actions-N``); what
        they share lives in the database, the index store and the behaviour store.
        """
        cfg = self.config
        own: dict[str, str] = {}
        if cfg.instances > 1:
            own["MATCHMAKER_VAR_DIR"] = str(cfg.var_dir / f"actions-{instance + 1}")
        self._spawn(cfg.name("actions", instance), [str(APP_PYTHON), "-m", "actions.server", "--host", cfg.host,
                                                    "--port", str(cfg.actions_port + instance)], own)

    def wait_actions(self, instance: int = 0) -> None:
        """Wait until action server number ``instance`` answers (it answers once it is warm)."""
        cfg = self.config
        self._wait(cfg.name("actions", instance), f"http://{cfg.host}:{cfg.actions_port + instance}/health",
                   timeout=600)

    def start_actions(self, instance: int = 0) -> None:
        """Start (or restart) action server number ``instance`` and wait until it is warm."""
        self.spawn_actions(instance)
        self.wait_actions(instance)

    def start_rasa(self, instance: int = 0) -> None:
        """Start (or restart) Rasa server number ``instance`` and wait until it answers."""
        self.spawn_rasa(instance)
        self.wait_rasa(instance)

    def kill_process(self, name: str) -> None:
        """Kill one server at once (SIGKILL), as a crash would."""
        process = self._processes.pop(name, None)
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        log = self._logs.pop(name, None)
        if log is not None:
            log.close()

    def stop_process(self, name: str) -> None:
        """Stop one server (SIGTERM, then SIGKILL after 20 s)."""
        process = self._processes.pop(name, None)
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log = self._logs.pop(name, None)
        if log is not None:
            log.close()

    def stop(self) -> None:
        """Stop every server, newest first."""
        for name in reversed(list(self._processes)):
            self.stop_process(name)

    def dead(self) -> list[str]:
        """Names of servers that exited."""
        return [name for name, p in self._processes.items() if p.poll() is not None]

    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, name: str, command: list[str], own_env: dict[str, str] | None = None) -> None:
        log = (self.log_dir / f"{name}.log").open("ab")
        self._logs[name] = log
        self._processes[name] = subprocess.Popen(command, cwd=PROJECT_ROOT, env={**self.environment(), **(own_env or {})},
                                                 stdout=log, stderr=subprocess.STDOUT,
                                                 start_new_session=True)

    def _wait_until(self, name: str, ready: Callable[[], bool], timeout: float, pause: float) -> None:
        """Poll ``ready`` until it holds; raise when ``name`` exits or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._processes[name].poll() is not None:
                raise StackError(f"{name} exited; see {self.log_dir / (name + '.log')}")
            if ready():
                return
            time.sleep(pause)
        raise StackError(f"{name} was not ready within {timeout:.0f} s; see {self.log_dir / (name + '.log')}")

    def _wait_for_file(self, name: str, path: Path, timeout: float) -> None:
        self._wait_until(name, path.exists, timeout, pause=0.2)

    def _wait(self, name: str, url: str, timeout: float) -> None:
        def answers() -> bool:
            try:
                return _get(url)[0] == 200
            except OSError:
                return False

        self._wait_until(name, answers, timeout, pause=1.0)


def fill(template: str, values: dict[str, str]) -> str:
    """Replace each ``${NAME}`` of ``values`` in ``template``; every other ``$`` stays as it is."""
    for name, value in values.items():
        template = template.replace("${" + name + "}", value)
    return template


PRODUCTION_LOCK_SECONDS = 30
"""How long a turn may hold its conversation's lock (Rasa's ``TICKET_LOCK_LIFETIME``, 60 by
default): also how long a turn waits behind the ticket of a Rasa server that died."""


def production_stores(env: dict[str, str]) -> dict[str, str]:
    """The tracker store (PostgreSQL) and lock store (Redis) settings the production
    endpoints file names, taken from ``MATCHMAKER_DATABASE_URL`` and ``MATCHMAKER_REDIS_URL``.

    Raises:
        StackError: when either URL is missing or malformed.
    """
    database, redis = env.get("MATCHMAKER_DATABASE_URL", ""), env.get("MATCHMAKER_REDIS_URL", "")
    db, lock = urlsplit(database), urlsplit(redis)
    if db.scheme not in ("postgresql", "postgres") or not db.hostname or not db.username:
        raise StackError("the production profile needs MATCHMAKER_DATABASE_URL=postgresql://user:password@host:port/db")
    if lock.scheme != "redis" or not lock.hostname:
        raise StackError("the production profile needs MATCHMAKER_REDIS_URL=redis://:password@host:port/db")
    return {
        "MATCHMAKER_TRACKER_DB_HOST": db.hostname, "MATCHMAKER_TRACKER_DB_PORT": str(db.port or 5432),
        "MATCHMAKER_TRACKER_DB_NAME": env.get("MATCHMAKER_TRACKER_DB_NAME", "rasa"),
        "MATCHMAKER_TRACKER_DB_USER": unquote(db.username), "MATCHMAKER_TRACKER_DB_PASSWORD": unquote(db.password or ""),
        "MATCHMAKER_REDIS_HOST": lock.hostname, "MATCHMAKER_REDIS_PORT": str(lock.port or 6379),
        "MATCHMAKER_REDIS_PASSWORD": unquote(lock.password or ""),
        "MATCHMAKER_REDIS_DB": lock.path.strip("/") or "0",
        "TICKET_LOCK_LIFETIME": env.get("TICKET_LOCK_LIFETIME") or str(PRODUCTION_LOCK_SECONDS),
    }


def messenger_lines(stack: Stack) -> str:
    """Whether the Telegram and WeChat channels run, and where."""
    env = stack.environment()
    on = stack.gateways()
    if on["telegram"]:
        mode = f"webhook {env['TELEGRAM_WEBHOOK_URL']}" if env.get("TELEGRAM_WEBHOOK_URL") else "long polling"
        telegram = f"Telegram:      on ({mode})"
    else:
        telegram = "Telegram:      off (set TELEGRAM_BOT_TOKEN to serve a bot)"
    if on["wechat"]:
        safe = "safe mode" if env.get("WECHAT_AES_KEY") else "plain mode"
        push = "customer-service push on" if env.get("WECHAT_APP_ID") and env.get("WECHAT_APP_SECRET") \
            else "no push: set WECHAT_APP_ID and WECHAT_APP_SECRET"
        wechat = f"WeChat:        on at {stack.wechat_url} ({safe}, {push})"
    else:
        wechat = "WeChat:        off (set WECHAT_TOKEN to serve an official account)"
    return f"{telegram}\n{wechat}"


DEMO_BROKER = "Platform Technology Brokers (demo)"


def demo_sign_in() -> str:
    """A line with a ready sign-in code for a demo owner, so one person can try both sides."""
    from matchmaker.accounts import SQLiteAccountStore, demo_owner_invite
    from storage.sql import open_database

    connection = open_database(load_settings())
    try:
        accounts = SQLiteAccountStore(connection)
        demo = demo_owner_invite(accounts, connection)
        broker = accounts.create_invite(DEMO_BROKER, None, role="intermediary")
    finally:
        connection.close()
    if demo is None:
        return "No demo listings: nobody to sign in as."
    invite = demo.invite
    return (f"Demo owner:    in a second tab say 'login {invite.code}' to act for {invite.participant.display_name}\n"
            f"               (owner of {demo.listings} listings, e.g. “{demo.example_title[:70]}”; "
            "code valid 24 h, once)\n"
            f"Demo broker:   in a third tab say 'login {broker.code}' to act for {broker.participant.display_name}"
            " (a technology broker covering every field and region), then 'queue'")


def main() -> None:
    """Run the assistant until Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--rasa-port", type=int, default=5005)
    parser.add_argument("--actions-port", type=int, default=5055)
    parser.add_argument("--web-port", type=int, default=8080)
    parser.add_argument("--wechat-port", type=int, default=8090)
    parser.add_argument("--instances", type=int, default=None,
                        help="Rasa servers and action servers each (default: 2 in the production profile, else 1)")
    args = parser.parse_args()
    production = load_settings().profile == "production"
    instances = args.instances or (2 if production else 1)
    stack = Stack(StackConfig(model=args.model, rasa_port=args.rasa_port, actions_port=args.actions_port,
                              web_port=args.web_port, wechat_port=args.wechat_port, instances=instances))
    stopping = False

    def request_stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    servers = "the action server, the Rasa server" if instances == 1 else \
        f"{instances} action servers, {instances} Rasa servers, nginx"
    print(f"starting {servers} and the web page (logs in {stack.log_dir}) ...", flush=True)
    try:
        stack.start()
        servers = (f"Servers:       {instances} Rasa ({', '.join(stack.config.rasa_urls)}) and {instances} action "
                   f"servers behind nginx, conversations in PostgreSQL, locks in Redis\n" if instances > 1 else "")
        print(f"\nChat page:     {stack.config.page_url}\n"
              f"REST webhook:  {stack.config.entry_url}/webhooks/rest/webhook\n{servers}"
              f"Statistics:    {stack.config.page_url.rstrip('/')}/admin/stats (operator token: {stack.admin_token})\n"
              f"{messenger_lines(stack)}\n"
              f"{demo_sign_in()}\n"
              "Press Ctrl-C to stop.", flush=True)
        while not stopping and not stack.dead():
            time.sleep(0.5)
        if stack.dead():
            print(f"server(s) exited: {', '.join(stack.dead())}; see {stack.log_dir}", file=sys.stderr)
    except StackError as error:
        print(f"could not start: {error}", file=sys.stderr)
    finally:
        print("stopping ...", flush=True)
        stack.stop()


if __name__ == "__main__":
    main()
