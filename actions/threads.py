"""Listing a participant's negotiation threads."""

from __future__ import annotations

from typing import List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import DomainDict, polite_failures, turn_language
from actions.listings import member_name
from actions.services import get_services
from matchmaker.messages import say, word


class ActionListThreads(Action):
    """Show the user's threads, whichever side of them the user is on."""

    def name(self) -> str:
        """Action name in the domain."""
        return "action_list_threads"

    @polite_failures
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        """List threads, newest first."""
        language = turn_language(tracker)
        services = get_services()
        threads = services.threads.for_participant(tracker.sender_id)
        if not threads:
            dispatcher.utter_message(text=say("threads_none", language))
            return []
        listings = services.listings.get_many([t.listing_id for t in threads])
        lines = [say("threads_header", language)]
        for thread in threads[:20]:
            listing = listings.get(thread.listing_id)
            title = listing.title if listing else f"#{thread.listing_id}"
            other = thread.other_party(tracker.sender_id)
            other_name = listing.owner_name if listing and other == listing.owner_id else member_name(other, language)
            lines.append(say("thread_line", language, thread=thread.id, title=title, other=other_name,
                             state=word(thread.state, language)))
        dispatcher.utter_message(text="\n".join(lines))
        return []
