"""No file git knows of (tracked, or new and not ignored) holds something that looks like a real secret.

Secrets come from the environment only (docs/settings.md). The patterns aim at real
credentials: Telegram bot tokens, private key blocks, cloud and service API keys, WeChat
AppSecrets and EncodingAESKeys, passwords inside connection URLs, ``password=`` / ``secret=`` /
``token=`` assignments with long literal values in configuration files and high-entropy literals
assigned to secret-sounding names in code. A value that refers to the environment (``$NAME``,
``${NAME}``, ``{name}``) is not a secret. The tests' obviously fake values either do not match
or are in the small allow-list below, which applies under ``tests/`` only.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Fake values of the tests' stand-ins, allowed under tests/ only.
ALLOWED_IN_TESTS = frozenset({
    "0123456789abcdef0123456789abcdef",  # tests/unit/test_standins.py: the WeChat stand-in's AppSecret
    "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",  # tests/integration: the safe-mode EncodingAESKey
})
LOCK_FILES = frozenset({"package-lock.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock", "Pipfile.lock",
                        "uv.lock", "Cargo.lock", "composer.lock", "Gemfile.lock", "go.sum"})
CONFIG_SUFFIXES = (".yml", ".yaml", ".toml", ".ini", ".cfg", ".conf", ".env", ".properties", ".json", ".sh",
                   ".template", ".service", ".xml")
CONFIG_NAMES = frozenset({"Makefile", "Dockerfile", ".env"})
# Files whose very presence is a leak, whatever they hold.
SECRET_FILE = re.compile(r"(^|/)(\.env(\.(?!example$|sample$|template$)[^/]+)?|id_(rsa|dsa|ecdsa|ed25519)|"
                         r"[^/]+\.(pem|key|p12|pfx|keystore|jks))$")
# A value naming a variable, a template field or a command instead of holding the secret.
REFERENCE = re.compile(r"[$({<]")
PLACEHOLDER = re.compile(r"^(\$|<|\{|%|\*|x+$|\.\.\.|changeme$|password$|passwd$|secret$|token$|example|your[-_]|"
                         r"dummy|fake|test|none$|null$|true$|false$)", re.IGNORECASE)


@dataclass(frozen=True)
class Rule:
    """One kind of secret: ``pattern``'s group ``value`` (else the whole match) is the secret."""

    name: str
    pattern: re.Pattern[str]
    config_only: bool = False
    random_only: bool = False


def _rule(name: str, pattern: str, flags: int = 0, config_only: bool = False, random_only: bool = False) -> Rule:
    return Rule(name, re.compile(pattern, flags), config_only, random_only)


# A name with one of these words as a whole part: DB_PASSWORD, secretToken, api-key (not TOKENIZER_VERSION).
SECRET_NAME = (r"[A-Za-z0-9_.-]*?(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|"
               r"credentials?)(?![A-Za-z])(?:[0-9_.-][A-Za-z0-9_.-]*)?")
RULES = (
    _rule("Telegram bot token", r"(?<![0-9])(?P<value>[0-9]{8,10}:[A-Za-z0-9_-]{35})(?![A-Za-z0-9_-])"),
    _rule("private key block", r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"),
    _rule("AWS access key id", r"(?<![A-Z0-9])(?P<value>(?:AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16})(?![A-Z0-9])"),
    _rule("AWS secret access key",
          r"aws_?secret_?access_?key\W{0,4}(?P<value>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])", re.IGNORECASE),
    _rule("GitHub token", r"\b(?P<value>(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{60,}))"),
    _rule("Slack token", r"\b(?P<value>xox[abposr]-[A-Za-z0-9-]{10,})"),
    _rule("Google API key", r"\b(?P<value>AIza[0-9A-Za-z_-]{35})"),
    _rule("OpenAI-style API key", r"\b(?P<value>sk-(?:proj-|live-|test-)?[A-Za-z0-9_-]{32,})"),
    _rule("WeChat AppSecret",
          r"(?:WECHAT_APP_SECRET|app_?secret|appsecret)['\"]?\s*[:=]\s*[fbr]?['\"]?(?P<value>[0-9a-fA-F]{32})(?![0-9a-fA-F])",
          re.IGNORECASE),
    _rule("WeChat EncodingAESKey",
          r"(?:WECHAT_AES_KEY|aes_?key|encoding_?aes_?key)['\"]?\s*[:=]\s*[fbr]?['\"]?(?P<value>[A-Za-z0-9]{43})(?![A-Za-z0-9])",
          re.IGNORECASE),
    _rule("password in a connection URL",
          r"\b(?:postgres(?:ql)?|mysql|mariadb|redis|rediss|amqp|mongodb(?:\+srv)?|https?|ftp)://"
          r"[^:@/\s'\"]*:(?P<value>[^@/\s'\"]{4,})@"),
    _rule("Redis requirepass", r"^\s*requirepass\s+(?P<value>\S{8,})", re.MULTILINE),
    _rule("secret assignment in configuration",
          rf"(?<![A-Za-z0-9_]){SECRET_NAME}['\"]?\s*[:=]\s*['\"]?(?P<value>[^\s'\"`,;)#]{{12,}})",
          re.IGNORECASE, config_only=True),
    _rule("random literal assigned to a secret name",
          rf"(?<![A-Za-z0-9_]){SECRET_NAME}['\"]?\s*[:=]\s*[fbr]?['\"](?P<value>[A-Za-z0-9_+/=.~-]{{20,}})['\"]",
          re.IGNORECASE, random_only=True),
)


@dataclass(frozen=True)
class Finding:
    """A line of a file that looks like it holds a secret."""

    path: str
    line: int
    rule: str
    excerpt: str


def entropy(text: str) -> float:
    """Shannon entropy in bits per character."""
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def looks_random(value: str) -> bool:
    """Long, mixing letters and digits, varied and not made of words: what a generated credential looks like."""
    wordy = sum(len(run) for run in re.findall(r"[a-z]{5,}|[A-Z]{5,}", value)) >= 0.4 * len(value)
    return (len(value) >= 20 and any(c.isdigit() for c in value) and any(c.isalpha() for c in value)
            and entropy(value) >= 3.5 and not wordy)


def is_config(path: str) -> bool:
    name = Path(path).name
    return name in CONFIG_NAMES or name.endswith(CONFIG_SUFFIXES) or name.startswith(".env")


def redact(text: str) -> str:
    """The line with long word-like runs shortened, so a found secret is not printed whole."""
    return re.sub(r"[A-Za-z0-9_+/=-]{12,}", lambda m: m.group()[:4] + "…", text.strip())[:160]


def scan_text(path: str, text: str) -> list[Finding]:
    """What looks like a secret in ``text`` (the contents of ``path``, relative to the project)."""
    findings: list[Finding] = []
    in_tests = path.startswith("tests/")
    config = is_config(path)
    for rule in RULES:
        if rule.config_only and not config:
            continue
        for match in rule.pattern.finditer(text):
            value = match.groupdict().get("value") or match.group()
            if "value" in rule.pattern.groupindex and (PLACEHOLDER.match(value) or REFERENCE.search(value)):
                continue
            if rule.random_only and not looks_random(value):
                continue
            if in_tests and value in ALLOWED_IN_TESTS:
                continue
            line = text.count("\n", 0, match.start()) + 1
            findings.append(Finding(path, line, rule.name, redact(text.splitlines()[line - 1])))
    return findings


def scannable(path: Path) -> str | None:
    """The text of ``path``, or ``None`` for a lock file, a binary or a file that is gone."""
    if path.name in LOCK_FILES or path.suffix == ".lock" or not path.is_file():
        return None
    data = path.read_bytes()
    if b"\0" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def repository_files(root: Path) -> list[str]:
    """Every file git lists: tracked ones, and new ones that are not ignored."""
    listed = subprocess.run(["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            capture_output=True, check=True).stdout.decode("utf-8", "replace")
    return sorted({name for name in listed.split("\0") if name})


def scan_repository(root: Path) -> list[Finding]:
    findings: list[Finding] = []
    for name in repository_files(root):
        if SECRET_FILE.search(name):
            findings.append(Finding(name, 0, "secret file", name))
            continue
        text = scannable(root / name)
        if text is not None:
            findings.extend(scan_text(name, text))
    return findings


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="needs a git checkout")
def test_no_file_in_the_repository_looks_like_it_holds_a_secret() -> None:
    findings = scan_repository(ROOT)
    assert findings == [], "secrets belong in the environment (docs/settings.md), not in files:\n" + "\n".join(
        f"  {f.path}:{f.line}: {f.rule}: {f.excerpt}" for f in findings)


# A value of each kind, built at run time so that this file itself holds none of them.
TELEGRAM = "1234567890:" + "AAH" + "x9Lq2Zr7Kp4Vt1Nw8Ys3Md6Fb0Gc5Hj-"
WECHAT_SECRET = "9f8e7d6c5b4a" + "39281706f5e4d3c2b1a0"
REAL_LOOKING = [
    ("bot/config.yml", f"telegram:\n  token: {TELEGRAM}\n", "Telegram bot token"),
    ("notes.md", "-----BEGIN " + "OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE=\n", "private key block"),
    ("deploy.sh", "export AWS_ACCESS_KEY_ID=" + "AKIA" + "Q3EXAMPLE7WXYZ12\n", "AWS access key id"),
    ("infra/wechat.env.sh", f"WECHAT_APP_SECRET={WECHAT_SECRET}\n", "WeChat AppSecret"),
    ("channels/settings.py", f'WECHAT_APP_SECRET = "{WECHAT_SECRET}"\n', "WeChat AppSecret"),
    ("endpoints.production.yml", "tracker_store:\n  password: " + "Zq8wX2mT7vLp4Rk9\n",
     "secret assignment in configuration"),
    ("docs/deploy.md", "MATCHMAKER_DATABASE_URL=postgresql://matchmaker:" + "Tr0ub4dor-horse@db:5432/matchmaker\n",
     "password in a connection URL"),
    ("bot/production.py", 'ADMIN_TOKEN = "' + "k3Jd9sLq0PzX7vB2nM5wR8tY" + '"\n', "random literal assigned to a secret name"),
    ("infra/redis.conf", "requirepass " + "h7Gk2pQz9wLm\n", "Redis requirepass"),
    ("scripts/wechat.sh", "WECHAT_AES_KEY=" + "M6pMScAnGHK7N9whcqfWE6" + "ACNoWmeF5DUBbj4eLlLpL\n", "WeChat EncodingAESKey"),
]


@pytest.mark.parametrize(("path", "text", "rule"), REAL_LOOKING)
def test_the_scan_finds_a_real_looking_secret(path: str, text: str, rule: str) -> None:
    assert rule in {finding.rule for finding in scan_text(path, text)}


FAKE_OR_REFERENCES = [
    ("tests/conftest.py", 'TELEGRAM_TOKEN = "7700001:stack-test-token"\n'),
    ("tests/unit/test_standins.py", 'APP_SECRET = "0123456789abcdef0123456789abcdef"\n'),
    ("tests/unit/test_standins.py", 'await bot.set_webhook("https://example.test/telegram", secret_token="s3cret-token")\n'),
    ("endpoints.production.yml", "  password: $${MATCHMAKER_TRACKER_DB_PASSWORD}\n  url: ${MATCHMAKER_REDIS_HOST}\n"),
    ("infra/redis.sh", 'cli() {\n  REDISCLI_AUTH="${REDIS_PASSWORD:-}" redis-cli\n}\nrequirepass $REDIS_PASSWORD\n'),
    ("infra/postgres.sh", '  | psql_admin -v role="$ROLE" -v password="$PG_PASSWORD" >/dev/null\n'),
    ("matchmaker/settings.py", 'raise SettingsError("needs MATCHMAKER_DATABASE_URL (postgresql://user:password@host:port/db)")\n'),
    ("tests/conftest.py", 'return f"postgresql://matchmaker:{server.password}@127.0.0.1:{server.port}/{database}"\n'),
    ("bot/stack.py", 'self.token = os.environ.get("MATCHMAKER_RASA_TOKEN") or secrets.token_hex(16)\n'),
    ("bot/stats_api.py", 'TOKEN_ENV = "MATCHMAKER_ADMIN_TOKEN"\n'),
    ("docs/settings.md", "| `TELEGRAM_BOT_TOKEN` | unset: Telegram off | the bot's token from BotFather | yes |\n"),
    ("index/text.py", 'TOKENIZER_VERSION = "zh-uni-bi+en-snowball-v1"\n'),
    ("tests/browser/test_stats_page.py", 'TOKEN = "browser-operator-token-51c2"\n'),
    ("tests/integration/test_messenger_channels.py", 'aes_key="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",\n'),
]


@pytest.mark.parametrize(("path", "text"), FAKE_OR_REFERENCES)
def test_the_scan_lets_fakes_and_references_pass(path: str, text: str) -> None:
    assert scan_text(path, text) == []


def test_the_allow_list_holds_only_under_tests() -> None:
    assert scan_text("channels/wechat.py", 'APP_SECRET = "0123456789abcdef0123456789abcdef"\n') != []


def test_secret_files_and_binaries() -> None:
    assert SECRET_FILE.search("deploy/.env") and SECRET_FILE.search("infra/server.pem")
    assert SECRET_FILE.search("keys/id_ed25519")
    assert not SECRET_FILE.search(".env.example") and not SECRET_FILE.search("docs/settings.md")


def test_binaries_and_lock_files_are_skipped(tmp_path: Path) -> None:
    binary = tmp_path / "model.tar.gz"
    binary.write_bytes(b"\x1f\x8b\0\0" + TELEGRAM.encode())
    lock = tmp_path / "package-lock.json"
    lock.write_text(f'{{"token": "{TELEGRAM}"}}', encoding="utf-8")
    assert scannable(binary) is None and scannable(lock) is None
