"""Arrows run downward: actions/bot/channels -> matchmaker -> behaviour/index -> storage; serving never imports jobs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "behaviour": ("matchmaker", "actions", "bot", "channels", "jobs", "bench"),
    "index": ("matchmaker", "behaviour", "actions", "bot", "channels", "jobs", "bench"),
    "storage": ("matchmaker", "behaviour", "index", "actions", "bot", "channels", "jobs", "bench"),
    "matchmaker": ("actions", "bot", "jobs", "bench"),
    "channels": ("actions", "jobs", "bench"),
    "actions": ("jobs", "bench"),
    "bot": ("jobs", "bench"),
}


def imported_packages(path: Path) -> set[str]:
    """The top-level packages a module imports (at any depth of the module)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_package_imports_one_above_it(package: str) -> None:
    offending = {str(path.relative_to(ROOT)): sorted(imported_packages(path) & set(FORBIDDEN[package]))
                 for path in sorted((ROOT / package).rglob("*.py"))}
    assert {name: found for name, found in offending.items() if found} == {}


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f() -> None:\n    from matchmaker.settings import load_settings\n", encoding="utf-8")
    assert imported_packages(module) == {"matchmaker"}
