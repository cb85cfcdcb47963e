"""Feedback on a shown match: "more like this" searches from it, "not relevant" records why."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import DomainDict, latest_text, polite_failures, relays_in_thread, turn_language
from actions.matching import chosen_listing, request_from_slot, show_page
from actions.relay import acting_id
from actions.services import get_services
from behaviour.events import Event
from matchmaker.messages import say

_REASON = re.compile(r"(?:because|as|reason:?|since|因为|原因[:：]?)\s*(.+)$", re.I)


class ActionMoreLikeThis(Action):
    """Search again with a shown match as the description."""

    def name(self) -> str:
        """Action name in the domain."""
        return "action_more_like_this"

    @polite_failures
    @relays_in_thread
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        """Record the feedback, then show listings similar to the chosen one."""
        language = turn_language(tracker)
        listing = chosen_listing(dispatcher, tracker, language, "feedback_which")
        request = request_from_slot(tracker)
        if listing is None or request is None:
            return []
        services = get_services()
        services.events.append([Event("more_like_this", acting_id(tracker), listing_id=listing.id,
                                      subject_id=listing.owner_id, query=request.query)])
        similar = replace(request, query=listing.search_text)
        header = say("similar_header", language, title=listing.title, count="{count}")
        return show_page(dispatcher, tracker, similar, 0, language, header)


class ActionNotRelevant(Action):
    """Record that a shown match is not relevant, with the reason when one is given."""

    def name(self) -> str:
        """Action name in the domain."""
        return "action_not_relevant"

    @polite_failures
    @relays_in_thread
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        """Store the feedback event and thank the user."""
        language = turn_language(tracker)
        listing = chosen_listing(dispatcher, tracker, language, "feedback_which")
        if listing is None:
            return []
        request = request_from_slot(tracker)
        found = _REASON.search(latest_text(tracker))
        get_services().events.append([Event("not_relevant", acting_id(tracker), listing_id=listing.id,
                                            subject_id=listing.owner_id, query=request.query if request else "",
                                            reason=found.group(1).strip() if found else "")])
        dispatcher.utter_message(text=say("not_relevant_thanks", language, title=listing.title))
        return []
