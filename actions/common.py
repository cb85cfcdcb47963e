"""What every action needs: the turn's language and entities, and safe execution."""

from __future__ import annotations

import functools
import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.desk import DESK_ITEM_SLOT, handed_over, pass_to_intermediary, pass_to_person
from actions.numbers import MAX_ID, decimal_number
from actions.relay import active_thread, relay, show_waiting
from actions.services import get_services
from channels.replies import HANDOFF_MARK
from matchmaker.messages import say
from nlu.language import detect_language

logger = logging.getLogger(__name__)
DomainDict = Dict[str, Any]


def turn_language(tracker: Tracker) -> str:
    """The language of the latest user message; for button payloads, the remembered one."""
    text = tracker.latest_message.get("text") or ""
    remembered = tracker.get_slot("language") or "en"
    if not text or text.startswith("/"):
        return str(remembered)
    return detect_language(text, default=str(remembered))


def desk_item(tracker: Tracker) -> Optional[int]:
    """The handoff item an intermediary is talking in, if any."""
    value = str(tracker.get_slot(DESK_ITEM_SLOT) or "")
    return int(value) if value.isdigit() else None


def entity_values(tracker: Tracker, name: str) -> List[str]:
    """Distinct values of entity ``name`` in the latest message, in order."""
    values: List[str] = []
    for entity in tracker.latest_message.get("entities", []):
        value = entity.get("value")
        if entity.get("entity") == name and value is not None and str(value) not in values:
            values.append(str(value))
    return values


def number_values(tracker: Tracker, name: str) -> List[str]:
    """Distinct values of numeric entity ``name`` that are whole numbers a store can hold, in order."""
    numbers = (decimal_number(value) for value in entity_values(tracker, name))
    return list(dict.fromkeys(str(n) for n in numbers if n is not None and n <= MAX_ID))


def first_entity(tracker: Tracker, name: str) -> Optional[str]:
    """The first value of entity ``name`` in the latest message, if any."""
    values = entity_values(tracker, name)
    return values[0] if values else None


def latest_text(tracker: Tracker) -> str:
    """The latest user message text."""
    return str(tracker.latest_message.get("text") or "").strip()


RunFn = Callable[[Any, CollectingDispatcher, Tracker, DomainDict], Awaitable[List[EventType]]]


def polite_failures(run: RunFn) -> RunFn:
    """Run an action with what every turn needs; any unexpected error becomes a polite reply.

    Before the action, whatever waited for the sender (thread requests, messages, notices)
    is put at the top of the reply, and the sender's language is remembered for messages
    pushed to them later. While an intermediary has taken the sender's handoff, typed text
    goes to the intermediary and the assistant stays quiet. On an error, state is left unchanged.
    """

    @functools.wraps(run)
    async def wrapper(self: Action, dispatcher: CollectingDispatcher, tracker: Tracker,
                      domain: DomainDict) -> List[EventType]:
        language = turn_language(tracker)
        try:
            if tracker.get_slot("language") != language:
                get_services().threads.accounts.remember_language(tracker.sender_id, language)
            show_waiting(dispatcher, tracker.sender_id, language)
            text = latest_text(tracker)
            item = handed_over(tracker) if text and not text.startswith("/") else None
            if item is not None:
                pass_to_intermediary(tracker, item, text)
                dispatcher.utter_message(json_message={HANDOFF_MARK: "relayed", "item": item.id})
                return [SlotSet("language", language)]
            events = await run(self, dispatcher, tracker, domain)
        except Exception:
            logger.exception("Action %s failed", self.name())
            dispatcher.utter_message(text=say("service_error", language))
            return [SlotSet("language", language)]
        return [SlotSet("language", language), *events]

    return wrapper


def relays_in_thread(run: RunFn) -> RunFn:
    """Inside an entered thread, free text goes to the other party instead of running the action.

    Likewise an intermediary's free text in a handoff they took goes to the person.

    Button payloads (``/intent``) still run the action, so an old card's button works.
    """

    @functools.wraps(run)
    async def wrapper(self: Action, dispatcher: CollectingDispatcher, tracker: Tracker,
                      domain: DomainDict) -> List[EventType]:
        thread_id = active_thread(tracker)
        item = desk_item(tracker)
        text = latest_text(tracker)
        if (thread_id is None and item is None) or not text or text.startswith("/"):
            return await run(self, dispatcher, tracker, domain)
        if item is not None:
            return pass_to_person(dispatcher, tracker, item, text, turn_language(tracker))
        return relay(dispatcher, tracker, thread_id or 0, text, turn_language(tracker))

    return wrapper
