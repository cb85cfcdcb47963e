"""The operator's statistics page in a real browser: token, charts, language switch, filter, CSV.

Runs ``stats_page.mjs`` (playwright-core driving Debian's Chromium) against a page server of
its own (``create_server`` on a free port) over a temporary database with a few listings,
searches and threads; it needs neither the assistant nor the shared stack.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.webpage import DEFAULT_WEB_ROOT, create_server, page_url
from matchmaker.stats import LABELS
from tests.unit.test_stats import build_world

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "stats_page.mjs"
TOKEN = "browser-operator-token-51c2"
SOCKET_URL = "http://127.0.0.1:5005"
# The figures of tests.unit.test_stats.build_world, as the page shows them.
EXPECT = {
    "en": {"figure-searches": "5", "figure-contacts": "5", "figure-accepted": "2", "figure-deals": "1",
           "figure-median": "3.5"},
    "zh_label": LABELS["zh"]["listings_by_field"],
    "filter": {"field": "new_materials",
               "figures": {"figure-searches": "2", "figure-contacts": "2", "figure-accepted": "0",
                           "figure-deals": "0", "figure-median": "5.0"}},
}

pytestmark = pytest.mark.browser


def _timeout_s() -> int:
    raw = os.environ.get("TIMEOUT_S", "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else 30


@pytest.fixture()
def stats_page(tmp_path: Path) -> Iterator[str]:
    database = tmp_path / "m.db"
    build_world(database).close()
    server = create_server("127.0.0.1", 0, SOCKET_URL, DEFAULT_WEB_ROOT, admin_token=TOKEN, stats_database=database)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield page_url(server)
    finally:
        server.shutdown()
        server.server_close()


def test_stats_page_draws_the_charts_in_both_languages(stats_page: str, tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node, "node is not installed"
    chromium = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    assert os.access(chromium, os.X_OK), f"Chromium not found at {chromium} (apt-get install -y chromium)"
    web_dir = DEFAULT_WEB_ROOT
    assert (web_dir / "node_modules" / "playwright-core").is_dir(), f"run 'npm ci' in {web_dir}"
    assert (web_dir / "node_modules" / "echarts" / "dist" / "echarts.min.js").is_file(), f"run 'npm ci' in {web_dir}"

    out_dir = Path(os.environ.get("OUT_DIR") or tmp_path / "screenshots")
    env = dict(os.environ, PAGE_URL=stats_page, TOKEN=TOKEN, EXPECT=json.dumps(EXPECT, ensure_ascii=False),
               OUT_DIR=str(out_dir), CHROMIUM_PATH=chromium, TIMEOUT_S=str(_timeout_s()))
    result = subprocess.run([node, str(SCRIPT)], env=env, capture_output=True, text=True,
                            timeout=10 * _timeout_s() + 60, check=False)
    report = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == 0, report
    for name in ("unauthorized.png", "stats_en.png", "stats_zh.png"):
        shot = out_dir / name
        assert shot.is_file() and shot.stat().st_size > 1000, f"missing screenshot {shot}\n{report}"
