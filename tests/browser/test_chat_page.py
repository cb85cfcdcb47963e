"""The web chat page in a real browser: send a need, see match cards, reload.

Runs ``chat_page.mjs`` (playwright-core driving Debian's Chromium) against the page
that the ``web_page_url`` fixture serves, with the assistant behind it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "chat_page.mjs"
WEB_DIR = HERE.parent.parent / "bot" / "web"

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def _timeout_s() -> int:
    raw = os.environ.get("TIMEOUT_S", "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else 60


def test_chat_page_shows_match_cards_and_survives_reload(web_page_url: str, tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node, "node is not installed"
    chromium = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
    assert os.access(chromium, os.X_OK), f"Chromium not found at {chromium} (apt-get install -y chromium)"
    assert (WEB_DIR / "node_modules" / "playwright-core").is_dir(), f"run 'npm ci' in {WEB_DIR}"
    assert (WEB_DIR / "node_modules" / "rasa-webchat" / "lib" / "index.js").is_file(), f"run 'npm ci' in {WEB_DIR}"

    out_dir = Path(os.environ.get("OUT_DIR") or tmp_path / "screenshots")
    env = dict(
        os.environ, PAGE_URL=web_page_url, OUT_DIR=str(out_dir), CHROMIUM_PATH=chromium, TIMEOUT_S=str(_timeout_s())
    )
    result = subprocess.run(
        [node, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=3 * _timeout_s() + 120, check=False
    )
    report = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == 0, report
    for name in ("desktop.png", "desktop_reloaded.png", "phone.png"):
        shot = out_dir / name
        assert shot.is_file() and shot.stat().st_size > 1000, f"missing screenshot {shot}\n{report}"
