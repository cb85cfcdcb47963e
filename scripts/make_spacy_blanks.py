"""Save blank spaCy pipelines (zh, en) for Rasa's tokenizer; nothing is downloaded."""

from __future__ import annotations

import sys
from pathlib import Path

import spacy


def main(target: Path) -> None:
    """Write ``target``/zh_blank and ``target``/en_blank."""
    target.mkdir(parents=True, exist_ok=True)
    for language in ("zh", "en"):
        spacy.blank(language).to_disk(target / f"{language}_blank")
    print(f"blank spaCy pipelines written to {target}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "var/spacy"))
