"""Saved needs: keep the current search for alerts, list them, stop them."""

from __future__ import annotations

from typing import Dict, List

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.numbers import MAX_ID, decimal_number
from actions.relay import acting_id
from actions.services import get_services
from matchmaker.alerts import NeedError, SavedNeed
from matchmaker.messages import localised
from matchmaker.messages import word as common_word
from nlu.commands import Command

MAX_LISTED = 10

_SAY: Dict[str, Dict[str, str]] = {
    "need_saved": {"en": "Saved as need #{need}: I will tell you here when a new {kind} matches “{query}”. "
                         "Say 'stop alerts {need}' to stop.",
                   "zh": "已保存为订阅#{need}：有新的{kind}与“{query}”匹配时，我会在这里通知您。输入“取消通知{need}”即可停止。"},
    "need_no_search": {"en": "Search first (describe what you need), then say 'notify me of new matches'.",
                       "zh": "请先描述您的需求进行检索，然后输入“有新成果通知我”。"},
    "need_bad": {"en": "I cannot save that search: {reason}", "zh": "无法保存该检索：{reason}"},
    "stopped_one": {"en": "Alerts for need #{need} are stopped.", "zh": "订阅#{need}的通知已取消。"},
    "stopped_all": {"en": "All your alerts are stopped ({count}).", "zh": "已取消您的全部通知（{count}项）。"},
    "stopped_none": {"en": "You have no alerts to stop.", "zh": "您没有需要取消的通知。"},
    "unknown_need": {"en": "You have no saved need #{need}. Say 'my alerts' to see yours.",
                     "zh": "您没有编号为#{need}的订阅。输入“我的订阅”查看。"},
    "needs_header": {"en": "Your saved needs:", "zh": "您的订阅："},
    "needs_none": {"en": "You have no saved needs. After a search, say 'notify me of new matches'.",
                   "zh": "您还没有订阅。检索后输入“有新成果通知我”即可订阅。"},
}


def say(key: str, language: str, **values: object) -> str:
    """A saved-need reply in ``language``."""
    return localised(_SAY[key], language).format(**values)


def save_need(dispatcher: CollectingDispatcher, tracker: Tracker, command: Command,
              language: str) -> List[EventType]:
    """Keep the current search (text, hard filters, language) as a need to be alerted about."""
    search = tracker.get_slot("search")
    if not isinstance(search, dict) or not search.get("query"):
        dispatcher.utter_message(text=say("need_no_search", language))
        return []
    need = SavedNeed(id=0, owner_id=acting_id(tracker), query=str(search["query"]),
                     target_kind=str(search.get("target_kind") or "achievement"),
                     language=str(search.get("language") or language), regions=tuple(search.get("regions") or ()),
                     field=search.get("field") or None, min_maturity=search.get("min_maturity") or None)
    try:
        stored = get_services().alerts.save_need(need)
    except NeedError as error:
        dispatcher.utter_message(text=say("need_bad", language, reason=str(error)))
        return []
    dispatcher.utter_message(text=say("need_saved", language, need=stored.id, query=stored.query[:60],
                                      kind=common_word(stored.target_kind, language)))
    return []


def stop_alerts(dispatcher: CollectingDispatcher, tracker: Tracker, command: Command,
                language: str) -> List[EventType]:
    """Stop one saved need (by number) or all of the user's."""
    raw = command.args.get("need", "")
    need_id = decimal_number(raw)
    try:
        if need_id is not None and need_id > MAX_ID:
            raise NeedError("unknown_need", f"no saved need {raw}")
        count = get_services().alerts.stop_needs(acting_id(tracker), need_id)
    except NeedError:
        dispatcher.utter_message(text=say("unknown_need", language, need=raw))
        return []
    if need_id is not None:
        dispatcher.utter_message(text=say("stopped_one", language, need=need_id))
    else:
        dispatcher.utter_message(text=say("stopped_all" if count else "stopped_none", language, count=count))
    return []


def my_alerts(dispatcher: CollectingDispatcher, tracker: Tracker, command: Command,
              language: str) -> List[EventType]:
    """List the user's active saved needs."""
    needs = get_services().alerts.needs.for_owner(acting_id(tracker))
    if not needs:
        dispatcher.utter_message(text=say("needs_none", language))
        return []
    lines = [say("needs_header", language)] + [
        f"#{need.id} {common_word(need.target_kind, language)} · “{need.query[:60]}”" for need in needs[:MAX_LISTED]]
    dispatcher.utter_message(text="\n".join(lines))
    return []


ALERT_HANDLERS = {"save_need": save_need, "stop_alerts": stop_alerts, "my_alerts": my_alerts}
