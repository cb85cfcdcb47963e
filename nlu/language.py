"""Which language a message is written in: Chinese or English."""

from __future__ import annotations

CJK_SHARE = 0.2


def detect_language(text: str, default: str = "en") -> str:
    """Return "zh" when CJK characters make up a real share of the letters, else "en".

    Text without any letters (empty, digits, emoji) returns ``default``.
    """
    letters = [ch for ch in text if ch.isalpha()]
    if not letters:
        return default
    cjk = sum(1 for ch in letters if "\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff")
    return "zh" if cjk / len(letters) >= CJK_SHARE else "en"
