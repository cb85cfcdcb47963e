"""In each language, four browser tabs go through the platform's loop: saved need, alert, broker, deal, statistics.

Runs ``platform_tabs.mjs`` (playwright-core driving Debian's Chromium) against the page of the
shared assistant; the broker's code comes from the operator's command line.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from bot.stack import APP_PYTHON, Stack
from matchmaker.settings import PROJECT_ROOT
from tests.conftest import ADMIN_TOKEN

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "platform_tabs.mjs"

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def broker_code(stack: Stack) -> str:
    done = subprocess.run([str(APP_PYTHON), "-m", "matchmaker.accounts", "invite", "--org",
                           f"Tab Broker {uuid.uuid4().hex[:6]}", "--role", "intermediary"], cwd=PROJECT_ROOT,
                          env={**stack.environment(), "PYTHONPATH": str(PROJECT_ROOT)},
                          capture_output=True, text=True, check=True)
    match = re.search(r"invite code: (\S+)", done.stdout)
    assert match, done.stdout
    return match.group(1)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_need_alert_broker_deal_and_statistics_in_four_tabs(stack: Stack, tmp_path: Path, language: str) -> None:
    node = shutil.which("node")
    assert node, "node is not installed"
    out_dir = tmp_path / "screenshots"
    env = dict(os.environ, PAGE_URL=stack.config.page_url, BROKER_CODE=broker_code(stack), ADMIN_TOKEN=ADMIN_TOKEN,
               LANG_UNDER_TEST=language, RUN=f"R{uuid.uuid4().hex[:5].upper()}", OUT_DIR=str(out_dir),
               CHROMIUM_PATH=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"), TIMEOUT_S="60")
    result = subprocess.run([node, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=900, check=False)
    report = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == 0, report
    assert "OK: need, alert, broker, deal and statistics" in result.stdout, report
    for tab in ("tab_A", "tab_B", "tab_C", "tab_D"):
        assert (out_dir / f"{language}_{tab}.png").stat().st_size > 1000, report
