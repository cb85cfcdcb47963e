"""The HTTP plumbing the API stand-ins share: a keep-alive HTTP/1.1 server on 127.0.0.1 run on a daemon thread.

A stand-in subclasses ``HttpStandin`` and implements ``_respond(method, path, content_type, body)``, which
returns ``(status, content_type, body)``. ``start()`` (or ``with``) listens on 127.0.0.1:<free port> and
hands every GET and POST to it; each answer goes out with a Content-Length, and connections are kept alive
the way the real APIs keep them. ``stop()`` lets the answers being written finish, then ends every
connection, so no handler thread keeps answering after it.

Nothing here does I/O until ``start()``.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, TypeVar

Responder = Callable[[str, str, str, bytes], tuple[int, str, bytes]]
"""``respond(method, path, content_type, body) -> (status, content_type, body)``."""
_Standin = TypeVar("_Standin", bound="HttpStandin")
_Item = TypeVar("_Item")


def wait_for_items(cond: threading.Condition, items: list[_Item], count: int, timeout: float,
                   what: str) -> list[_Item]:
    """Blocks until ``items`` (guarded by ``cond``, which is notified as they come) holds at least ``count``;
    a copy of it. AssertionError "expected <count> <what> within <timeout>s, got ..." on timeout."""
    with cond:
        if not cond.wait_for(lambda: len(items) >= count, timeout):
            raise AssertionError(f"expected {count} {what} within {timeout}s, got {len(items)}: {items!r}")
        return list(items)


class HttpStandin:
    """The base of an API stand-in: serves ``_respond`` over HTTP on 127.0.0.1:<free port>, on a daemon thread.

    A subclass implements ``_respond`` and may hook ``_on_start`` (run before the server is made) and
    ``_on_stop`` (run once it no longer counts as running, before it shuts down). ``label`` names the
    stand-in in the errors ("the WeChat stand-in is not running: ...") and ``thread_name`` the serving thread.
    """

    def __init__(self, label: str, thread_name: str) -> None:
        self._label = label
        self._thread_name = thread_name
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self: _Standin) -> _Standin:
        """Serves on 127.0.0.1:<free port> on a daemon thread; RuntimeError when it already is."""
        if self._server is not None:
            raise RuntimeError(f"{self._label} is already running")
        self._on_start()
        self._server = _Server(self._respond)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), name=self._thread_name,
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stops serving and closes every connection (nothing to do when it is not running)."""
        server, thread, self._server, self._thread = self._server, self._thread, None, None
        if server is None:
            return
        self._on_stop()
        server.shutdown()
        server.server_close()
        server.close_connections()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self: _Standin) -> _Standin:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port it listens on (once started)."""
        if self._server is None:
            raise RuntimeError(f"{self._label} is not running: call start() first")
        return self._server.port

    def _respond(self, method: str, path: str, content_type: str, raw: bytes) -> tuple[int, str, bytes]:
        """The answer ``(status, content_type, body)`` to one request; a subclass's job."""
        raise NotImplementedError

    def _on_start(self) -> None:
        """Runs in ``start()`` before the server is made."""

    def _on_stop(self) -> None:
        """Runs in ``stop()`` once the stand-in no longer counts as running, before the server shuts down."""


class _Server(ThreadingHTTPServer):
    """A threading HTTP server on 127.0.0.1:<free port> that hands each request to ``respond``."""

    daemon_threads = True

    def __init__(self, respond: Responder) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.respond = respond
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Condition()
        self.in_flight = 0

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self.server_address[1])

    def close_connections(self) -> None:
        """Lets the answers being written finish (a second at most), then ends the kept-alive connections,
        so no handler thread keeps answering after a stop."""
        with self.connections_lock:
            self.connections_lock.wait_for(lambda: self.in_flight == 0, timeout=1)
            connections = list(self.connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive, like the real APIs; every answer has a Content-Length."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms delayed-ACK stall between
    server: _Server

    def setup(self) -> None:
        """Registers the connection with the server."""
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        """Unregisters the connection."""
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        """Answers a GET."""
        self._dispatch()

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        """Answers a POST."""
        self._dispatch()

    def _dispatch(self) -> None:
        with self.server.connections_lock:
            self.server.in_flight += 1
        try:
            self._answer()
        finally:
            with self.server.connections_lock:
                self.server.in_flight -= 1
                self.server.connections_lock.notify_all()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        status, content_type, data = self.server.respond(self.command, self.path,
                                                         self.headers.get("Content-Type", ""), raw)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        """Stays quiet."""
