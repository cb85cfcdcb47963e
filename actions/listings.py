"""Posting a demand or an achievement through chat."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.cards import listing_facts
from actions.common import (
    DomainDict,
    entity_values,
    latest_text,
    number_values,
    polite_failures,
    relays_in_thread,
    turn_language,
)
from actions.relay import acting_id
from actions.services import get_services
from matchmaker.listings import Listing, ListingError
from matchmaker.messages import say, word
from nlu.commands import Command

MIN_DESCRIPTION_CHARS = 12
_DEMAND_WORDS = re.compile(r"需求|难题|问题|demand|problem|need|request", re.I)
_ACHIEVEMENT_WORDS = re.compile(r"成果|专利|技术成果|achievement|patent|invention|result|technology we", re.I)
_AFTER_COLON = re.compile(r"[:：]\s*(.+)$", re.S)
_SENTENCE_END = re.compile(r"[。！？!?\n]|\.(?:\s|$)")


def posting_kind(text: str, tracker: Tracker) -> Optional[str]:
    """Which kind the user posts: named in the text, else their side of the last search."""
    demand, achievement = _DEMAND_WORDS.search(text), _ACHIEVEMENT_WORDS.search(text)
    if demand and not achievement:
        return "demand"
    if achievement and not demand:
        return "achievement"
    if demand and achievement:
        return "demand" if demand.start() < achievement.start() else "achievement"
    search = tracker.get_slot("search")
    if isinstance(search, dict) and search.get("target_kind") in ("demand", "achievement"):
        return "demand" if search["target_kind"] == "achievement" else "achievement"
    return None


def description_of(text: str) -> Optional[str]:
    """The description after a colon, when the post request carries one."""
    match = _AFTER_COLON.search(text)
    if match and len(match.group(1).strip()) >= MIN_DESCRIPTION_CHARS:
        return match.group(1).strip()
    return None


def title_of(description: str, language: str) -> str:
    """A short title: the first sentence, cut to a readable length."""
    first = _SENTENCE_END.split(description.strip(), maxsplit=1)[0].strip() or description.strip()
    limit = 40 if language == "zh" else 90
    return first if len(first) <= limit else first[:limit - 1] + "…"


def member_name(sender_id: str, language: str) -> str:
    """How a chat user is shown to others."""
    tag = sender_id[-6:]
    return f"平台用户 {tag}" if language == "zh" else f"Platform member {tag}"


def owner_name(tracker: Tracker, language: str) -> str:
    """The name a listing posted by this sender is shown under: the organisation once signed in."""
    participant = get_services().threads.accounts.participant(acting_id(tracker))
    return participant.display_name if participant is not None else member_name(tracker.sender_id, language)


def post_from_description(dispatcher: CollectingDispatcher, tracker: Tracker, kind: str,
                          description: str, language: str, offer: Optional[Dict[str, Any]] = None) -> List[EventType]:
    """Store and index a listing described in ``description``; report the outcome.

    ``offer`` holds a funding offer's amount range and stage (``amount_min``, ``amount_max``, ``stage``).
    """
    services = get_services()
    if len(description) < MIN_DESCRIPTION_CHARS:
        dispatcher.utter_message(text=say("post_ask", language, kind=word(kind, language)))
        return [SlotSet("post_pending", kind)]
    fields = entity_values(tracker, "field")
    regions = entity_values(tracker, "region")
    maturity = number_values(tracker, "maturity")
    budget = number_values(tracker, "budget")
    deadline = number_values(tracker, "deadline")
    field = fields[0] if fields else services.lexicon.classify_field(description) or "general"
    listing = Listing(
        id=0, kind=kind, title=title_of(description, language), text=description,
        owner_id=acting_id(tracker), owner_name=owner_name(tracker, language),
        owner_type="enterprise" if kind == "demand" else "individual",
        listing_type="technical problem" if kind == "demand" else "technology",
        region=regions[0] if regions else "unspecified", field=field,
        maturity=int(maturity[0]) if maturity else (1 if kind == "demand" else 3), language=language,
        budget=int(budget[0]) if budget else None, deadline_days=int(deadline[0]) if deadline else None,
        source=f"chat:{tracker.sender_id}:{tracker.latest_message.get('message_id') or len(tracker.events)}",
        status="pending" if services.settings.review_new_listings else "published")
    if offer is not None:
        listing = replace(listing, owner_type="investor", listing_type="funding offer", maturity=1, **offer)
    try:
        stored = services.matcher.post(listing)
    except ListingError as error:
        dispatcher.utter_message(text=say("post_invalid", language, reason=str(error)))
        return [SlotSet("post_pending", None)]
    services.listing_posted(stored)
    if stored.status == "pending":
        dispatcher.utter_message(text=say("post_held", language, kind=word(kind, language), id=stored.id,
                                          title=stored.title))
        return [SlotSet("post_pending", None)]
    dispatcher.utter_message(text=say(
        "post_done", language, kind=word(kind, language), id=stored.id, title=stored.title,
        field=services.lexicon.field_name(stored.field, language) if stored.field != "general"
        else word("general", language),
        region=services.lexicon.region_name(stored.region, language) if stored.region != "unspecified"
        else word("unspecified", language),
        facts=listing_facts(stored, language)))
    return [SlotSet("post_pending", None)]


def post_command(dispatcher: CollectingDispatcher, tracker: Tracker, command: Command,
                 language: str) -> List[EventType]:
    """"post a demand: ..." / "发布成果：...": publish the description that follows the colon."""
    return post_from_description(dispatcher, tracker, command.args.get("kind", "demand"), command.args.get("text", ""),
                                 language)


def post_funding(dispatcher: CollectingDispatcher, tracker: Tracker, command: Command,
                 language: str) -> List[EventType]:
    """"post funding offer: angel 0.5-5 million yuan for ..." / "发布资金：...": publish a funding offer."""
    args = command.args
    if not (args.get("amount_min") and args.get("amount_max") and args.get("stage")):
        dispatcher.utter_message(text=say("funding_incomplete", language))
        return []
    offer = {"amount_min": int(args["amount_min"]), "amount_max": int(args["amount_max"]), "stage": args["stage"]}
    return post_from_description(dispatcher, tracker, "funding", args.get("text", ""), language, offer)


class ActionPostListing(Action):
    """Publish a listing: at once when the message carries a description, else ask for one."""

    def name(self) -> str:
        """Action name in the domain."""
        return "action_post_listing"

    @polite_failures
    @relays_in_thread
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        """Post, or ask which kind and what to post."""
        language = turn_language(tracker)
        text = latest_text(tracker)
        kind = posting_kind(text, tracker) or "demand"
        description = description_of(text)
        if description is None:
            dispatcher.utter_message(text=say("post_ask", language, kind=word(kind, language)))
            return [SlotSet("post_pending", kind)]
        return post_from_description(dispatcher, tracker, kind, description, language)
