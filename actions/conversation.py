"""Greetings, help, small talk and the fallback, all in the user's language."""

from __future__ import annotations

from typing import List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import DomainDict, polite_failures, relays_in_thread, turn_language
from matchmaker.messages import say

_REPLY_BY_INTENT = {"greet": "greet", "help": "help", "goodbye": "goodbye", "thanks": "thanks",
                    "affirm": "affirm", "deny": "deny", "out_of_scope": "out_of_scope"}
_EXAMPLES = {
    "en": ["We need a low-cost sensor to detect early sepsis in ICU patients",
           "Our lab developed a catalyst that cuts wastewater treatment costs"],
    "zh": ["我们是苏州的陶瓷企业，窑炉能耗太高，需要节能改造技术", "我们课题组研发了一种新型锂电池正极材料"],
}


class ActionReplySmalltalk(Action):
    """Reply to greetings, help requests, thanks, yes/no and off-topic messages."""

    def name(self) -> str:
        """Action name in the domain."""
        return "action_reply_smalltalk"

    @polite_failures
    @relays_in_thread
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        """Say the reply that fits the intent."""
        language = turn_language(tracker)
        intent = str((tracker.latest_message.get("intent") or {}).get("name"))
        key = _REPLY_BY_INTENT.get(intent, "fallback")
        if key in ("greet", "help"):
            buttons = [{"title": example, "payload": example} for example in _EXAMPLES[language]]
            dispatcher.utter_message(text=say(key, language), buttons=buttons)
        else:
            dispatcher.utter_message(text=say(key, language))
        return []


class ActionFallback(Action):
    """What the assistant says when it did not understand."""

    def name(self) -> str:
        """Action name in the domain."""
        return "action_fallback"

    @polite_failures
    @relays_in_thread
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        """Explain what the assistant can do."""
        dispatcher.utter_message(text=say("fallback", turn_language(tracker)))
        return []
