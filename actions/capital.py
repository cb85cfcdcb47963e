"""The capital side: an achievement owner looks for funding, an investor looks for achievements by stage."""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.matching import show_page
from actions.relay import acting_id
from actions.services import get_services
from matchmaker.matching import SearchRequest
from matchmaker.messages import localised
from nlu.commands import Command

STAGE_TRL: Dict[str, Tuple[int, int]] = {"lab": (1, 3), "prototype": (4, 6), "pilot": (6, 7), "industrial": (8, 9)}

_SAY: Dict[str, Dict[str, str]] = {
    "funding_header": {"en": "Funding offers that fit your achievement ({count}; demo offers are illustrative):",
                       "zh": "适合您成果的资金（{count}条；示例数据仅供演示）："},
    "funding_what": {"en": "Which achievement needs funding? Say 'find funding for ' and describe it, or post it first.",
                     "zh": "请问需要为哪项成果找资金？请输入“找资金：成果描述”，或先发布您的成果。"},
    "stage_header": {"en": "Achievements at the {stage} stage (TRL {low}-{high}), {first}-{last}:",
                     "zh": "处于{stage}阶段（成熟度{low}-{high}级）的成果，第{first}-{last}条："},
    "stage_what": {"en": "Which topic? Say e.g. 'find achievements at prototype stage in battery materials'.",
                   "zh": "请问是哪个方向？例如“样机阶段的成果：锂电池材料”。"},
}
_STAGES: Dict[str, Dict[str, str]] = {
    "lab": {"en": "laboratory", "zh": "实验室"}, "prototype": {"en": "prototype", "zh": "样机"},
    "pilot": {"en": "pilot", "zh": "中试"}, "industrial": {"en": "industrialisation", "zh": "产业化"},
}


def say(key: str, language: str, **values: object) -> str:
    """A capital-side reply in ``language``."""
    return localised(_SAY[key], language).format(**values)


def _remembered_query(tracker: Tracker) -> str:
    search = tracker.get_slot("search")
    return str(search.get("query") or "") if isinstance(search, dict) else ""


def own_achievement_text(tracker: Tracker) -> Tuple[str, Optional[str], Optional[str]]:
    """The text of the user's newest achievement, with its field and region ("" when they posted none)."""
    mine = [item for item in get_services().listings.by_owner(acting_id(tracker)) if item.kind == "achievement"]
    if not mine:
        return "", None, None
    return mine[0].search_text, mine[0].field, mine[0].region


def find_funding(dispatcher: CollectingDispatcher, tracker: Tracker, command: Command,
                 language: str) -> List[EventType]:
    """Search funding offers for the achievement named, the user's own, or the one just searched about."""
    text = command.args.get("text", "")
    field: Optional[str] = None
    region: Optional[str] = None
    if not text:
        text, field, region = own_achievement_text(tracker)
    text = text or _remembered_query(tracker)
    if not text:
        dispatcher.utter_message(text=say("funding_what", language))
        return []
    request = SearchRequest(query=text, target_kind="funding", language=language, requester_id=acting_id(tracker),
                            prefer_field=field or get_services().lexicon.classify_field(text),
                            prefer_regions=(region,) if region else ())
    return show_page(dispatcher, tracker, request, 0, language, say("funding_header", language, count="{count}"))


def stage_search(dispatcher: CollectingDispatcher, tracker: Tracker, command: Command,
                 language: str) -> List[EventType]:
    """Search achievements within the TRL range of a stage (what investors ask for)."""
    stage = command.args.get("stage", "prototype")
    low, high = STAGE_TRL.get(stage, (1, 9))
    text = command.args.get("text", "") or _remembered_query(tracker)
    if not text:
        dispatcher.utter_message(text=say("stage_what", language))
        return []
    request = SearchRequest(query=text, target_kind="achievement", language=language,
                            requester_id=acting_id(tracker), min_maturity=low, max_maturity=high)
    header = say("stage_header", language, stage=localised(_STAGES[stage], language), low=low, high=high,
                 first="{first}", last="{last}")
    return show_page(dispatcher, tracker, request, 0, language, header)


CAPITAL_HANDLERS = {"find_funding": find_funding, "stage_search": stage_search}
