"""The standard platform NDA (``data/nda.yml``); the negotiation store's moves are in tests/contract."""

from __future__ import annotations

from pathlib import Path

import pytest

from matchmaker.negotiation import NegotiationError, load_nda

ROOT = Path(__file__).resolve().parents[2]
NDA = "platform-nda-2025.1"


def test_the_standard_nda_is_loaded_in_both_languages(tmp_path: Path) -> None:
    nda = load_nda(ROOT / "data" / "nda.yml")
    assert nda.version == NDA
    assert "non-disclosure" in nda.text("en") and "保密" in nda.text("zh")
    assert nda.text("fr") == nda.text("en")
    broken = tmp_path / "nda.yml"
    broken.write_text("text: {zh: 保密}\n", encoding="utf-8")
    with pytest.raises(NegotiationError):
        load_nda(broken)
