"""The chat page server (bot.webpage): what it serves, what it refuses, its headers."""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.webpage import (
    DEFAULT_WEB_ROOT,
    content_security_policy,
    create_server,
    page_url,
    render_config,
    resolve_file,
)

SOCKET_URL = "http://127.0.0.1:5005"


@pytest.fixture
def web_root(tmp_path: Path) -> Path:
    root = tmp_path / "web"
    (root / "static").mkdir(parents=True)
    (root / "node_modules" / "rasa-webchat" / "lib").mkdir(parents=True)
    (root / "index.html").write_text("<!DOCTYPE html><title>t</title>", encoding="utf-8")
    (root / "static" / "chat.css").write_text("body{}", encoding="utf-8")
    (root / "static" / "chat.js").write_text("1;", encoding="utf-8")
    (root / "static" / ".hidden").write_text("no", encoding="utf-8")
    (root / "node_modules" / "rasa-webchat" / "lib" / "index.js").write_text("var WebChat;", encoding="utf-8")
    (root / "node_modules" / "rasa-webchat" / "package.json").write_text("{}", encoding="utf-8")
    (root / "package.json").write_text("{}", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("secret", encoding="utf-8")
    (root / "static" / "link.txt").symlink_to(tmp_path / "secret.txt")
    return root


@pytest.fixture
def server(web_root: Path) -> Iterator[tuple[str, int]]:
    srv = create_server("127.0.0.1", 0, SOCKET_URL, web_root)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        host, port = srv.server_address[:2]
        yield str(host), int(port)
    finally:
        srv.shutdown()
        srv.server_close()


def fetch(server: tuple[str, int], path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(*server, timeout=5)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("path", "ctype"),
    [
        ("/", "text/html; charset=utf-8"),
        ("/index.html", "text/html; charset=utf-8"),
        ("/config.js", "text/javascript; charset=utf-8"),
        ("/static/chat.css", "text/css; charset=utf-8"),
        ("/static/chat.js", "text/javascript; charset=utf-8"),
        ("/vendor/rasa-webchat.js", "text/javascript; charset=utf-8"),
        ("/?x=1", "text/html; charset=utf-8"),
    ],
)
def test_serves_the_page_its_config_and_the_widget(server: tuple[str, int], path: str, ctype: str) -> None:
    status, headers, body = fetch(server, path)
    assert status == 200
    assert headers["content-type"] == ctype
    assert headers["x-content-type-options"] == "nosniff"
    assert "connect-src 'self' http://127.0.0.1:5005 ws://127.0.0.1:5005" in headers["content-security-policy"]
    assert body


@pytest.mark.parametrize(
    "path",
    [
        "/package.json",
        "/node_modules/rasa-webchat/lib/index.js",
        "/node_modules/rasa-webchat/package.json",
        "/static/",
        "/static/.hidden",
        "/static/../package.json",
        "/static/%2e%2e/package.json",
        "/static/..%2f..%2fsecret.txt",
        "/static/%2e%2e%5c..%5csecret.txt",
        "/static/link.txt",
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/vendor/../package.json",
        "/static/chat.css%00.js",
        "/favicon.ico",
    ],
)
def test_everything_else_is_a_404(server: tuple[str, int], path: str) -> None:
    status, _, body = fetch(server, path)
    assert status == 404
    assert b"secret" not in body


def test_head_has_no_body_and_other_methods_are_refused(server: tuple[str, int]) -> None:
    status, headers, body = fetch(server, "/", "HEAD")
    assert (status, body) == (200, b"")
    assert int(headers["content-length"]) > 0
    status, headers, _ = fetch(server, "/", "POST")
    assert status == 405
    assert headers["allow"] == "GET, HEAD"


def test_config_carries_the_socket_url_safely() -> None:
    body = render_config("https://chat.example.org/</script>").decode("ascii")
    assert body.startswith("window.MATCHMAKER_CONFIG = Object.freeze(")
    assert "</script>" not in body and "\\u003c/script\\u003e" in body
    assert '"socketPath": "/socket.io/"' in body
    assert '"initPayload": "/greet"' in body


def test_csp_follows_the_socket_scheme() -> None:
    csp = content_security_policy("https://bot.example.org:8443")
    assert "connect-src 'self' https://bot.example.org:8443 wss://bot.example.org:8443" in csp
    assert "script-src 'self';" in csp
    assert "default-src 'none'" in csp


@pytest.mark.parametrize(
    "bad",
    ["", "127.0.0.1:5005", "ftp://x", "http://", "http://a b", "http://x;script-src *", "http://u:p@x", "http://x/?q"],
)
def test_bad_socket_urls_are_refused(web_root: Path, bad: str) -> None:
    with pytest.raises(ValueError):
        create_server("127.0.0.1", 0, bad, web_root)


def test_page_url_and_the_committed_page(web_root: Path) -> None:
    srv = create_server("127.0.0.1", 0, SOCKET_URL, web_root)
    try:
        assert page_url(srv) == f"http://127.0.0.1:{srv.server_address[1]}/"
    finally:
        srv.server_close()
    index = resolve_file(DEFAULT_WEB_ROOT, "/")
    assert index is not None
    html = index.read_text(encoding="utf-8")
    for needed in ("/config.js", "/vendor/rasa-webchat.js", "/static/chat.js", "Collaborative Innovation Matchmaker"):
        assert needed in html
    assert "协同创新撮合助手" in html
    assert "<script>" not in html  # no inline script: the CSP allows none
    for name in ("chat.js", "chat.css", "favicon.svg"):
        assert resolve_file(DEFAULT_WEB_ROOT, f"/static/{name}") is not None
