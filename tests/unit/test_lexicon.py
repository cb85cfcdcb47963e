"""Rule-based entity extraction in both languages."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlu.language import detect_language
from nlu.lexicon import Lexicon

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return Lexicon.load(ROOT / "data" / "lexicon.yml")


def values(lexicon: Lexicon, text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for match in lexicon.extract(text):
        found.setdefault(match.entity, []).append(match.value)
    return found


def test_chinese_demand_gives_every_constraint(lexicon: Lexicon) -> None:
    text = "我们是苏州的一家陶瓷企业，窑炉能耗太高，预算200万，希望6个月内解决，需要成熟技术"
    assert values(lexicon, text) == {"region": ["jiangsu"], "field": ["energy_environment"],
                                     "budget": ["2000000"], "deadline": ["180"], "maturity": ["7"]}


def test_english_demand_gives_every_constraint(lexicon: Lexicon) -> None:
    text = "We need to cut the energy consumption of our kilns in Jiangsu, budget RMB 2 million, within 6 months, TRL 7"
    assert values(lexicon, text) == {"field": ["energy_environment"], "region": ["jiangsu"],
                                     "budget": ["2000000"], "deadline": ["180"], "maturity": ["7"]}


@pytest.mark.parametrize(("text", "entity", "value"), [
    ("只要成熟度高的", "maturity", "7"),
    ("TRL above 6", "maturity", "6"),
    ("only in Zhejiang", "region", "zhejiang"),
    ("换成深圳的", "region", "guangdong"),
    ("预算改成300万", "budget", "3000000"),
    ("budget is 1 million", "budget", "1000000"),
    ("contact the 2nd one", "match_rank", "2"),
    ("联系第一个", "match_rank", "1"),
    ("联系3号", "match_rank", "3"),
    ("明年底前完成", "deadline", "545"),
])
def test_refinement_phrases(lexicon: Lexicon, text: str, entity: str, value: str) -> None:
    assert values(lexicon, text).get(entity) == [value]


def test_deadline_is_not_a_match_rank(lexicon: Lexicon) -> None:
    assert "match_rank" not in values(lexicon, "希望3个月内解决")


def test_english_keywords_need_whole_words(lexicon: Lexicon) -> None:
    assert "field" not in values(lexicon, "the cart was parked")
    assert values(lexicon, "a new catalyst")["field"] == ["chemicals"]


def test_entity_spans_cover_the_surface_text(lexicon: Lexicon) -> None:
    text = "只要江苏的"
    match = next(m for m in lexicon.extract(text) if m.entity == "region")
    assert text[match.start:match.end] == "江苏"


def test_names_in_both_languages(lexicon: Lexicon) -> None:
    assert lexicon.region_name("jiangsu", "zh") == "江苏"
    assert lexicon.field_name("new_materials", "en") == "New materials"
    assert lexicon.region_name("atlantis", "en") == "atlantis"


@pytest.mark.parametrize(("text", "language"), [
    ("我们需要电池材料", "zh"), ("We need a battery material", "en"), ("", "en"), ("12345", "en"),
    ("我们需要AI视觉检测", "zh"),
])
def test_detect_language(text: str, language: str) -> None:
    assert detect_language(text) == language
