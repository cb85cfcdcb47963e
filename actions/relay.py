"""Thread traffic every action shares: who is acting, relaying free text, what waited for the user."""

from __future__ import annotations

import hashlib
import logging
import os
from typing import Any, Dict, List, Optional, Sequence

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.services import get_services
from channels.gateway import pushing_messengers
from matchmaker.delivery import Delivery, channel_of
from matchmaker.messages import localised
from matchmaker.messages import word as common_word
from matchmaker.negotiation import NegotiationError, Thread
from matchmaker.notices import counterpart_text, inbox_header, render_delivery
from matchmaker.runtime import Services

logger = logging.getLogger(__name__)

ACTIVE_THREAD_SLOT = "active_thread"


def acting_id(tracker: Tracker) -> str:
    """The participant the sender acts for (the sender id itself when not signed in)."""
    return get_services().threads.accounts.acting_id(tracker.sender_id)


def active_thread(tracker: Tracker) -> Optional[int]:
    """The thread the user has entered, if any."""
    value = tracker.get_slot(ACTIVE_THREAD_SLOT)
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def client_key(tracker: Tracker) -> str:
    """A key unique to this user turn, so a retried turn does not store a message twice."""
    message_id = tracker.latest_message.get("message_id")
    if message_id:
        return str(message_id)[:100]
    latest: Dict[str, Any] = next((e for e in reversed(tracker.events) if e.get("event") == "user"), {})
    raw = f"{tracker.sender_id}|{latest.get('timestamp')}|{latest.get('text')}"
    return hashlib.sha256(raw.encode()).hexdigest()[:40]


def emit(dispatcher: CollectingDispatcher, messages: Sequence[Dict[str, Any]]) -> None:
    """Say rendered thread messages (text with optional buttons)."""
    for message in messages:
        buttons = message.get("buttons") or None
        dispatcher.utter_message(text=str(message.get("text", "")), buttons=buttons)


def counterpart_line(services: Services, thread: Thread, viewer: str, language: str) -> str:
    """Who the other party of ``thread`` is, as far as its stage allows."""
    view = services.threads.counterpart_view(thread, viewer)
    known_region = view.region and view.region != "unspecified"
    region = services.lexicon.region_name(view.region, language) if known_region else ""
    field = services.lexicon.field_name(view.field, language) if view.field and view.field != "general" else ""
    return counterpart_text(view, language, region, field)


def render_for(services: Services, delivery: Delivery, language: str) -> List[Dict[str, Any]]:
    """One delivery as its recipient sees it (with the counterpart when it is the disclosure)."""
    counterpart = ""
    if delivery.kind == "system" and delivery.body == "disclosed":
        viewer = services.threads.accounts.acting_id(delivery.identity)
        try:
            counterpart = counterpart_line(services, services.threads.thread(delivery.thread_id, viewer), viewer,
                                           language)
        except NegotiationError:
            counterpart = ""
    return render_delivery(delivery, language, counterpart)


def pushed_to(sender_id: str) -> bool:
    """Whether the sender's messenger has push on: its rows then go only through the outbox, in order."""
    return channel_of(sender_id) in pushing_messengers(os.environ)


def show_waiting(dispatcher: CollectingDispatcher, sender_id: str, language: str) -> int:
    """Put what waited for ``sender_id`` (requests, messages, notices) at the top of the reply.

    A Telegram or WeChat sender whose channel pushes gets nothing here: a reply travels apart
    from the pushes, so handing rows to it could overtake the one being pushed.
    """
    if pushed_to(sender_id):
        return 0
    services = get_services()
    waiting = services.threads.take_inbox(sender_id)
    if not waiting:
        return 0
    dispatcher.utter_message(text=inbox_header(len(waiting), language))
    for delivery in waiting:
        emit(dispatcher, render_for(services, delivery, language))
    return len(waiting)


def relay(dispatcher: CollectingDispatcher, tracker: Tracker, thread_id: int, text: str,
          language: str) -> List[EventType]:
    """Store ``text`` as a message of the entered thread and confirm it; the outbox delivers it."""
    services = get_services()
    try:
        message, _ = services.threads.post_message(thread_id, acting_id(tracker), text, client_key(tracker))
    except NegotiationError as error:
        dispatcher.utter_message(text=refusal(error, language, thread_id))
        if error.code in ("no_such_thread", "bad_state"):
            return [SlotSet(ACTIVE_THREAD_SLOT, None)]
        return []
    dispatcher.utter_message(text=sent_text(thread_id, message.seq, language))
    return []


def sent_text(thread_id: int, seq: int, language: str) -> str:
    """The acknowledgement of a relayed message."""
    if language == "zh":
        return f"✓ 已发送给对方（洽谈#{thread_id}，第{seq}条）。输入“退出”离开洽谈。"
    return f"✓ Sent to the other party (thread #{thread_id}, message {seq}). Say 'leave' to leave the thread."


_REFUSALS: Dict[str, Dict[str, str]] = {
    "no_such_thread": {"en": "There is no thread #{thread} for you. Say 'my threads' to see yours.",
                       "zh": "您没有编号为#{thread}的洽谈。输入“我的洽谈”查看您的洽谈。"},
    "not_allowed": {"en": "Only the other party can do that in thread #{thread}.",
                    "zh": "在洽谈#{thread}中，这一步需要由对方操作。"},
    "bad_state": {"en": "That is not possible in thread #{thread} at its current stage ({state}).",
                  "zh": "洽谈#{thread}当前阶段（{state}）不能进行这一操作。"},
    "bad_proposal": {"en": "That proposal is not valid: give the kind (licence, transfer, joint development, "
                           "commissioned R&D), a price and a duration, e.g. 'propose licence 500000 yuan 12 months'.",
                     "zh": "方案不完整：请写明合作方式（许可、转让、合作开发、委托开发）、价格和期限，例如“提议 许可 50万 12个月”。"},
    "bad_message": {"en": "That message cannot be sent (empty or longer than 2,000 characters).",
                    "zh": "这条消息无法发送（为空或超过2000字）。"},
    "bad_rating": {"en": "A rating is 1 to 5 stars, e.g. 'rate 5 great partner'.",
                   "zh": "评分为1到5分，例如“评分5 合作愉快”。"},
    "already_done": {"en": "You have already done that in thread #{thread}.", "zh": "您已在洽谈#{thread}中完成过这一步。"},
    "self_contact": {"en": "That listing is yours.", "zh": "这是您自己发布的信息。"},
    "nda_mismatch": {"en": "The NDA changed; please read it again and confirm.", "zh": "保密协议已更新，请重新阅读并确认。"},
}


def refusal(error: NegotiationError, language: str, thread_id: Optional[int], state: str = "") -> str:
    """A polite reply for a refused move, in ``language``."""
    variants = _REFUSALS.get(error.code, _REFUSALS["bad_state"])
    return localised(variants, language).format(thread=thread_id if thread_id is not None else "",
                                                state=common_word(state, language) if state else "?")
