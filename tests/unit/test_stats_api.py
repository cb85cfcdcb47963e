"""The statistics API (bot.stats_api) and its routes in the page server (bot.webpage)."""

from __future__ import annotations

import csv
import http.client
import io
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.stats_api import StatsApi, StatsResponse, parse_query
from bot.webpage import DEFAULT_WEB_ROOT, create_server, resolve_file
from tests.unit.test_stats import NOW, build_world

TOKEN = "operator-secret-7f3a"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SOCKET_URL = "http://127.0.0.1:5005"
ECHARTS_STUB = "/*! echarts stub */ var echarts = {};"


class FakeNames:
    """Display names: the code in upper case, tagged with the language."""

    def field_name(self, code: str, language: str) -> str:
        return f"{code.upper()}@{language}"

    def region_name(self, code: str, language: str) -> str:
        return f"{code.title()}@{language}"


@pytest.fixture()
def database(tmp_path: Path) -> Path:
    path = tmp_path / "m.db"
    build_world(path).close()
    return path


@pytest.fixture()
def api(database: Path) -> StatsApi:
    return StatsApi(database, TOKEN, open_names=FakeNames, clock=lambda: NOW)


def body_json(reply: StatsResponse) -> dict[str, object]:
    assert reply.content_type == "application/json; charset=utf-8"
    decoded = json.loads(reply.body.decode("utf-8"))
    assert isinstance(decoded, dict)
    return decoded


def test_no_configured_token_disables_the_statistics(database: Path) -> None:
    reply = StatsApi(database, "", clock=lambda: NOW).handle("/stats", "", AUTH)
    assert (reply.status, body_json(reply)) == (503, {"error": "statistics are disabled: set MATCHMAKER_ADMIN_TOKEN"})
    assert StatsApi(database, "   ").handle("/stats.csv", "", {"Authorization": "Bearer "}).status == 503


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer wrong-token"},
    {"Authorization": f"Bearer {TOKEN}x"},
    {"Authorization": f"Basic {TOKEN}"},
    {"Authorization": TOKEN},
    {"X-Token": TOKEN},
])
def test_a_missing_or_wrong_token_is_a_401(api: StatsApi, headers: dict[str, str]) -> None:
    for path in ("/stats", "/stats.csv"):
        reply = api.handle(path, "", headers)
        assert reply.status == 401
        assert body_json(reply) == {"error": "unauthorized: send the operator token as 'Authorization: Bearer <token>'"}
        assert ("WWW-Authenticate", 'Bearer realm="matchmaker-stats"') in reply.headers


def test_the_token_is_never_taken_from_the_url(api: StatsApi) -> None:
    assert api.handle("/stats", f"token={TOKEN}", {}).status == 401
    reply = api.handle("/stats", f"token={TOKEN}", AUTH)
    assert (reply.status, body_json(reply)) == (400, {"error": "unknown parameter 'token'; known: since, until, field, region, lang"})


def test_the_database_is_opened_on_the_first_authorised_request(tmp_path: Path) -> None:
    path = tmp_path / "later" / "m.db"
    api = StatsApi(path, TOKEN, clock=lambda: NOW)
    assert api.handle("/stats", "", {}).status == 401
    assert not path.parent.exists()
    reply = api.handle("/stats", "", AUTH)
    assert reply.status == 200 and path.is_file()
    data = body_json(reply)
    assert (data["searches"], data["contacts"], data["listings_by_field"]) == (0, 0, {})
    assert data["names"] == {"fields": {}, "regions": {}}


@pytest.mark.parametrize(("query", "message"), [
    ("since=2026-13-01", "since must be a date YYYY-MM-DD, got '2026-13-01'"),
    ("since=2026/12/01", "since must be a date YYYY-MM-DD, got '2026/12/01'"),
    ("until=20261201", "until must be a date YYYY-MM-DD, got '20261201'"),
    ("until=2026-02-30", "until must be a date YYYY-MM-DD, got '2026-02-30'"),
    ("since=2026-12-08&until=2026-12-01", "until must not be before since"),
    ("lang=fr", "lang must be one of zh, en, got 'fr'"),
    ("field=a&field=b", "parameter 'field' is given twice"),
    ("region=%01x", "region must be a code of 1-100 characters without control characters"),
    ("field=" + "x" * 101, "field must be a code of 1-100 characters without control characters"),
])
def test_bad_query_values_are_a_400(api: StatsApi, query: str, message: str) -> None:
    reply = api.handle("/stats", query, AUTH)
    assert (reply.status, body_json(reply)) == (400, {"error": message})


def test_both_days_of_a_period_are_included() -> None:
    request = parse_query("since=2026-11-30&until=2026-12-06&field=new_materials&lang=en")
    assert (request.filter.since, request.filter.until) == (1795996800.0, 1795996800.0 + 7 * 86400)
    assert (request.filter.field, request.filter.region, request.language) == ("new_materials", None, "en")
    empty = parse_query("since=&until=&field=&region=")
    assert (empty.filter.since, empty.filter.until, empty.filter.field, empty.language) == (None, None, None, "zh")


def test_the_json_holds_the_filtered_figures_and_labels(api: StatsApi) -> None:
    reply = api.handle("/stats", "since=2026-11-30&until=2026-12-06&lang=en", {"authorization": f"bearer {TOKEN}"})
    assert reply.status == 200
    data = body_json(reply)
    assert (data["searches"], data["contacts"], data["accepted"], data["deals"]) == (2, 4, 2, 1)
    assert data["time_to_first_answer"] == {"count": 3, "median_hours": 2.0, "p90_hours": 8.4}
    assert data["funnel_by_week"] == {"2026-W49": {"searches": 2, "contacts": 4, "accepted": 2, "deals": 1}}
    assert data["filter"] == {"since": "2026-11-30T00:00:00Z", "until": "2026-12-07T00:00:00Z",
                              "field": None, "region": None}
    labels = data["labels"]
    assert isinstance(labels, dict) and labels["funnel_by_week"] == "Funnel by week"
    assert data["names"] == {
        "fields": {"biomedicine": "BIOMEDICINE@en", "energy_environment": "ENERGY_ENVIRONMENT@en",
                   "new_materials": "NEW_MATERIALS@en"},
        "regions": {"beijing": "Beijing@en", "jiangsu": "Jiangsu@en", "zhejiang": "Zhejiang@en"}}
    chinese = body_json(api.handle("/stats", "region=zhejiang", AUTH))
    assert (chinese["language"], chinese["contacts"]) == ("zh", 1)
    labels = chinese["labels"]
    assert isinstance(labels, dict) and labels["funnel_by_week"] == "每周撮合漏斗"


def test_the_csv_is_an_attachment_with_every_figure(api: StatsApi) -> None:
    reply = api.handle("/stats.csv", "field=new_materials", AUTH)
    assert (reply.status, reply.content_type) == (200, "text/csv; charset=utf-8")
    assert reply.headers == (("Content-Disposition", 'attachment; filename="platform-stats.csv"'),)
    rows = list(csv.reader(io.StringIO(reply.body.decode("utf-8"))))
    assert rows[0] == ["section", "key", "metric", "value"]
    assert ["summary", "", "contacts", "2"] in rows
    assert ["listings_by_field", "new_materials", "funding", "1"] in rows
    assert ["time_to_first_answer", "", "median_hours", "5.0"] in rows


def test_an_unreadable_database_is_a_503(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    reply = StatsApi(tmp_path / "dir.db", TOKEN).handle("/stats", "", AUTH)
    assert (reply.status, body_json(reply)) == (503, {"error": "statistics are unavailable"})


def test_other_paths_are_not_the_api(api: StatsApi) -> None:
    assert StatsApi.handles("/stats") and StatsApi.handles("/stats.csv")
    assert not StatsApi.handles("/stats/") and not StatsApi.handles("/stats.json")
    assert api.handle("/stats.json", "", AUTH).status == 404


# -- the page server ------------------------------------------------------------------


@pytest.fixture()
def web_root(tmp_path: Path) -> Path:
    root = tmp_path / "web"
    (root / "static").mkdir(parents=True)
    (root / "node_modules" / "echarts" / "dist").mkdir(parents=True)
    (root / "stats.html").write_text("<!DOCTYPE html><title>stats</title>", encoding="utf-8")
    (root / "static" / "stats.js").write_text("1;", encoding="utf-8")
    (root / "node_modules" / "echarts" / "dist" / "echarts.min.js").write_text(ECHARTS_STUB, encoding="utf-8")
    (root / "node_modules" / "echarts" / "package.json").write_text("{}", encoding="utf-8")
    return root


@pytest.fixture()
def server(web_root: Path, database: Path) -> Iterator[tuple[str, int]]:
    srv = create_server("127.0.0.1", 0, SOCKET_URL, web_root, admin_token=TOKEN, stats_database=database)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        host, port = srv.server_address[:2]
        yield str(host), int(port)
    finally:
        srv.shutdown()
        srv.server_close()


def fetch(server: tuple[str, int], path: str, method: str = "GET",
          headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(*server, timeout=5)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def test_the_server_serves_the_page_and_echarts(server: tuple[str, int]) -> None:
    status, headers, body = fetch(server, "/admin/stats")
    assert (status, headers["content-type"], body) == (200, "text/html; charset=utf-8",
                                                       b"<!DOCTYPE html><title>stats</title>")
    assert "script-src 'self';" in headers["content-security-policy"]
    status, headers, body = fetch(server, "/vendor/echarts.js")
    assert (status, headers["content-type"], body) == (200, "text/javascript; charset=utf-8", ECHARTS_STUB.encode())
    for path in ("/node_modules/echarts/dist/echarts.min.js", "/vendor/echarts.min.js", "/admin/stats.html",
                 "/admin/", "/vendor/../node_modules/echarts/package.json"):
        assert fetch(server, path)[0] == 404, path


def test_the_server_answers_stats_with_the_token_only(server: tuple[str, int]) -> None:
    status, headers, body = fetch(server, "/stats")
    assert (status, json.loads(body)) == (401, {"error": "unauthorized: send the operator token as 'Authorization: Bearer <token>'"})
    assert headers["www-authenticate"] == 'Bearer realm="matchmaker-stats"'
    assert fetch(server, "/stats", headers={"Authorization": "Bearer nope"})[0] == 401
    status, headers, body = fetch(server, "/stats?lang=en&region=jiangsu", headers=AUTH)
    data = json.loads(body)
    assert (status, headers["content-type"], headers["cache-control"]) == (200, "application/json; charset=utf-8",
                                                                          "no-store")
    assert (data["contacts"], data["accepted"], data["deals"], data["searches"]) == (4, 2, 1, 2)
    assert data["labels"]["deals"] == "Deals"
    assert headers["x-content-type-options"] == "nosniff"


def test_the_server_sends_the_csv_as_a_download(server: tuple[str, int]) -> None:
    status, headers, body = fetch(server, "/stats.csv?since=2026-12-07", headers=AUTH)
    assert (status, headers["content-type"]) == (200, "text/csv; charset=utf-8")
    assert headers["content-disposition"] == 'attachment; filename="platform-stats.csv"'
    rows = list(csv.reader(io.StringIO(body.decode("utf-8"))))
    assert ["summary", "", "contacts", "1"] in rows and ["summary", "", "searches", "2"] in rows
    status, headers, body = fetch(server, "/stats.csv", method="HEAD", headers=AUTH)
    assert (status, body) == (200, b"") and int(headers["content-length"]) > 100
    assert fetch(server, "/stats?since=yesterday", headers=AUTH)[0] == 400
    assert fetch(server, "/stats", method="POST", headers=AUTH)[0] == 405


def test_the_committed_page_loads_only_its_own_scripts() -> None:
    page = resolve_file(DEFAULT_WEB_ROOT, "/admin/stats")
    assert page is not None
    html = page.read_text(encoding="utf-8")
    for needed in ('src="/vendor/echarts.js"', 'src="/static/stats.js"', 'href="/static/stats.css"',
                   'id="chart-fields"', 'id="chart-regions"', 'id="chart-funnel"', 'type="password"'):
        assert needed in html
    assert "<script>" not in html and "style=" not in html
    for name in ("stats.js", "stats.css"):
        assert resolve_file(DEFAULT_WEB_ROOT, f"/static/{name}") is not None
    bundle = resolve_file(DEFAULT_WEB_ROOT, "/vendor/echarts.js")
    assert bundle is not None and bundle.name == "echarts.min.js", "run 'npm ci' in bot/web"
    script = (DEFAULT_WEB_ROOT / "static" / "stats.js").read_text(encoding="utf-8")
    assert "sessionStorage" in script and '"Bearer "' in script and "innerHTML" not in script
