"""Feedback on a shown match: "more like this" searches from it, "not relevant" records why."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import DomainDict, first_entity, latest_text, polite_failures, turn_language
from actions.matching import request_from_slot, show_page
from actions.services import get_services
from behaviour.events import Event
from matchmaker.listings import Listing
from matchmaker.messages import say

_REASON = re.compile(r"(?:because|as|reason:?|since|因为|原因[:：]?)\s*(.+)$", re.I)


def chosen_listing(dispatcher: CollectingDispatcher, tracker: Tracker, language: str) -> Optional[Listing]:
    """The shown listing the user points at ("2", the card's button), or a polite question."""
    shown = [int(i) for i in (tracker.get_slot("shown_ids") or [])]
    if not shown:
        dispatcher.utter_message(text=say("no_search", language))
        return None
    rank = first_entity(tracker, "match_rank")
    if rank is None or not rank.isdigit() or not 1 <= int(rank) <= len(shown):
        dispatcher.utter_message(text=say("feedback_which", language, count=len(shown)))
        return None
    listing_id = shown[int(rank) - 1]
    return get_services().listings.get_many([listing_id]).get(listing_id)


class ActionMoreLikeThis(Action):
    """Search again with a shown match as the description."""

    def name(self) -> str:
        """Action name in the domain."""
        return "action_more_like_this"

    @polite_failures
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        """Record the feedback, then show listings similar to the chosen one."""
        language = turn_language(tracker)
        listing = chosen_listing(dispatcher, tracker, language)
        request = request_from_slot(tracker)
        if listing is None or request is None:
            return []
        services = get_services()
        services.events.append([Event("more_like_this", tracker.sender_id, listing_id=listing.id,
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
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        """Store the feedback event and thank the user."""
        language = turn_language(tracker)
        listing = chosen_listing(dispatcher, tracker, language)
        if listing is None:
            return []
        request = request_from_slot(tracker)
        found = _REASON.search(latest_text(tracker))
        get_services().events.append([Event("not_relevant", tracker.sender_id, listing_id=listing.id,
                                            subject_id=listing.owner_id, query=request.query if request else "",
                                            reason=found.group(1).strip() if found else "")])
        dispatcher.utter_message(text=say("not_relevant_thanks", language, title=listing.title))
        return []
