"""The capital side in chat: an investor posts an offer, an achievement owner finds it, investors search by stage."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from actions.negotiation import ActionCommand
from actions.services import set_services
from matchmaker.runtime import Services
from tests.unit.fakes import make_services
from tests.unit.test_actions import run, tracker


@pytest.fixture()
def services(tmp_path: Path) -> Iterator[Services]:
    built = make_services(tmp_path)
    set_services(built)
    yield built
    set_services(None)


def _texts(messages: list[dict[str, object]]) -> str:
    return "\n".join(str(m.get("text") or "") for m in messages)


def test_an_investor_posts_an_offer_and_an_achievement_owner_finds_it(services: Services) -> None:
    _, posted = run(ActionCommand(), tracker(
        "post funding offer: angel investment of 0.5-5 million yuan for lithium battery cathode teams",
        "command", sender="investor-1"))
    assert "Published your funding offer" in _texts(posted) and "¥500,000–¥5,000,000 · angel" in _texts(posted)
    [offer] = [item for item in services.listings.by_owner("investor-1")]
    assert (offer.kind, offer.amount_min, offer.amount_max, offer.stage) == ("funding", 500_000, 5_000_000, "angel")
    _, found = run(ActionCommand(), tracker("find funding for a low-temperature lithium battery cathode", "command",
                                            sender="lab-1"))
    assert "Funding offers that fit your achievement" in _texts(found)
    assert "angel" in _texts(found) and "lithium battery cathode teams" in _texts(found)


def test_an_offer_without_amounts_or_stage_is_refused_politely_in_its_language(services: Services) -> None:
    _, english = run(ActionCommand(), tracker("post funding offer: we like to fund battery teams", "command"))
    assert "needs its amount range and stage" in _texts(english)
    _, chinese = run(ActionCommand(), tracker("发布资金：我们投资锂电池材料项目，金额面议", "command"))
    assert "发布资金信息需写明金额范围和阶段" in _texts(chinese)
    assert services.listings.by_owner("user-1") == []


def test_find_funding_asks_which_achievement_when_there_is_none(services: Services) -> None:
    _, asked = run(ActionCommand(), tracker("找资金", "command", sender="new-user"))
    assert "请问需要为哪项成果找资金" in _texts(asked)


def test_investors_search_achievements_within_a_stage(services: Services) -> None:
    _, pilot = run(ActionCommand(), tracker("find achievements at industrial stage in lithium battery cathode",
                                            "command", sender="investor-2"))
    text = _texts(pilot)
    assert "industrialisation stage (TRL 8-9)" in text
    assert "Low-temperature lithium battery cathode" in text and "TRL 6" not in text
