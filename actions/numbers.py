"""Numbers that name stored things (threads, desk items, listings, saved needs) or amounts, read from user input.

Entities of button payloads are whatever the sender put there: ``str.isdigit`` also accepts
"²", which ``int`` refuses, and ``int`` would take "٣" or " 3 "; a number larger than the
stores can hold names nothing stored, and passing it on would fail inside the database.
"""

from __future__ import annotations

from typing import Optional

MAX_ID = 2**63 - 1
"""The largest number the stores hold (a 64-bit SQL integer)."""
MAX_DIGITS = 1000


def decimal_number(text: str) -> Optional[int]:
    """The whole number ``text`` spells in ASCII digits (at most :data:`MAX_DIGITS` of them), else ``None``."""
    if not isinstance(text, str) or not 0 < len(text) <= MAX_DIGITS or not text.isascii() or not text.isdigit():
        return None
    return int(text)
