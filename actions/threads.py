"""Listing a participant's negotiation threads."""

from __future__ import annotations

from typing import Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions.common import DomainDict, polite_failures, turn_language
from actions.relay import acting_id, counterpart_line
from actions.services import get_services
from matchmaker.messages import say, word
from matchmaker.notices import button

MAX_LISTED = 20


class ActionListThreads(Action):
    """Show the user's threads, whichever side of them the user is on, with the next move of each."""

    def name(self) -> str:
        """Action name in the domain."""
        return "action_list_threads"

    @polite_failures
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        """List threads, newest first; the other party as far as each thread's stage discloses it."""
        language = turn_language(tracker)
        services = get_services()
        viewer = acting_id(tracker)
        threads = services.threads.for_participant(viewer)[:MAX_LISTED]
        if not threads:
            dispatcher.utter_message(text=say("threads_none", language))
            return []
        listings = services.listings.get_many([t.listing_id for t in threads])
        lines = [say("threads_header", language)]
        buttons: List[Dict[str, str]] = []
        for thread in threads:
            listing = listings.get(thread.listing_id)
            title = listing.title if listing else f"#{thread.listing_id}"
            lines.append(say("thread_line", language, thread=thread.id, title=title,
                             other=counterpart_line(services, thread, viewer, language),
                             state=word(thread.state, language)))
            if thread.state == "requested" and thread.owner_id == viewer:
                buttons += [button("accept", language, "accept", thread.id),
                            button("decline", language, "decline", thread.id)]
            elif thread.state in ("requested", "accepted", "nda_pending", "open"):
                buttons.append(button("open_thread", language, "open", thread.id))
        dispatcher.utter_message(text="\n".join(lines), buttons=buttons[:12] or None)
        return []
