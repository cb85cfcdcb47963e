"""Every environment variable the code reads has a row in docs/settings.md, and every row is still read.

The names are collected from the sources, not from a list kept by hand: Python reads of the
environment (``os.environ[...]``, ``os.environ.get``, ``os.getenv``, ``env.get``, ``"X" in
os.environ``, helpers called as ``_int(env, "X", ...)``; a key may be a module constant such as
``RATE_ENV``, also one imported from another module), ``${NAME}`` in the Rasa endpoint files,
``${NAME:-default}`` in the shell scripts and ``NAME ?= value`` in the Makefile. The tests'
own variables (read under ``tests/``) are not required, but may be documented.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "docs" / "settings.md"

# Folders that are not the project's code: environments, installed packages, run data, caches.
PRUNED = {"node_modules", "var", "models", "results", "lib", "target", "__pycache__", "tests"}
# Variables of the operating system or the language tools, not settings of this project.
GENERIC = {"PATH", "HOME", "USER", "SHELL", "PWD", "TMPDIR", "LANG", "PYTHONPATH", "JAVA_HOME", "BASH_SOURCE"}
ENV_NAMES = {"env", "environ", "environment"}
VARIABLE = re.compile(r"^[A-Z][A-Z0-9_]*$")
TEMPLATE_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:[:?+=-][^}]*)?\}")
SHELL_WITH_DEFAULT = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?[-=?+]")
MAKE_DEFAULT = re.compile(r"^\s*(?:export\s+)?([A-Z_][A-Z0-9_]*)\s*\?=", re.MULTILINE)
DOCUMENTED = re.compile(r"`([A-Z][A-Z0-9_]*)`")


def project_files(root: Path, suffixes: tuple[str, ...], skip: frozenset[str] = frozenset(PRUNED)) -> Iterator[Path]:
    """Files under ``root`` ending in one of ``suffixes``, outside hidden, environment and data folders."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in skip)
        for name in sorted(files):
            if name.endswith(suffixes):
                yield Path(folder) / name


def module_path(root: Path, module: str) -> Path | None:
    """The file of a project module such as ``channels.gateway``, if it is one."""
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def string_constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "text"`` assignments."""
    found: dict[str, str] = {}
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        value = node.value if isinstance(node, (ast.Assign, ast.AnnAssign)) else None
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            found.update((target.id, value.value) for target in targets if isinstance(target, ast.Name))
    return found


class Reads:
    """Collects the environment variables one module reads."""

    def __init__(self, root: Path, tree: ast.Module) -> None:
        self.root = root
        self.constants = string_constants(tree)
        self.imported: dict[str, tuple[str, str]] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    self.imported[alias.asname or alias.name] = (node.module, alias.name)
        self.names: set[str] = set()

    def key(self, node: ast.AST) -> str | None:
        """The text of a key: a literal, or a constant of this module or of the module it was imported from."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in self.constants:
                return self.constants[node.id]
            if node.id in self.imported:
                module, name = self.imported[node.id]
                path = module_path(self.root, module)
                if path is not None:
                    return string_constants(ast.parse(path.read_text(encoding="utf-8"))).get(name)
        return None

    def add(self, node: ast.AST) -> None:
        text = self.key(node)
        if text is not None and VARIABLE.match(text):
            self.names.add(text)

    @staticmethod
    def is_environment(node: ast.AST) -> bool:
        """``os.environ``, ``environ`` or a mapping called ``env`` / ``environment``."""
        if isinstance(node, ast.Attribute):
            return node.attr == "environ"
        return isinstance(node, ast.Name) and node.id in ENV_NAMES

    def read_by(self, node: ast.AST) -> ast.AST | None:
        """The key ``node`` reads from the environment, if it is such a read."""
        if isinstance(node, ast.Call):
            function = node.func
            environment_method = (isinstance(function, ast.Attribute) and self.is_environment(function.value)
                                  and function.attr in {"get", "setdefault", "pop"})
            getenv = (isinstance(function, ast.Attribute) and function.attr == "getenv"
                      or isinstance(function, ast.Name) and function.id == "getenv")
            if (environment_method or getenv) and node.args:
                return node.args[0]
            if len(node.args) >= 2 and self.is_environment(node.args[0]):
                return node.args[1]
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load) and self.is_environment(node.value):
            return node.slice
        elif isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], (ast.In, ast.NotIn)) \
                and self.is_environment(node.comparators[0]):
            return node.left
        return None

    def collect(self, tree: ast.Module) -> set[str]:
        """Every variable the module reads."""
        for node in ast.walk(tree):
            key = self.read_by(node)
            if key is not None:
                self.add(key)
        return self.names


def python_reads(root: Path, path: Path) -> set[str]:
    """The environment variables a Python file reads."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return Reads(root, tree).collect(tree)


def text_reads(path: Path) -> set[str]:
    """The environment variables an endpoint file, a shell script or a Makefile reads."""
    text = path.read_text(encoding="utf-8")
    if path.name == "Makefile":
        return set(MAKE_DEFAULT.findall(text))
    if path.suffix == ".sh":
        return set(SHELL_WITH_DEFAULT.findall(text))
    return set(TEMPLATE_REFERENCE.findall(text))


def read_variables(root: Path, skip: frozenset[str] = frozenset(PRUNED)) -> dict[str, set[str]]:
    """Each variable the code under ``root`` reads, with the files reading it (relative paths)."""
    sources = [*project_files(root, (".py",), skip),
               *(path for path in project_files(root, (".yml", ".yaml"), skip) if path.name.startswith("endpoints")),
               *project_files(root, (".sh",), skip)]
    if (root / "Makefile").is_file():
        sources.append(root / "Makefile")
    found: dict[str, set[str]] = {}
    for path in sources:
        names = python_reads(root, path) if path.suffix == ".py" else text_reads(path)
        for name in names - GENERIC:
            found.setdefault(name, set()).add(str(path.relative_to(root)))
    return found


def variables_read_by_tests(root: Path) -> set[str]:
    """The variables the tests read (not required in the table, but allowed there)."""
    tests = root / "tests"
    return {name for path in project_files(tests, (".py",), frozenset(PRUNED - {"tests"}))
            for name in python_reads(root, path)} if tests.is_dir() else set()


def documented_variables(table: Path) -> dict[str, str]:
    """The variables of the table rows (first cell) of ``table``, each with its row."""
    rows: dict[str, str] = {}
    for line in table.read_text(encoding="utf-8").splitlines():
        cells = line.strip().strip("|").split("|")
        if line.lstrip().startswith("|") and len(cells) > 1:
            rows.update((name, line) for name in DOCUMENTED.findall(cells[0]))
    return rows


def test_every_variable_the_code_reads_is_in_the_table() -> None:
    read = read_variables(ROOT)
    documented = documented_variables(TABLE)
    missing = {name: sorted(files) for name, files in sorted(read.items()) if name not in documented}
    assert missing == {}, f"add these variables to {TABLE.relative_to(ROOT)}: {missing}"


def test_every_row_of_the_table_is_read_somewhere() -> None:
    known = set(read_variables(ROOT)) | variables_read_by_tests(ROOT) | GENERIC
    stale = sorted(set(documented_variables(TABLE)) - known)
    assert stale == [], f"{TABLE.relative_to(ROOT)} documents variables nothing reads any more: {stale}"


def test_names_that_sound_secret_are_marked_secret() -> None:
    secret_words = ("SECRET", "TOKEN", "PASSWORD")
    rows = documented_variables(TABLE)
    unmarked = sorted(name for name, row in rows.items() if any(word in name for word in secret_words)
                      and not row.strip().strip("|").split("|")[-1].strip().lower().startswith("yes"))
    assert unmarked == [], f"mark these secret (last column 'yes') in {TABLE.relative_to(ROOT)}: {unmarked}"


def test_the_collector_sees_each_kind_of_read(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / "pkg" / "names.py").write_text('SHARED_ENV = "APP_SHARED"\n', encoding="utf-8")
    (tmp_path / "pkg" / "reader.py").write_text(
        "import os\nfrom os import getenv\nfrom pkg.names import SHARED_ENV\nLOCAL_ENV = 'APP_LOCAL'\n\n"
        "def read(env):\n"
        "    a = os.environ['APP_INDEXED'], os.environ.get('APP_GOT'), os.getenv('APP_OS_GETENV'), getenv('APP_GETENV')\n"
        "    b = env.get('APP_ENV_GET'), env['APP_ENV_INDEXED'], _int(env, 'APP_HELPER', 3), 'APP_IN' in os.environ\n"
        "    c = env.get(LOCAL_ENV), os.environ.get(SHARED_ENV), {'lower': 1}.get('NOT_ENV'), env.get('lower_case')\n"
        "    os.environ['APP_WRITTEN'] = 'x'\n"
        "    return a, b, c\n", encoding="utf-8")
    (tmp_path / "endpoints.extra.yml").write_text("url: ${APP_URL}\npassword: $${APP_PASSWORD}\n", encoding="utf-8")
    (tmp_path / "run.sh").write_text('PORT="${APP_PORT:-80}"\nX="${1:-}"\nJ="${JAVA_HOME:-}"\n', encoding="utf-8")
    (tmp_path / "Makefile").write_text("export APP_MAKE ?= 1\nOTHER := 2\n", encoding="utf-8")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("import os\nos.environ.get('APP_TEST_ONLY')\n", encoding="utf-8")
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "site.py").write_text("import os\nos.environ.get('APP_VENDORED')\n", encoding="utf-8")
    assert set(read_variables(tmp_path)) == {
        "APP_SHARED", "APP_LOCAL", "APP_INDEXED", "APP_GOT", "APP_OS_GETENV", "APP_GETENV", "APP_ENV_GET",
        "APP_ENV_INDEXED", "APP_HELPER", "APP_IN", "APP_URL", "APP_PASSWORD", "APP_PORT", "APP_MAKE"}
    assert variables_read_by_tests(tmp_path) == {"APP_TEST_ONLY"}


def test_the_table_reader_takes_the_first_cell_only(tmp_path: Path) -> None:
    table = tmp_path / "settings.md"
    table.write_text("| variable | default |\n|---|---|\n| `APP_ONE`, `APP_TWO` | like `APP_THREE` |\n"
                     "Prose mentioning `APP_FOUR`.\n", encoding="utf-8")
    assert set(documented_variables(table)) == {"APP_ONE", "APP_TWO"}
