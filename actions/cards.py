"""Match cards: a carousel for the web widget, text with buttons for other channels."""

from __future__ import annotations

import json
from typing import Any, Dict, List, Sequence

from rasa_sdk.executor import CollectingDispatcher

from matchmaker.listings import Listing
from matchmaker.matching import Match
from matchmaker.messages import money, say, word
from matchmaker.notices import word as notice_word
from nlu.lexicon import Lexicon

CAROUSEL_CHANNELS = ("socketio",)


def why(match: Match, language: str) -> str:
    """One line saying why ``match`` fits: shared terms or the closest passage, and preferences."""
    parts: List[str] = []
    separator = "、" if language == "zh" else ", "
    if match.shared_terms:
        parts.append(say("why_terms", language, terms=separator.join(match.shared_terms)))
    if match.passage:
        parts.append(say("why_passage", language, passage=match.passage))
    if not parts:
        parts.append(say("why_semantic", language))
    if match.same_field:
        parts.append(say("why_field", language))
    if match.same_region:
        parts.append(say("why_region", language))
    parts.extend(behaviour_reasons(match, language))
    return "；".join(parts) if language == "zh" else "; ".join(parts)


def credit_level(score: float) -> str:
    """The word for a credit score band."""
    if score >= 75:
        return "credit_high"
    if score >= 60:
        return "credit_good"
    if score >= 45:
        return "credit_fair"
    return "credit_low"


def behaviour_reasons(match: Match, language: str) -> List[str]:
    """What collaborative filtering and the owner's credit add to the reasons."""
    signals = match.signals
    if signals is None:
        return []
    parts: List[str] = []
    if signals.similar_engaged:
        key = "why_similar" if signals.cf is not None else "why_popular"
        parts.append(say(key, language, count=signals.similar_engaged))
    if signals.credit_known:
        parts.append(say("why_credit", language, score=f"{signals.credit:.0f}",
                         level=word(credit_level(signals.credit), language),
                         component=word(signals.credit_main, language)))
    else:
        parts.append(say("why_credit_new", language))
    return parts


def owner_label(owner_type: str, language: str) -> str:
    """What a card says of the owner before a thread discloses it: the kind of organisation."""
    label = notice_word(owner_type or "enterprise", language)
    return label[:1].upper() + label[1:] if language == "en" else label


def region_label(code: str, lexicon: Lexicon, language: str) -> str:
    """Display name of a region code (unknown codes are translated as words)."""
    name = lexicon.region_name(code, language)
    return word(code, language) if name == code else name


def contact_payload(rank: int, intent: str = "contact") -> str:
    """The button payload that sends ``intent`` (contact by default) about match ``rank``."""
    return f"/{intent}" + json.dumps({"match_rank": str(rank)})


def card_buttons(rank: int, language: str) -> List[Dict[str, str]]:
    """Contact, "more like this" and "not relevant" buttons of one card."""
    return [{"title": f"{say('button_contact', language)} #{rank}", "payload": contact_payload(rank)},
            {"title": say("button_similar", language), "payload": contact_payload(rank, "more_like_this")},
            {"title": say("button_not_relevant", language), "payload": contact_payload(rank, "not_relevant")}]


def card_values(match: Match, lexicon: Lexicon, language: str) -> Dict[str, Any]:
    """The values a card template is filled with."""
    listing = match.listing
    return {"rank": match.rank, "title": listing.title, "owner": owner_label(listing.owner_type, language),
            "region": region_label(listing.region, lexicon, language), "maturity": listing.maturity,
            "facts": listing_facts(listing, language), "score": f"{match.score:.2f}", "why": why(match, language)}


def listing_facts(listing: Listing, language: str) -> str:
    """A card's key facts: the maturity, or a funding offer's amount range and stage."""
    if listing.kind == "funding":
        return say("card_funding", language, low=money(listing.amount_min or 0, language),
                   high=money(listing.amount_max or 0, language), stage=word(listing.stage, language))
    return say("card_maturity", language, maturity=listing.maturity)


def send_matches(dispatcher: CollectingDispatcher, matches: Sequence[Match], lexicon: Lexicon,
                 language: str, channel: str) -> None:
    """Show ``matches`` as cards suited to ``channel``."""
    if channel in CAROUSEL_CHANNELS:
        elements = []
        for match in matches:
            values = card_values(match, lexicon, language)
            elements.append({
                "title": f"{match.rank}. {match.listing.title}",
                "subtitle": say("card_subtitle", language, **values),
                "buttons": [{"type": "postback", **button} for button in card_buttons(match.rank, language)],
            })
        dispatcher.utter_message(attachment={"type": "template",  # type: ignore[arg-type]
                                             "payload": {"template_type": "generic", "elements": elements}})
    else:
        for match in matches:
            dispatcher.utter_message(
                text=say("card", language, **card_values(match, lexicon, language)),
                buttons=card_buttons(match.rank, language))
    dispatcher.utter_message(text=say("correct_hint", language),
                             buttons=[{"title": say("button_more", language), "payload": "/more"}])
