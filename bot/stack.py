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
import signal
import string
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable

from matchmaker.settings import PROJECT_ROOT, load_settings

RASA_BIN = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"
APP_PYTHON = PROJECT_ROOT / ".venv" / "bin" / "python"


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

    @property
    def rasa_url(self) -> str:
        """Base URL of the Rasa server."""
        return f"http://{self.host}:{self.rasa_port}"

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
            "MATCHMAKER_TRACKER_DB": str(self.config.var_dir / "trackers.db"),
            "MATCHMAKER_PUSH_SECRET": self.push_secret, "MATCHMAKER_RASA_URL": self.config.rasa_url,
            "MATCHMAKER_GATEWAY_SECRET": self.gateway_secret, "MATCHMAKER_ADMIN_TOKEN": self.admin_token,
        })
        env.update(dict(self.config.extra_env))
        return env

    def start(self) -> None:
        """Start the servers one after the other, each waited for until it answers."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        cfg = self.config
        endpoints = self.write_endpoints()
        self.start_actions()
        self._spawn("rasa", [str(RASA_BIN), "run", "--model", str(cfg.model), "--endpoints", str(endpoints),
                             "--credentials", "credentials.yml", "--interface", cfg.host,
                             "--port", str(cfg.rasa_port), "--cors", "*", "--enable-api",
                             "--auth-token", self.token])
        self._wait("rasa", f"{cfg.rasa_url}/status?token={self.token}", timeout=600)
        for text in ("hello", "你好", "We need a better battery material", "我们需要电池材料技术"):
            post_json(f"{cfg.rasa_url}/model/parse?token={self.token}", {"text": text})
        self._spawn("web", [str(APP_PYTHON), "-m", "bot.webpage", "--host", cfg.host, "--port", str(cfg.web_port),
                            "--socket-url", cfg.rasa_url])
        self._wait("web", cfg.page_url, timeout=60)
        self.start_gateways()

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

    def write_endpoints(self) -> Path:
        """Fill ``endpoints.yml``'s ``${VARIABLES}`` from the environment into the run folder."""
        template = string.Template((PROJECT_ROOT / "endpoints.yml").read_text(encoding="utf-8"))
        target = self.config.var_dir / "endpoints.yml"
        target.write_text(template.substitute(self.environment()), encoding="utf-8")
        return target

    def start_actions(self) -> None:
        """Start (or restart) the action server and wait until it is warm."""
        cfg = self.config
        self._spawn("actions", [str(APP_PYTHON), "-m", "actions.server", "--host", cfg.host,
                                "--port", str(cfg.actions_port)])
        self._wait("actions", f"http://{cfg.host}:{cfg.actions_port}/health", timeout=600)

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

    def _spawn(self, name: str, command: list[str]) -> None:
        log = (self.log_dir / f"{name}.log").open("ab")
        self._logs[name] = log
        self._processes[name] = subprocess.Popen(command, cwd=PROJECT_ROOT, env=self.environment(),
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
    from matchmaker.listings import connect

    connection = connect(load_settings().database_path)
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
    args = parser.parse_args()
    stack = Stack(StackConfig(model=args.model, rasa_port=args.rasa_port, actions_port=args.actions_port,
                              web_port=args.web_port, wechat_port=args.wechat_port))
    stopping = False

    def request_stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    print("starting the action server, the Rasa server and the web page (logs in "
          f"{stack.log_dir}) ...", flush=True)
    try:
        stack.start()
        print(f"\nChat page:     {stack.config.page_url}\n"
              f"REST webhook:  {stack.config.rasa_url}/webhooks/rest/webhook\n"
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
