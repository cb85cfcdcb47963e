"""Requirements against preferences in a description, and the query the index is sent."""

from __future__ import annotations

from pathlib import Path

import pytest

from matchmaker.conditions import (
    Mention,
    market_side,
    mentions,
    required_values,
    search_query,
    stated_as_requirement,
)
from nlu.lexicon import Lexicon

LEXICON = Lexicon.load(Path(__file__).resolve().parents[2] / "data" / "lexicon.yml")


def found(text: str) -> list[Mention]:
    return mentions([m.as_rasa(text) for m in LEXICON.extract(text)])


@pytest.mark.parametrize("text", [
    "We are a ceramics company in Jiangsu looking for kiln heat recovery",
    "我们是江苏一家陶瓷企业，想找窑炉余热回收技术",
    "Our plant near Suzhou wants something ready for mass production",
])
def test_a_fact_about_the_user_is_a_preference(text: str) -> None:
    mentioned = found(text)
    assert any(m.entity in ("region", "maturity") for m in mentioned)
    assert not required_values(text, mentioned, "region") and not required_values(text, mentioned, "maturity")


@pytest.mark.parametrize(("text", "entity", "value"), [
    ("Kiln heat recovery, only in Jiangsu please", "region", "jiangsu"),
    ("窑炉余热回收，只要江苏的", "region", "jiangsu"),
    ("窑炉余热回收技术，必须已量产", "maturity", "8"),
    ("kiln heat recovery, must be TRL 7", "maturity", "7"),
])
def test_a_stated_requirement_is_required(text: str, entity: str, value: str) -> None:
    assert required_values(text, found(text), entity) == [value]


def test_requirement_cue_must_stand_next_to_the_mention() -> None:
    text = "We must cut costs. Our factory is in Jiangsu and makes ceramics."
    region = next(m for m in found(text) if m.entity == "region")
    assert not stated_as_requirement(text, region)


def test_query_drops_budget_deadline_region_and_framing_but_keeps_the_technology() -> None:
    text = ("We are a ceramics company in Jiangsu looking for a way to recover waste heat from roller kilns, "
            "budget 2 million yuan, within 6 months")
    query = search_query(text, found(text))
    assert "waste heat" in query and "roller kilns" in query
    for gone in ("million", "6 months", "Jiangsu", "We are"):
        assert gone not in query


def test_chinese_query_drops_company_introduction_and_budget() -> None:
    text = "我们是江苏一家陶瓷企业，想找窑炉余热回收方面的技术，预算200万元，半年内完成"
    query = search_query(text, found(text))
    assert "窑炉余热回收" in query
    assert "200万" not in query and "我们是" not in query and "江苏" not in query


def test_short_messages_are_sent_whole() -> None:
    assert search_query("budget 2 million", found("budget 2 million")) == "budget 2 million"
    assert search_query("lithium battery", []) == "lithium battery"


@pytest.mark.parametrize(("text", "side"), [
    ("We are a battery maker in Wuxi and need a dry electrode coating process, budget 2 million yuan", "demand"),
    ("Is there a way to recover silver from old solar panels?", "demand"),
    ("我们是宁波一家注塑企业，产品翘曲严重，想找解决办法，预算50万", "demand"),
    ("想找研究锂电池低温性能的成果", "demand"),
    ("Our lab developed a perovskite solar cell and is looking for manufacturers to commercialise it", "achievement"),
    ("We hold two patents on magnesium alloys and seek industrial partners", "achievement"),
    ("我们课题组研发了一种锂电池正极材料，已完成中试，寻求企业合作", "achievement"),
    ("团队做了作物估产AI模型，想和农业企业合作", "achievement"),
    ("graphene", None),
])
def test_market_side_from_wording(text: str, side: str | None) -> None:
    assert market_side(text) == side
