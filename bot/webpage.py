"""Serve the web chat page of the matchmaking assistant.

The page (``bot/web/``) embeds the rasa-webchat widget, which talks to Rasa's
socket.io channel. This module is a small standard-library HTTP server that serves
only a fixed set of files:

* ``/`` and ``/index.html``: the page;
* ``/threads``: the thread view (``threads.html``), and its JSON API under ``/api/threads``
  (``bot.thread_api``; the only POST the server takes);
* ``/admin/stats``: the operator's statistics page (``stats.html``), and its data under
  ``/stats`` and ``/stats.csv`` (``bot.stats_api``, for the holder of the operator token
  ``MATCHMAKER_ADMIN_TOKEN``);
* ``/config.js``: rendered at start-up, tells the page where the socket.io server is;
* ``/static/<file>``: the page's own CSS and JavaScript (``bot/web/static/``);
* ``/vendor/rasa-webchat.js``: the widget bundle, and ``/vendor/echarts.js``: Apache ECharts
  for the statistics page, both out of ``bot/web/node_modules``.

Anything else is a 404. The APIs open the database on their first request, never before.
Every response carries a Content-Security-Policy that allows
scripts from the page's own origin only and network connections to the page's origin
and the socket.io server.

Usage: ``python -m bot.webpage --host 127.0.0.1 --port 8080 --socket-url http://127.0.0.1:5005``
"""

from __future__ import annotations

import argparse
import json
import mimetypes
import os
import sys
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple
from urllib.parse import unquote, urlsplit

from bot.stats_api import TOKEN_ENV, StatsApi, open_default_names
from bot.thread_api import MAX_REQUEST_BYTES, SESSION_HEADER, ApiResponse, LazyBackend, ThreadApi, open_default_backend

DEFAULT_WEB_ROOT = Path(__file__).resolve().parent / "web"
DEFAULT_SOCKET_URL = "http://127.0.0.1:5005"
DEFAULT_SOCKET_PATH = "/socket.io/"
# The widget sends its "init payload" once per new conversation, and a null
# message when none is set; a greeting lets the assistant introduce itself.
DEFAULT_INIT_PAYLOAD = "/greet"
WIDGET_BUNDLE = Path("node_modules") / "rasa-webchat" / "lib" / "index.js"
CHARTS_BUNDLE = Path("node_modules") / "echarts" / "dist" / "echarts.min.js"
STATIC_DIR = "static"
THREADS_PAGE = "threads.html"
STATS_PAGE = "stats.html"
VENDOR_BUNDLES: Dict[str, Path] = {"/vendor/rasa-webchat.js": WIDGET_BUNDLE, "/vendor/echarts.js": CHARTS_BUNDLE}

CONTENT_TYPES: Dict[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}


def content_type(path: Path) -> str:
    """The Content-Type header for a file, by its suffix."""
    known = CONTENT_TYPES.get(path.suffix.lower())
    if known:
        return known
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def socket_origins(socket_url: str) -> Tuple[str, str]:
    """The HTTP and WebSocket origins of a socket.io server URL.

    Raises ``ValueError`` for anything but an absolute http(s) URL.
    """
    parts = urlsplit(socket_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"socket URL must be an absolute http(s) URL, got {socket_url!r}")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise ValueError(f"socket URL must not carry credentials, a query or a fragment: {socket_url!r}")
    if any(c in socket_url for c in " ;,'\"\\\r\n\t"):
        raise ValueError(f"socket URL contains a character not allowed in a CSP source: {socket_url!r}")
    http_origin = f"{parts.scheme}://{parts.netloc}"
    ws_scheme = "wss" if parts.scheme == "https" else "ws"
    return http_origin, f"{ws_scheme}://{parts.netloc}"


def content_security_policy(socket_url: str) -> str:
    """A CSP for the page that still lets the widget reach ``socket_url``.

    The widget injects its CSS as ``<style>`` elements and sets inline styles,
    hence ``'unsafe-inline'`` for styles only; scripts come from the page's origin.
    """
    http_origin, ws_origin = socket_origins(socket_url)
    directives = [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        f"connect-src 'self' {http_origin} {ws_origin}",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ]
    return "; ".join(directives)


def render_config(
    socket_url: str, socket_path: str = DEFAULT_SOCKET_PATH, init_payload: str = DEFAULT_INIT_PAYLOAD
) -> bytes:
    """The body of ``/config.js``: the page's settings as a global object."""
    settings = {"socketUrl": socket_url.rstrip("/"), "socketPath": socket_path, "initPayload": init_payload}
    encoded = json.dumps(settings, ensure_ascii=True)
    # Never let a value close the script or open markup.
    encoded = encoded.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f"window.MATCHMAKER_CONFIG = Object.freeze({encoded});\n".encode("ascii")


def resolve_file(web_root: Path, url_path: str) -> Optional[Path]:
    """The file under ``web_root`` that ``url_path`` names, or None for a 404.

    Only the pages, the vendor bundles and files directly inside ``static/`` are
    served; a path that resolves outside its directory (``..``, symlinks,
    encoded separators) is refused.
    """
    path = unquote(url_path)
    if "\x00" in path or "\\" in path:
        return None
    if path in ("/", "/index.html"):
        candidate, allowed_dir = web_root / "index.html", web_root
    elif path == "/threads":
        candidate, allowed_dir = web_root / THREADS_PAGE, web_root
    elif path == "/admin/stats":
        candidate, allowed_dir = web_root / STATS_PAGE, web_root
    elif path in VENDOR_BUNDLES:
        candidate = web_root / VENDOR_BUNDLES[path]
        allowed_dir = candidate.parent
    elif path.startswith(f"/{STATIC_DIR}/"):
        name = path[len(STATIC_DIR) + 2 :]
        if not name or "/" in name or name.startswith("."):
            return None
        allowed_dir = web_root / STATIC_DIR
        candidate = allowed_dir / name
    else:
        return None
    try:
        resolved = candidate.resolve(strict=True)
        allowed = allowed_dir.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if resolved.parent != allowed and allowed not in resolved.parents:
        return None
    return resolved if resolved.is_file() else None


class ChatPageHandler(BaseHTTPRequestHandler):
    """GET/HEAD handler for the pages, the thread API and the statistics; POST for the thread API only."""

    server_version = "MatchmakerWeb"

    def version_string(self) -> str:
        """The Server header: no Python version."""
        return self.server_version

    def __init__(self, *args: object, web_root: Path, config_js: bytes, csp: str, thread_api: ThreadApi,
                 stats_api: StatsApi, **kwargs: object) -> None:
        self.web_root = web_root
        self.config_js = config_js
        self.csp = csp
        self.thread_api = thread_api
        self.stats_api = stats_api
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._serve(send_body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(send_body=False)

    def do_POST(self) -> None:  # noqa: N802
        url_path = urlsplit(self.path).path
        if not ThreadApi.handles(url_path):
            self._refuse()
            return
        body, refusal = self._read_body()
        if refusal is not None:
            self._respond_api(refusal, send_body=True)
            return
        self._respond_api(self.thread_api.handle("POST", url_path, self.headers.get(SESSION_HEADER), body), send_body=True)

    def _refuse(self) -> None:
        self._respond(
            HTTPStatus.METHOD_NOT_ALLOWED,
            b"method not allowed\n",
            "text/plain; charset=utf-8",
            True,
            extra={"Allow": "GET, HEAD"},
        )

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse  # noqa: N815

    def _read_body(self) -> Tuple[Optional[bytes], Optional[ApiResponse]]:
        """The request body (at most ``MAX_REQUEST_BYTES``), or the reply that refuses it."""
        if self.headers.get("Transfer-Encoding"):
            self.close_connection = True
            return None, ApiResponse(411, {"error": "length_required"})
        raw = self.headers.get("Content-Length", "0").strip()
        if not raw.isdigit():
            self.close_connection = True
            return None, ApiResponse(400, {"error": "bad_request", "detail": "bad Content-Length"})
        length = int(raw)
        if length > MAX_REQUEST_BYTES:
            self.close_connection = True
            return None, ApiResponse(413, {"error": "too_large"})
        return self.rfile.read(length), None

    def _respond_api(self, reply: ApiResponse, send_body: bool) -> None:
        extra = {"Cache-Control": "no-store"}
        if reply.allow:
            extra["Allow"] = reply.allow
        self._respond(HTTPStatus(reply.status), reply.encoded(), CONTENT_TYPES[".json"], send_body, extra=extra)

    def _respond_stats(self, url_path: str, query: str, send_body: bool) -> None:
        reply = self.stats_api.handle(url_path, query, dict(self.headers.items()))
        extra = {"Cache-Control": "no-store", **dict(reply.headers)}
        self._respond(HTTPStatus(reply.status), reply.body, reply.content_type, send_body, extra=extra)

    def _serve(self, send_body: bool) -> None:
        parts = urlsplit(self.path)
        url_path = parts.path
        if StatsApi.handles(url_path):
            self._respond_stats(url_path, parts.query, send_body)
            return
        if ThreadApi.handles(url_path):
            method = "GET" if send_body else "HEAD"
            self._respond_api(self.thread_api.handle(method, url_path, self.headers.get(SESSION_HEADER), None), send_body)
            return
        if url_path == "/config.js":
            self._respond(HTTPStatus.OK, self.config_js, CONTENT_TYPES[".js"], send_body)
            return
        file_path = resolve_file(self.web_root, url_path)
        if file_path is None:
            self._respond(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8", send_body)
            return
        try:
            body = file_path.read_bytes()
        except OSError:
            self._respond(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8", send_body)
            return
        self._respond(HTTPStatus.OK, body, content_type(file_path), send_body)

    def _respond(
        self, status: HTTPStatus, body: bytes, ctype: str, send_body: bool, extra: Optional[Dict[str, str]] = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", self.csp)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Frame-Options", "DENY")
        extra = extra or {}
        if "Cache-Control" not in extra:
            self.send_header("Cache-Control", "no-cache")
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        sys.stderr.write(f"webpage: {self.address_string()} - {format % args}\n")


def create_server(
    host: str,
    port: int,
    socket_url: str,
    web_root: Path,
    socket_path: str = DEFAULT_SOCKET_PATH,
    init_payload: str = DEFAULT_INIT_PAYLOAD,
    thread_api: Optional[ThreadApi] = None,
    *,
    admin_token: str = "",
    stats_database: Optional[Path] = None,
) -> ThreadingHTTPServer:
    """An HTTP server (not yet serving) for the chat page in ``web_root``.

    ``socket_url`` is the socket.io server the page connects to; a bad URL raises
    ``ValueError``. Port 0 picks a free port (see ``server.server_address``).
    ``thread_api`` answers ``/api/threads``; by default it opens the configured database
    on its first request. ``/stats`` and ``/stats.csv`` answer the holder of
    ``admin_token`` (empty: statistics disabled) from ``stats_database`` (default: the
    configured database, opened on the first authorised request).
    """
    if not socket_path.startswith("/"):
        raise ValueError(f"socket path must start with '/', got {socket_path!r}")
    root = Path(web_root).resolve()
    handler = partial(
        ChatPageHandler,
        web_root=root,
        config_js=render_config(socket_url, socket_path, init_payload),
        csp=content_security_policy(socket_url),
        thread_api=thread_api or ThreadApi(LazyBackend(open_default_backend)),
        stats_api=StatsApi(stats_database, admin_token, open_names=open_default_names),
    )
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def page_url(server: ThreadingHTTPServer) -> str:
    """The URL of the page a running ``server`` serves."""
    host, port = server.server_address[:2]
    host_text = host.decode() if isinstance(host, bytes) else str(host)
    if ":" in host_text:
        host_text = f"[{host_text}]"
    return f"http://{host_text}:{port}/"


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command line: serve the chat page until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m bot.webpage", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument(
        "--socket-url", default=DEFAULT_SOCKET_URL, help="socket.io server of Rasa (default: %(default)s)"
    )
    parser.add_argument(
        "--socket-path", default=DEFAULT_SOCKET_PATH, help="socket.io path on that server (default: %(default)s)"
    )
    parser.add_argument(
        "--init-payload",
        default=DEFAULT_INIT_PAYLOAD,
        help="message the widget sends when a conversation starts (default: %(default)s)",
    )
    parser.add_argument(
        "--web-root", type=Path, default=DEFAULT_WEB_ROOT, help="directory with index.html, static/ and node_modules/"
    )
    args = parser.parse_args(argv)
    for bundle in VENDOR_BUNDLES.values():
        if not (args.web_root / bundle).is_file():
            print(f"warning: {bundle} missing: run 'npm ci' in {args.web_root}", file=sys.stderr)
    try:
        server = create_server(
            args.host, args.port, args.socket_url, args.web_root, args.socket_path, args.init_payload,
            admin_token=os.environ.get(TOKEN_ENV, ""),
        )
    except ValueError as exc:
        parser.error(str(exc))
    print(f"chat page: {page_url(server)} (socket.io server: {args.socket_url})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
