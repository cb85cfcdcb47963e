"""Two browser tabs carry a negotiation from contact to a rated deal, every step pushed to the other tab.

Runs ``negotiation_tabs.mjs`` (playwright-core driving Debian's Chromium) against the
page of the shared assistant; the owner's code is the one ``make run`` would print.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from bot.stack import Stack
from matchmaker.accounts import SQLiteAccountStore, demo_owner_invite
from matchmaker.listings import connect

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "negotiation_tabs.mjs"

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def test_two_tabs_negotiate_from_contact_to_a_rated_deal(stack: Stack, tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node, "node is not installed"
    connection = connect(stack.config.var_dir / "matchmaker.db")
    demo = demo_owner_invite(SQLiteAccountStore(connection), connection)
    connection.close()
    assert demo is not None
    out_dir = tmp_path / "screenshots"
    env = dict(os.environ, PAGE_URL=stack.config.page_url, QUERY=demo.example_title, CODE=demo.invite.code,
               OUT_DIR=str(out_dir), CHROMIUM_PATH=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
               TIMEOUT_S="60")
    result = subprocess.run([node, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=900, check=False)
    report = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == 0, report
    for name in ("tab_a.png", "tab_b.png"):
        assert (out_dir / name).stat().st_size > 1000, report
