"""Actions that search, refine, page through and contact matches."""

from __future__ import annotations

import re
import time
from dataclasses import asdict, replace
from typing import Any, Dict, List, Optional, Sequence

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.cards import owner_label, region_label, send_matches
from actions.common import (
    DomainDict,
    entity_values,
    first_entity,
    latest_text,
    number_values,
    polite_failures,
    relays_in_thread,
    turn_language,
)
from actions.listings import post_from_description
from actions.numbers import decimal_number
from actions.relay import acting_id
from actions.services import get_services
from behaviour.events import Event
from matchmaker.alerts import topic_coverage
from matchmaker.conditions import market_side, mentions, required_values, search_query
from matchmaker.listings import Listing
from matchmaker.matching import Match, SearchRequest
from matchmaker.messages import duration, money, say, word
from matchmaker.negotiation import NegotiationError
from nlu.lexicon import Lexicon

TARGET_BY_INTENT = {"describe_demand": "achievement", "describe_achievement": "demand"}
TARGET_BY_SIDE = {"demand": "achievement", "achievement": "demand"}
_ANY_REGION = re.compile(r"不限地区|地区不限|任何地区|全国|any region|all regions|anywhere|any province", re.I)


SOFT_ENTITIES = ("field", "region", "maturity")
NUMERIC_ENTITIES = ("budget", "deadline", "maturity")


def understood_summary(lexicon: Lexicon, language: str, entities: Dict[str, List[str]],
                       required: Sequence[str] = SOFT_ENTITIES) -> str:
    """A readable list of what was understood; field, region and maturity not in ``required`` are marked preferred."""

    def mark(name: str, text: str) -> str:
        if name in SOFT_ENTITIES and name not in required:
            return f"{text}（{word('preferred', language)}）" if language == "zh" else f"{text} ({word('preferred', language)})"
        return text

    parts: List[str] = []
    if entities.get("field"):
        parts.append(mark("field", f"{word('field', language)}: {lexicon.field_name(entities['field'][0], language)}"))
    if entities.get("region"):
        names = [region_label(code, lexicon, language) for code in entities["region"]]
        parts.append(mark("region", f"{word('region', language)}: {'/'.join(names)}"))
    if entities.get("budget"):
        parts.append(f"{word('budget', language)}: {money(int(entities['budget'][0]), language)}")
    if entities.get("deadline"):
        parts.append(f"{word('deadline', language)}: {duration(int(entities['deadline'][0]), language)}")
    if entities.get("maturity"):
        parts.append(mark("maturity", f"{word('maturity', language)}: ≥ TRL {entities['maturity'][0]}"))
    return "；".join(parts) if language == "zh" else "; ".join(parts)


def description_request(tracker: Tracker, target: str, language: str, cross_lingual: bool) -> SearchRequest:
    """The search a description asks for: stated requirements filter, everything else only lifts."""
    text = latest_text(tracker)
    found = mentions(tracker.latest_message.get("entities", []))
    entities = _entities(tracker)
    regions = tuple(required_values(text, found, "region"))
    fields = required_values(text, found, "field")
    levels = [level for level in required_values(text, found, "maturity") if level in entities["maturity"]] \
        if target == "achievement" else []
    wished = entities["maturity"][0] if entities["maturity"] and target == "achievement" else None
    return SearchRequest(
        query=search_query(text, found), target_kind=target, language=language, requester_id=acting_id(tracker),
        regions=regions, field=fields[0] if fields else None, min_maturity=int(levels[0]) if levels else None,
        prefer_regions=tuple(code for code in entities["region"] if code not in regions),
        prefer_field=entities["field"][0] if entities["field"] and not fields else None,
        prefer_maturity=int(wished) if wished and not levels else None, cross_lingual=cross_lingual)


def search_target(tracker: Tracker) -> str:
    """The side of the market to search: the wording's side when clear, else the intent's."""
    side = market_side(latest_text(tracker))
    if side is not None:
        return TARGET_BY_SIDE[side]
    intent = (tracker.latest_message.get("intent") or {}).get("name")
    return TARGET_BY_INTENT.get(str(intent), "achievement")


def required_entities(request: SearchRequest) -> List[str]:
    """Which of field, region and maturity ``request`` filters on."""
    flags = (("field", request.field), ("region", request.regions), ("maturity", request.min_maturity))
    return [name for name, value in flags if value]


def _entities(tracker: Tracker) -> Dict[str, List[str]]:
    return {name: number_values(tracker, name) if name in NUMERIC_ENTITIES else entity_values(tracker, name)
            for name in ("field", "region", "budget", "deadline", "maturity")}


def request_from_slot(tracker: Tracker) -> Optional[SearchRequest]:
    raw = tracker.get_slot("search")
    if not isinstance(raw, dict) or not raw.get("query"):
        return None
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
    try:
        return SearchRequest(**fields)  # type: ignore[arg-type]
    except TypeError:
        return None


def _request_slot(request: SearchRequest) -> Dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(request).items()}


def show_page(dispatcher: CollectingDispatcher, tracker: Tracker, request: SearchRequest,
              offset: int, language: str, header: str) -> List[EventType]:
    """Search, show one page of matches and remember what was shown."""
    services = get_services()
    page_size = services.settings.page_size
    matches = services.matcher.search(request, offset=offset, limit=page_size)
    if not offset:
        note_search(request, matches)
    shown: List[Any] = list(tracker.get_slot("shown_ids") or []) if offset else []
    if not matches:
        dispatcher.utter_message(text=say("no_more" if offset else "no_results", language))
        return [SlotSet("search", _request_slot(request)), SlotSet("shown_ids", shown)]
    dispatcher.utter_message(text=header.format(count=len(matches), first=offset + 1,
                                                last=offset + len(matches)))
    channel = tracker.get_latest_input_channel() or ""
    send_matches(dispatcher, matches, services.lexicon, language, channel)
    services.events.append([Event("shown", acting_id(tracker), listing_id=m.listing.id, rank=m.rank,
                                  query=request.query, subject_id=m.listing.owner_id) for m in matches])
    shown = shown[:offset] + [m.listing.id for m in matches]
    return [SlotSet("search", _request_slot(request)), SlotSet("search_offset", float(offset)),
            SlotSet("shown_ids", shown)]


def note_search(request: SearchRequest, matches: List[Match]) -> None:
    """Log a new search for the statistics; a weak best match puts the search on the intermediaries' desk.

    A match is weak when none of the first three covers ``low_match_score`` of the query's topic
    terms (the fused score ranks, it does not say whether anything is about the query at all).
    """
    services = get_services()
    top = max((topic_coverage(request.query, m.listing.search_text) for m in matches[:3]), default=0.0)
    field, region = request.field or request.prefer_field or "", (request.regions or request.prefer_regions or ("",))[0]
    services.search_log.record(time.time(), request.requester_id, request.target_kind, field, region,
                               request.language, top, len(matches))
    if top < services.settings.low_match_score:
        services.brokerage.low_match(request.requester_id, request.query, field, region, request.language)


def results_header(request: SearchRequest, language: str) -> str:
    """The line above the first page of results."""
    key = "results_achievements" if request.target_kind == "achievement" else "results_demands"
    return say(key, language, count="{count}")


def chosen_listing(dispatcher: CollectingDispatcher, tracker: Tracker, language: str,
                   which_key: str) -> Optional[Listing]:
    """The shown listing the user points at ("2", a card's button), or a polite question (``which_key``)."""
    shown = [int(i) for i in (tracker.get_slot("shown_ids") or [])]
    if not shown:
        dispatcher.utter_message(text=say("no_search", language))
        return None
    rank = first_entity(tracker, "match_rank")
    if rank is None or not 1 <= (decimal_number(rank) or 0) <= len(shown):
        dispatcher.utter_message(text=say(which_key, language, count=len(shown)))
        return None
    listing_id = shown[int(rank) - 1]
    listing = get_services().listings.get_many([listing_id]).get(listing_id)
    if listing is None:
        dispatcher.utter_message(text=say("service_error", language))
    return listing


class ActionHandleDescription(Action):
    """A problem or achievement was described: post it if a post is pending, else search."""

    def name(self) -> str:
        """Action name in the domain."""
        return "action_handle_description"

    @polite_failures
    @relays_in_thread
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        """Search the other side of the market for the description."""
        language = turn_language(tracker)
        pending = tracker.get_slot("post_pending")
        if pending in ("demand", "achievement"):
            return post_from_description(dispatcher, tracker, str(pending), latest_text(tracker), language)
        services = get_services()
        target = search_target(tracker)
        request = description_request(tracker, target, language, services.settings.cross_lingual)
        summary = understood_summary(services.lexicon, language, _entities(tracker), required_entities(request))
        dispatcher.utter_message(text=say("understood", language, summary=summary) if summary
                                 else say("understood_nothing", language))
        return show_page(dispatcher, tracker, request, 0, language, results_header(request, language))


class ActionRefineSearch(Action):
    """Narrow or correct the current search without starting over."""

    def name(self) -> str:
        """Action name in the domain."""
        return "action_refine_search"

    @polite_failures
    @relays_in_thread
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        """Apply the conditions of the message to the remembered search and search again."""
        language = turn_language(tracker)
        request = request_from_slot(tracker)
        if request is None:
            dispatcher.utter_message(text=say("no_search", language))
            return []
        entities = _entities(tracker)
        text = latest_text(tracker)
        changes: Dict[str, Any] = {}
        if entities["region"]:
            changes["regions"] = tuple(entities["region"])
        elif _ANY_REGION.search(text):
            changes["regions"] = ()
        if entities["field"]:
            changes["field"] = entities["field"][0]
        if entities["maturity"]:
            changes["min_maturity"] = int(entities["maturity"][0])
        if not changes and not entities["budget"] and not entities["deadline"]:
            dispatcher.utter_message(text=say("refine_nothing", language))
            return []
        refined = replace(request, **changes)
        services = get_services()
        summary = understood_summary(services.lexicon, language, entities)
        if "regions" in changes and not changes["regions"]:
            summary = "; ".join(filter(None, [summary, word("any_region", language)]))
        dispatcher.utter_message(text=say("understood", language, summary=summary))
        return show_page(dispatcher, tracker, refined, 0, language, results_header(refined, language))


class ActionShowMore(Action):
    """Show the next page of the current search."""

    def name(self) -> str:
        """Action name in the domain."""
        return "action_show_more"

    @polite_failures
    @relays_in_thread
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        """Page forward."""
        language = turn_language(tracker)
        request = request_from_slot(tracker)
        if request is None:
            dispatcher.utter_message(text=say("no_search", language))
            return []
        offset = len(tracker.get_slot("shown_ids") or [])
        return show_page(dispatcher, tracker, request, offset, language, say("more_results", language,
                                                                             first="{first}", last="{last}"))


class ActionContactMatch(Action):
    """Open a negotiation thread with the owner of a shown match."""

    def name(self) -> str:
        """Action name in the domain."""
        return "action_contact_match"

    @polite_failures
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        """Open (or find) the thread between the user and the listing's owner."""
        language = turn_language(tracker)
        listing = chosen_listing(dispatcher, tracker, language, "contact_which")
        if listing is None:
            return []
        services = get_services()
        rank = first_entity(tracker, "match_rank") or "0"
        request = request_from_slot(tracker)
        try:
            thread, created = services.threads.open(listing.id, acting_id(tracker), listing.owner_id,
                                                    request.query if request else "")
        except NegotiationError:
            dispatcher.utter_message(text=say("contact_self", language))
            return []
        if created:
            services.events.append([Event("contact", acting_id(tracker), listing_id=listing.id,
                                          subject_id=listing.owner_id, thread_id=thread.id, rank=int(rank),
                                          query=request.query if request else "")])
        key = "contact_opened" if created else "contact_exists"
        dispatcher.utter_message(text=say(key, language, thread=thread.id, owner=owner_label(listing.owner_type, language),
                                          title=listing.title, state=word(thread.state, language)))
        return []
