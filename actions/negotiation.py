"""Account and thread commands: sign in, enter and leave threads, answer, NDA, proposals, ratings."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Set

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.alerts import ALERT_HANDLERS
from actions.capital import CAPITAL_HANDLERS
from actions.common import DomainDict, latest_text, polite_failures, turn_language
from actions.desk import DESK_HANDLERS, desk_refusal
from actions.listings import post_command, post_funding
from actions.numbers import MAX_ID, decimal_number
from actions.relay import ACTIVE_THREAD_SLOT, acting_id, active_thread, counterpart_line, refusal, relay
from actions.services import get_services
from matchmaker.accounts import AccountError
from matchmaker.desk import DeskError
from matchmaker.messages import localised, word
from matchmaker.messages import say as common_say
from matchmaker.negotiation import NegotiationError, NoSuchThread, Proposal, Terms, Thread
from matchmaker.notices import button, history_lines, rating_buttons, terms_text
from matchmaker.notices import word as notice_word
from matchmaker.runtime import Services
from nlu.commands import Command, parse_command

Handler = Callable[[CollectingDispatcher, Tracker, Command, str], List[EventType]]


@dataclass(frozen=True)
class Move:
    """A command about one thread, with what its handler needs: where to reply, who acts, which thread."""

    dispatcher: CollectingDispatcher
    command: Command
    language: str
    services: Services
    viewer: str
    thread_id: int

    def reply(self, key: str, buttons: Optional[List[Dict[str, str]]] = None, **values: object) -> None:
        """Say the command reply ``key`` (with the thread number) in the move's language."""
        self.dispatcher.utter_message(text=say(key, self.language, thread=self.thread_id, **values), buttons=buttons)


ThreadHandler = Callable[[Move], List[EventType]]

_SAY: Dict[str, Dict[str, str]] = {
    "login_ok": {"en": "Signed in: you now act for {name}. {pending}",
                 "zh": "登录成功：您现在代表{name}。{pending}"},
    "login_pending": {"en": "You have {count} thread(s) waiting for you; say 'my threads'.",
                      "zh": "您有{count}个洽谈待处理，输入“我的洽谈”查看。"},
    "login_unknown": {"en": "That code is not valid. Check it, or ask the platform for a new one.",
                      "zh": "该登录码无效，请核对或向平台索取新的登录码。"},
    "login_used": {"en": "That code was already used. Ask the platform for a new one.",
                   "zh": "该登录码已被使用，请向平台索取新的登录码。"},
    "login_expired": {"en": "That code has expired (codes are valid for 24 hours). Ask for a new one.",
                      "zh": "该登录码已过期（有效期24小时），请索取新的登录码。"},
    "whoami": {"en": "You act for {name} ({org}{role}).", "zh": "您代表{name}（{org}{role}）。"},
    "whoami_anonymous": {"en": "You are not signed in: you act as an anonymous enterprise contact. "
                               "Say 'login CODE' with the code the platform gave you.",
                         "zh": "您尚未登录，目前以匿名企业联系人身份使用。请输入“登录 登录码”。"},
    "entered": {"en": "You are in thread #{thread} ({state}). {counterpart}\nWhat you type now goes to the other "
                      "party. Say 'leave' to leave, 'thread {thread} history' for the history.",
                "zh": "您已进入洽谈#{thread}（{state}）。{counterpart}\n现在输入的内容将发送给对方。输入“退出”离开，"
                      "输入“洽谈{thread}记录”查看记录。"},
    "entered_broker": {"en": "You are in thread #{thread} ({state}) as its broker; both parties see what you write.\n"
                             "{parties}\nSay 'recommend N to thread {thread}' to show them a listing, 'leave' to leave.",
                       "zh": "您以经纪人身份进入洽谈#{thread}（{state}），双方都能看到您的发言。\n{parties}\n"
                             "输入“推荐N给洽谈{thread}”向双方推荐信息，输入“退出”离开。"},
    "credit_parts": {"en": "credit {score} ({parts})", "zh": "信用分{score}（{parts}）"},
    "credit_none": {"en": "no credit score yet", "zh": "暂无信用分"},
    "left": {"en": "You left thread #{thread}. Messages from the other party will still reach you.",
             "zh": "您已离开洽谈#{thread}，对方的消息仍会通知您。"},
    "not_in_thread": {"en": "You are not in a thread. Say 'my threads' to see yours.",
                      "zh": "您当前不在任何洽谈中。输入“我的洽谈”查看。"},
    "which_thread": {"en": "Which thread? Say it with its number, e.g. '{example}'.",
                     "zh": "请问是哪个洽谈？请带上编号，例如“{example}”。"},
    "accepted": {"en": "You accepted thread #{thread}. Please read and confirm the standard NDA "
                       "(version {version}):\n{nda}",
                 "zh": "您已接受洽谈#{thread}。请阅读并确认标准保密协议（版本{version}）：\n{nda}"},
    "declined": {"en": "You declined thread #{thread}; the requester has been told.",
                 "zh": "您已婉拒洽谈#{thread}，已通知对方。"},
    "nda_waiting": {"en": "NDA confirmed for thread #{thread}. Waiting for the other party to confirm it.",
                    "zh": "您已确认洽谈#{thread}的保密协议，等待对方确认。"},
    "nda_open": {"en": "Thread #{thread} is open: both confirmed the NDA. {counterpart}",
                 "zh": "洽谈#{thread}已正式开启：双方均已确认保密协议。{counterpart}"},
    "nda_text": {"en": "Standard NDA (version {version}):\n{nda}", "zh": "标准保密协议（版本{version}）：\n{nda}"},
    "proposed": {"en": "Proposal sent in thread #{thread}: {terms}. The other party can accept, counter or reject.",
                 "zh": "已在洽谈#{thread}中提交方案：{terms}。对方可以接受、还价或拒绝。"},
    "no_proposal": {"en": "There is no open proposal in thread #{thread}.",
                    "zh": "洽谈#{thread}中没有待答复的方案。"},
    "deal": {"en": "🤝 Deal agreed in thread #{thread}! Please rate the other party (1-5):",
             "zh": "🤝 洽谈#{thread}已达成合作！请为对方评分（1-5分）："},
    "rejected": {"en": "You rejected the proposal in thread #{thread}.", "zh": "您已拒绝洽谈#{thread}中的方案。"},
    "rated": {"en": "Thank you: your rating ({stars}★) for thread #{thread} is recorded.",
              "zh": "感谢评价：您对洽谈#{thread}的评分（{stars}星）已记录。"},
    "closed": {"en": "Thread #{thread} is closed; the other party has been told. You may rate them (1-5):",
               "zh": "洽谈#{thread}已关闭，已通知对方。您可以为对方评分（1-5分）："},
    "contact_saved": {"en": "Your contact details are saved; they are shown to a counterpart once a thread is open.",
                      "zh": "您的联系方式已保存，将在洽谈正式开启后向对方显示。"},
    "contact_needs_login": {"en": "Sign in first ('login CODE') to store contact details for your organisation.",
                            "zh": "请先登录（“登录 登录码”），再为您的机构保存联系方式。"},
    "contact_invalid": {"en": "Contact details must be 1-300 characters.", "zh": "联系方式需为1-300个字符。"},
    "inbox_empty": {"en": "No new thread messages.", "zh": "没有新的洽谈消息。"},
}
_EXAMPLES = {"accept": "accept 3", "decline": "decline 3", "nda": "I agree to the NDA 3", "close": "close thread 3",
             "history": "thread 3 history", "propose": "open thread 3", "counter": "open thread 3",
             "accept_proposal": "open thread 3", "reject_proposal": "open thread 3", "rate": "open thread 3"}
_EXAMPLES_ZH = {"accept": "接受3", "decline": "拒绝洽谈3", "nda": "同意保密协议3", "close": "关闭洽谈3",
                "history": "洽谈3记录", "propose": "进入洽谈3", "counter": "进入洽谈3", "accept_proposal": "进入洽谈3",
                "reject_proposal": "进入洽谈3", "rate": "进入洽谈3", "open": "进入洽谈3"}


def say(key: str, language: str, **values: object) -> str:
    """A command reply in ``language``."""
    return localised(_SAY[key], language).format(**values)


def command_of(tracker: Tracker) -> Optional[Command]:
    """The command of this turn: from a button's entities, or parsed from the typed text."""
    text = latest_text(tracker)
    if not text.startswith("/"):
        return parse_command(text)
    values: Dict[str, str] = {}
    for entity in tracker.latest_message.get("entities", []):
        name, value = str(entity.get("entity", "")), entity.get("value")
        if value is not None and name not in values:
            values[name] = str(value)
    name = values.pop("command", "")
    thread = values.pop("thread_id", "")
    args = {key[4:]: value for key, value in values.items() if key.startswith("cmd_")}
    return Command(name, decimal_number(thread), args) if name else None


def _fits(command: str, thread: Thread, viewer: str, rated: Set[int]) -> bool:
    """Whether ``command`` is a move ``viewer`` can make in ``thread`` now (``rated``: threads already rated)."""
    owner = viewer == thread.owner_id
    if command in ("accept", "decline"):
        return owner and thread.state == "requested"
    if command == "nda":
        confirmed = thread.owner_nda_at if owner else thread.requester_nda_at
        return thread.state in ("accepted", "nda_pending") and confirmed is None
    if command in ("propose", "counter", "accept_proposal", "reject_proposal"):
        return thread.state == "open"
    if command == "rate":
        return thread.state in ("agreed", "closed") and thread.id not in rated
    return False


def _only_fitting(tracker: Tracker, command: Command) -> Optional[int]:
    """The one thread of the user where ``command`` fits, when there is exactly one."""
    viewer = acting_id(tracker)
    threads = get_services().threads
    rated = threads.rated_by(viewer) if command.name == "rate" else set()
    fitting = [t.id for t in threads.for_participant(viewer) if _fits(command.name, t, viewer, rated)]
    return fitting[0] if len(fitting) == 1 else None


def _thread_id(dispatcher: CollectingDispatcher, tracker: Tracker, command: Command, language: str) -> Optional[int]:
    """The thread a command is about: its number, the entered thread, or the only one it fits; else asks."""
    thread_id = command.thread if command.thread is not None else active_thread(tracker)
    if thread_id is None:
        thread_id = _only_fitting(tracker, command)
    if thread_id is None:
        examples = _EXAMPLES_ZH if language == "zh" else _EXAMPLES
        fallback = "进入洽谈3" if language == "zh" else "open thread 3"
        dispatcher.utter_message(text=say("which_thread", language, example=examples.get(command.name, fallback)))
    return thread_id


def _state(thread: Thread, language: str) -> str:
    return word(thread.state, language)


def login(dispatcher: CollectingDispatcher, tracker: Tracker, command: Command, language: str) -> List[EventType]:
    """Link this channel identity to the organisation of an invite code."""
    services = get_services()
    try:
        participant = services.threads.accounts.redeem(command.args.get("code", ""), tracker.sender_id)
    except AccountError as error:
        reason = error.reason if error.reason in ("used", "expired") else "unknown"
        dispatcher.utter_message(text=say(f"login_{reason}", language))
        return []
    services.threads.route_waiting(participant.id)
    waiting = [t for t in services.threads.for_participant(participant.id) if t.state in ("requested", "open")]
    pending = say("login_pending", language, count=len(waiting)) if waiting else ""
    dispatcher.utter_message(text=say("login_ok", language, name=participant.display_name, pending=pending).strip())
    return [SlotSet(ACTIVE_THREAD_SLOT, None)]


def whoami(dispatcher: CollectingDispatcher, tracker: Tracker, command: Command, language: str) -> List[EventType]:
    """Say whom the user acts for."""
    participant = get_services().threads.accounts.participant(acting_id(tracker))
    if participant is None:
        dispatcher.utter_message(text=say("whoami_anonymous", language))
        return []
    role = "" if participant.role == "member" else (", 技术经纪人" if language == "zh" else ", intermediary")
    dispatcher.utter_message(text=say("whoami", language, name=participant.display_name,
                                      org=word_org(participant.org_type, language), role=role))
    return []


def word_org(org_type: str, language: str) -> str:
    """The kind of organisation, as a noun."""
    names = {"enterprise": ("enterprise", "企业"), "university": ("university", "高校"),
             "institute": ("research institute", "科研院所"), "intermediary": ("technology broker", "技术经纪机构"),
             "individual": ("individual", "个人")}
    en, zh = names.get(org_type, (org_type, org_type))
    return zh if language == "zh" else en


def open_thread(move: Move) -> List[EventType]:
    """Enter a thread: free text is relayed to the other party until 'leave'.

    The thread's broker is shown both parties with their credit components instead of one counterpart.
    """
    thread = move.services.threads.thread(move.thread_id, move.viewer)
    if move.viewer == thread.broker_id:
        move.reply("entered_broker", [button("history", move.language, "history", thread.id)],
                   state=_state(thread, move.language), parties=parties_line(move.services, thread, move.language))
        return [SlotSet(ACTIVE_THREAD_SLOT, str(thread.id))]
    move.reply("entered", thread_buttons(thread, move.viewer, move.language), state=_state(thread, move.language),
               counterpart=counterpart_line(move.services, thread, move.viewer, move.language))
    return [SlotSet(ACTIVE_THREAD_SLOT, str(thread.id))]


def parties_line(services: Services, thread: Thread, language: str) -> str:
    """Both parties of a thread as its broker sees them: name, kind and credit with its components."""
    credits = services.events.credits([thread.owner_id, thread.requester_id])
    lines = []
    for role, pid in (("owner", thread.owner_id), ("requester", thread.requester_id)):
        participant = services.threads.accounts.participant(pid)
        name = participant.display_name if participant else pid
        credit = credits.get(pid)
        if credit is None:
            facts = say("credit_none", language)
        else:
            parts = ", ".join(f"{word(key, language)} {value:.2f}" for key, value in sorted(credit.components.items()))
            facts = say("credit_parts", language, score=f"{credit.score:.0f}", parts=parts)
        lines.append(f"{notice_word(role, language)}: {name} · {facts}")
    return "\n".join(lines)


def thread_buttons(thread: Thread, viewer: str, language: str) -> List[Dict[str, str]]:
    """The moves open to ``viewer`` in ``thread`` now."""
    owner = viewer == thread.owner_id
    if thread.state == "requested" and owner:
        return [button("accept", language, "accept", thread.id), button("decline", language, "decline", thread.id)]
    confirmed = thread.owner_nda_at if owner else thread.requester_nda_at
    if thread.state in ("accepted", "nda_pending") and confirmed is None:
        return [button("agree_nda", language, "nda", thread.id)]
    if thread.state in ("agreed", "closed"):
        return rating_buttons(thread.id, language)
    return [button("history", language, "history", thread.id)]


def leave(dispatcher: CollectingDispatcher, tracker: Tracker, command: Command, language: str) -> List[EventType]:
    """Leave the entered thread."""
    thread_id = active_thread(tracker)
    dispatcher.utter_message(text=say("left", language, thread=thread_id) if thread_id is not None
                             else common_say("goodbye", language))
    return [SlotSet(ACTIVE_THREAD_SLOT, None)]


def history(move: Move) -> List[EventType]:
    """Show a thread's whole history."""
    record = move.services.threads.history(move.thread_id, move.viewer)
    lines = history_lines(record, move.viewer, move.language, _state(record.thread, move.language),
                          counterpart_line(move.services, record.thread, move.viewer, move.language))
    move.dispatcher.utter_message(text="\n".join(lines),
                                  buttons=thread_buttons(record.thread, move.viewer, move.language))
    return []


def answer(move: Move) -> List[EventType]:
    """The owner accepts or declines a request."""
    threads, nda = move.services.threads, move.services.nda
    if move.command.name == "accept":
        threads.accept(move.thread_id, move.viewer)
        move.reply("accepted", [button("agree_nda", move.language, "nda", move.thread_id)], version=nda.version,
                   nda=nda.text(move.language))
        return []
    threads.decline(move.thread_id, move.viewer)
    move.reply("declined")
    return []


def confirm_nda(move: Move) -> List[EventType]:
    """Confirm the standard NDA; the second confirmation discloses both sides."""
    thread = move.services.threads.confirm_nda(move.thread_id, move.viewer, move.services.nda.version)
    if thread.state == "open":
        move.reply("nda_open", [button("open_thread", move.language, "open", thread.id)],
                   counterpart=counterpart_line(move.services, thread, move.viewer, move.language))
    else:
        move.reply("nda_waiting")
    return []


def _terms(command: Command) -> Terms:
    milestones = tuple(m.strip() for m in re.split(r"[;；,，]", command.args.get("milestones", "")) if m.strip())
    price = decimal_number(command.args.get("price", ""))
    return Terms(command.args.get("kind", ""), price if price is not None and price <= MAX_ID else -1,
                 decimal_number(command.args.get("days", "")) or 0, milestones)


def _open_proposal(thread_id: int, viewer: str) -> Optional[Proposal]:
    proposals = get_services().threads.proposals(thread_id, viewer)
    return next((p for p in reversed(proposals) if p.state == "open"), None)


def propose(move: Move) -> List[EventType]:
    """Put terms forward, or counter the open proposal."""
    threads, terms = move.services.threads, _terms(move.command)
    current = _open_proposal(move.thread_id, move.viewer)
    if move.command.name == "counter" and current is not None:
        proposal = threads.counter(current.id, move.viewer, terms)
    else:
        proposal = threads.propose(move.thread_id, move.viewer, terms)
    move.reply("proposed", terms=terms_text(proposal.terms, move.language))
    return []


def decide_proposal(move: Move) -> List[EventType]:
    """Accept (a deal) or reject the open proposal."""
    threads = move.services.threads
    current = _open_proposal(move.thread_id, move.viewer)
    if current is None:
        move.reply("no_proposal")
        return []
    if move.command.name == "accept_proposal":
        threads.accept_proposal(current.id, move.viewer)
        move.reply("deal", rating_buttons(move.thread_id, move.language))
        return [SlotSet(ACTIVE_THREAD_SLOT, None)]
    threads.reject_proposal(current.id, move.viewer)
    move.reply("rejected")
    return []


def rate(move: Move) -> List[EventType]:
    """Rate the other party of an ended thread."""
    stars = decimal_number(move.command.args.get("rating", "")) or 0
    rating = move.services.threads.rate(move.thread_id, move.viewer, stars, move.command.args.get("comment", ""))
    move.reply("rated", stars=rating.stars)
    return []


def close(move: Move) -> List[EventType]:
    """Withdraw from a thread without a deal."""
    move.services.threads.withdraw(move.thread_id, move.viewer)
    move.reply("closed", rating_buttons(move.thread_id, move.language))
    return [SlotSet(ACTIVE_THREAD_SLOT, None)]


def set_contact(dispatcher: CollectingDispatcher, tracker: Tracker, command: Command,
                language: str) -> List[EventType]:
    """Store the signed-in organisation's contact details (shown after disclosure)."""
    accounts = get_services().threads.accounts
    participant = accounts.participant(acting_id(tracker))
    if participant is None:
        dispatcher.utter_message(text=say("contact_needs_login", language))
        return []
    try:
        accounts.set_contact(participant.id, command.args.get("contact", ""))
    except AccountError:
        dispatcher.utter_message(text=say("contact_invalid", language))
        return []
    dispatcher.utter_message(text=say("contact_saved", language))
    return []


def inbox(dispatcher: CollectingDispatcher, tracker: Tracker, command: Command, language: str) -> List[EventType]:
    """Nothing beyond what waited (shown before every reply); say so when nothing did."""
    if not dispatcher.messages:
        dispatcher.utter_message(text=say("inbox_empty", language))
    return []


def nda_text(dispatcher: CollectingDispatcher, tracker: Tracker, command: Command, language: str) -> List[EventType]:
    """Show the standard NDA."""
    nda = get_services().nda
    dispatcher.utter_message(text=say("nda_text", language, version=nda.version, nda=nda.text(language)))
    return []


HANDLERS: Dict[str, Handler] = {
    "login": login, "whoami": whoami, "leave": leave, "set_contact": set_contact, "inbox": inbox,
    "show_nda": nda_text, **DESK_HANDLERS, **CAPITAL_HANDLERS, **ALERT_HANDLERS,
    "post": post_command, "post_funding": post_funding,
}
THREAD_HANDLERS: Dict[str, ThreadHandler] = {
    "open": open_thread, "history": history, "accept": answer, "decline": answer, "nda": confirm_nda,
    "propose": propose, "counter": propose, "accept_proposal": decide_proposal, "reject_proposal": decide_proposal,
    "rate": rate, "close": close,
}


def carry_out(dispatcher: CollectingDispatcher, tracker: Tracker, command: Command,
              language: str) -> List[EventType]:
    """Run the command's handler; a thread command first finds its thread (or asks which)."""
    handler = HANDLERS.get(command.name)
    if handler is not None:
        return handler(dispatcher, tracker, command, language)
    thread_handler = THREAD_HANDLERS.get(command.name)
    if thread_handler is None:
        return not_a_command(dispatcher, tracker, language)
    thread_id = _thread_id(dispatcher, tracker, command, language)
    if thread_id is None:
        return []
    if thread_id > MAX_ID:
        raise NoSuchThread()
    return thread_handler(Move(dispatcher, command, language, get_services(), acting_id(tracker), thread_id))


def not_a_command(dispatcher: CollectingDispatcher, tracker: Tracker, language: str) -> List[EventType]:
    """Text the classifier took for a command that the grammar does not know: relayed inside a thread."""
    thread_id = active_thread(tracker)
    text = latest_text(tracker)
    if thread_id is not None and text and not text.startswith("/"):
        return relay(dispatcher, tracker, thread_id, text, language)
    dispatcher.utter_message(text=common_say("fallback", language))
    return []


class ActionCommand(Action):
    """Carry out an account or thread command, replying politely when it is refused."""

    def name(self) -> str:
        """Action name in the domain."""
        return "action_command"

    @polite_failures
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker,
                  domain: DomainDict) -> List[EventType]:
        """Dispatch the command of this turn."""
        language = turn_language(tracker)
        command = command_of(tracker)
        if command is None:
            return not_a_command(dispatcher, tracker, language)
        try:
            return carry_out(dispatcher, tracker, command, language)
        except DeskError as error:
            item = decimal_number(command.args.get("item", "")) or 0
            dispatcher.utter_message(text=desk_refusal(error, language, item, command.args.get("to", "")))
            return []
        except NegotiationError as error:
            thread_id = command.thread or active_thread(tracker)
            dispatcher.utter_message(text=refusal(error, language, thread_id, _current_state(tracker, command)))
            entered_gone = error.code == "no_such_thread" and thread_id == active_thread(tracker)
            return [SlotSet(ACTIVE_THREAD_SLOT, None)] if entered_gone else []


def _current_state(tracker: Tracker, command: Command) -> str:
    thread_id = command.thread or active_thread(tracker)
    if thread_id is None or thread_id > MAX_ID:
        return ""
    try:
        return get_services().threads.thread(thread_id, acting_id(tracker)).state
    except NegotiationError:
        return ""
