"""Rule-based extraction of matchmaking entities from Chinese and English text.

The extractor is pure Python (PyYAML only) so that both the Rasa server
(Python 3.10) and the action server (Python 3.11) use the same rules. Entities:

* ``field``: a canonical field code (``new_materials`` ...), the best-supported one;
* ``region``: canonical region codes (provinces; cities map to their province);
* ``maturity``: a technology readiness level 1-9, as a string;
* ``budget``: an amount in yuan, as a string of digits;
* ``deadline``: a number of days, as a string of digits;
* ``match_rank``: the 1-based position of a shown match ("contact the 2nd").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

import yaml

_ZH_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5,
              "六": 6, "七": 7, "八": 8, "九": 9, "十": 10, "半": 0.5}
_EN_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
               "seven": 7, "eight": 8, "nine": 9, "ten": 10, "twelve": 12,
               "eighteen": 18, "a": 1, "an": 1, "half a": 0.5}
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5,
             "1st": 1, "2nd": 2, "3rd": 3, "4th": 4, "5th": 5, "last": 5}
_UNIT_DAYS = {"day": 1, "days": 1, "天": 1, "日": 1, "week": 7, "weeks": 7, "周": 7,
              "星期": 7, "month": 30, "months": 30, "个月": 30, "月": 30,
              "year": 365, "years": 365, "年": 365}
_MONEY_ZH = re.compile(r"(\d+(?:\.\d+)?)\s*(万|亿|千)?\s*(元|块|人民币|万元)?")
_MONEY_EN = re.compile(
    r"(?:(rmb|cny|usd|us\$|\$|¥|￥)\s*)?(\d+(?:[.,]\d+)*)\s*"
    r"(k|thousand|m|mn|million|b|bn|billion)?\b\s*(yuan|rmb|cny|dollars|usd)?",
    re.IGNORECASE)
_BUDGET_CUE = re.compile(r"预算|经费|资金|投入|费用|budget|fund|funding|invest|spend|cost", re.I)
_ZH_NUM = r"(\d+|[一二两三四五六七八九十半]+)"
_DEADLINE_ZH = re.compile(_ZH_NUM + r"\s*(?:个)?(天|日|周|星期|个月|月|年)\s*(?:内|以内|之内|之前|前)")
_DEADLINE_ZH_YEAR = re.compile(r"(今年|明年|后年)\s*(年底|底|上半年|下半年|年中)?\s*(?:之?前|内|完成)?")
_DEADLINE_EN = re.compile(
    r"\b(?:within|in|in the next|over the next|under)\s+(\d+|one|two|three|four|five|six|seven|"
    r"eight|nine|ten|twelve|eighteen|a|an|half a)\s+(days?|weeks?|months?|years?)\b", re.I)
_DEADLINE_EN_YEAR = re.compile(r"\b(?:by|before)\s+(?:the\s+)?end\s+of\s+(?:the\s+|this\s+)?year\b|"
                               r"\b(?:by|before)\s+(20\d\d)\b|\bnext\s+year\b", re.I)
_TRL = re.compile(r"\btrl\s*(?:level\s*)?(?:of\s*)?(?:>=|≥|above|at least|over)?\s*([1-9])\b|"
                  r"成熟度\s*(?:在|达到|不低于|高于|大于)?\s*([1-9一二三四五六七八九])\s*级?", re.I)
_RANK_ZH = re.compile(r"第\s*([1-9一二三四五六七八九十])\s*(?:个|项|条|号|家|位)?|([1-9])\s*号")
_RANK_EN = re.compile(
    r"\b(first|second|third|fourth|fifth|1st|2nd|3rd|4th|5th|last)\b|"
    r"(?:number|no\.?|#|match|result|item|option)\s*([1-9])\b|"
    r"\b(?:contact|connect(?:\s+me)?\s+(?:with|to)|talk\s+to|reach|like|relevant)\s+([1-9])\b", re.I)
_RANK_ZH_VERB = re.compile(r"(?:联系|对接|约谈|洽谈)\s*([1-9一二三四五])(?!\s*(?:个月|月|年|天|周))")


@dataclass(frozen=True)
class EntityMatch:
    """One extracted entity with its character span in the message."""

    entity: str
    value: str
    start: int
    end: int

    def as_rasa(self, text: str) -> dict[str, Any]:
        """Return the entity in Rasa's message format (without extractor name)."""
        return {"entity": self.entity, "value": self.value, "start": self.start,
                "end": self.end, "confidence_entity": 1.0, "text": text[self.start:self.end]}


@dataclass(frozen=True)
class Term:
    """A canonical vocabulary entry: code, names in both languages, surface forms."""

    code: str
    zh: str
    en: str
    forms: tuple[str, ...]

    def name(self, language: str) -> str:
        """Display name in ``language`` ("zh" or "en")."""
        return self.zh if language == "zh" else self.en


def _is_cjk(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _form_pattern(form: str) -> re.Pattern[str]:
    """A pattern for one surface form: substring for Chinese, whole words otherwise."""
    escaped = re.escape(form.lower()).replace(r"\ ", r"[\s-]+")
    if _is_cjk(form):
        return re.compile(escaped)
    return re.compile(rf"(?<![a-z0-9]){escaped}(?![a-z0-9])")


def _number(token: str) -> float:
    """Parse Arabic digits, simple Chinese numerals (一..九十) or English words."""
    token = token.strip().lower().replace(",", "")
    if token in _EN_NUMBERS:
        return float(_EN_NUMBERS[token])
    if re.fullmatch(r"\d+(?:\.\d+)?", token):
        return float(token)
    if token == "十":
        return 10.0
    if len(token) == 2 and token[0] == "十":
        return 10.0 + _ZH_DIGITS.get(token[1], 0)
    if len(token) >= 2 and token[1] == "十":
        return _ZH_DIGITS.get(token[0], 0) * 10.0 + (_ZH_DIGITS.get(token[2], 0) if len(token) > 2 else 0)
    return float(_ZH_DIGITS.get(token, 0))


class Lexicon:
    """Canonical fields, regions and maturity phrases, with the extraction rules."""

    def __init__(self, fields: list[Term], regions: list[Term], maturity: list[tuple[int, tuple[str, ...]]]):
        self.fields = {t.code: t for t in fields}
        self.regions = {t.code: t for t in regions}
        self._field_patterns = [(t.code, _form_pattern(f)) for t in fields for f in t.forms]
        self._region_patterns = [(t.code, _form_pattern(f)) for t in regions for f in t.forms]
        self._maturity_patterns = [(trl, _form_pattern(p)) for trl, phrases in maturity for p in phrases]

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> Lexicon:
        """Build a lexicon from the parsed ``lexicon.yml`` structure."""
        fields = [Term(code, spec["zh"], spec["en"], tuple(str(k) for k in spec["keywords"]))
                  for code, spec in raw["fields"].items()]
        regions = [Term(code, spec["zh"], spec["en"], tuple(str(a) for a in spec["aliases"]))
                   for code, spec in raw["regions"].items()]
        maturity = [(int(m["trl"]), tuple(str(p) for p in m["phrases"])) for m in raw["maturity"]]
        return cls(fields, regions, maturity)

    @classmethod
    def load(cls, path: Path) -> Lexicon:
        """Read ``lexicon.yml`` from ``path``."""
        with path.open(encoding="utf-8") as handle:
            return cls.from_mapping(yaml.safe_load(handle))

    def field_name(self, code: str, language: str) -> str:
        """Display name of a field code, or the code itself when unknown."""
        term = self.fields.get(code)
        return term.name(language) if term else code

    def region_name(self, code: str, language: str) -> str:
        """Display name of a region code, or the code itself when unknown."""
        term = self.regions.get(code)
        return term.name(language) if term else code

    def extract(self, text: str) -> list[EntityMatch]:
        """Extract every supported entity from ``text``, ordered by position."""
        lowered = text.lower()
        found: list[EntityMatch] = []
        found.extend(self._fields(lowered))
        found.extend(self._regions(lowered))
        found.extend(self._maturity(lowered))
        found.extend(self._budget(text))
        found.extend(self._deadline(text))
        found.extend(self._rank(text))
        return sorted(found, key=lambda m: (m.start, m.entity))

    def classify_field(self, text: str) -> str | None:
        """The field code best supported by keywords in ``text``, if any."""
        matches = list(self._fields(text.lower()))
        return matches[0].value if matches else None

    def _fields(self, lowered: str) -> Iterator[EntityMatch]:
        hits: dict[str, list[re.Match[str]]] = {}
        for code, pattern in self._field_patterns:
            hits.setdefault(code, []).extend(pattern.finditer(lowered))
        ranked = sorted(((len(ms), -min(m.start() for m in ms), code, ms)
                         for code, ms in hits.items() if ms), reverse=True)
        if ranked:
            _, _, code, ms = ranked[0]
            first = min(ms, key=lambda m: m.start())
            yield EntityMatch("field", code, first.start(), first.end())

    def _regions(self, lowered: str) -> Iterator[EntityMatch]:
        seen: set[str] = set()
        for code, pattern in self._region_patterns:
            match = pattern.search(lowered)
            if match and code not in seen:
                seen.add(code)
                yield EntityMatch("region", code, match.start(), match.end())

    def _maturity(self, lowered: str) -> Iterator[EntityMatch]:
        explicit = _TRL.search(lowered)
        if explicit:
            level = int(_number(explicit.group(1) or explicit.group(2)))
            yield EntityMatch("maturity", str(level), explicit.start(), explicit.end())
            return
        best: tuple[int, re.Match[str]] | None = None
        for trl, pattern in self._maturity_patterns:
            match = pattern.search(lowered)
            if match and (best is None or trl > best[0]):
                best = (trl, match)
        if best:
            yield EntityMatch("maturity", str(best[0]), best[1].start(), best[1].end())

    def _budget(self, text: str) -> Iterator[EntityMatch]:
        for match in _MONEY_ZH.finditer(text):
            unit, currency = match.group(2), match.group(3)
            cue = _BUDGET_CUE.search(text[max(0, match.start() - 8):match.start()])
            if not (unit or currency) or (not cue and not currency and unit != "万" and unit != "亿"):
                continue
            if _DEADLINE_ZH.match(text, match.start()):
                continue
            scale = {"万": 1e4, "亿": 1e8, "千": 1e3}.get(unit or "", 1.0)
            if currency == "万元":
                scale = 1e4
            yield EntityMatch("budget", str(int(float(match.group(1)) * scale)), match.start(), match.end())
            return
        for match in _MONEY_EN.finditer(text):
            symbol, amount, scale_word, currency = match.groups()
            cue = _BUDGET_CUE.search(text[max(0, match.start() - 24):match.start()])
            if not (symbol or currency or (cue and scale_word)):
                continue
            scale = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mn": 1e6, "million": 1e6,
                     "b": 1e9, "bn": 1e9, "billion": 1e9}.get((scale_word or "").lower(), 1.0)
            value = int(float(amount.replace(",", "")) * scale)
            if value > 0:
                yield EntityMatch("budget", str(value), match.start(), match.end())
                return

    def _deadline(self, text: str) -> Iterator[EntityMatch]:
        match = _DEADLINE_ZH.search(text) or _DEADLINE_EN.search(text)
        if match:
            days = _number(match.group(1)) * _UNIT_DAYS.get(match.group(2).lower().rstrip(), 30)
            yield EntityMatch("deadline", str(max(1, int(days))), match.start(), match.end())
            return
        year = _DEADLINE_ZH_YEAR.search(text)
        if year and (year.group(2) or text[year.end():year.end() + 1] in {"前", "内"}):
            year_end = {"今年": 180, "明年": 545, "后年": 910}[year.group(1)]
            early = 180 if year.group(2) in {"上半年", "年中"} else 0
            yield EntityMatch("deadline", str(year_end - early), year.start(), year.end())
            return
        english = _DEADLINE_EN_YEAR.search(text)
        if english:
            days = 365 if "next" in english.group(0).lower() or english.group(1) else 180
            yield EntityMatch("deadline", str(days), english.start(), english.end())

    def _rank(self, text: str) -> Iterator[EntityMatch]:
        match = _RANK_ZH.search(text) or _RANK_ZH_VERB.search(text)
        if match:
            raw = next(g for g in match.groups() if g)
            rank = int(_number(raw))
        else:
            english = _RANK_EN.search(text)
            if not english:
                return
            raw = next(g for g in english.groups() if g)
            rank = _ORDINALS.get(raw.lower()) or int(raw)
            match = english
        if 1 <= rank <= 50:
            yield EntityMatch("match_rank", str(rank), match.start(), match.end())
