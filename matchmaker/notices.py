"""What a party is shown of a thread: notices, relayed messages, proposals, the counterpart, history.

One renderer serves every channel: a delivery becomes a list of channel-neutral messages
(``{"text": ..., "buttons": [{"title", "payload"}]}``) that the web, REST, Telegram and
WeChat adapters turn into their own form. Button payloads are ``/command{...}`` intents, so
a click keeps the conversation's language.
"""

from __future__ import annotations

import json
from typing import Any

from matchmaker.delivery import Delivery
from matchmaker.messages import duration, localised, money
from matchmaker.negotiation import CounterpartView, History, Message, Proposal, Terms

Rendered = dict[str, Any]

_TEXTS: dict[str, dict[str, str]] = {
    "request": {"en": "New contact request in thread #{thread}: an enterprise is interested in your listing "
                      "(“{context}”). Accept or decline:",
                "zh": "洽谈#{thread}有新的对接请求：有企业对您发布的信息感兴趣（“{context}”）。请选择接受或拒绝："},
    "accepted": {"en": "Your request in thread #{thread} was accepted. Both sides now confirm the standard NDA; "
                       "names and contact details are shown once both have.",
                 "zh": "您在洽谈#{thread}中的请求已被接受。请双方确认标准保密协议，双方确认后将互相显示机构名称和联系方式。"},
    "declined": {"en": "Your request in thread #{thread} was declined. Keep searching: other matches may fit.",
                 "zh": "您在洽谈#{thread}中的请求被婉拒了。可以继续检索其他匹配结果。"},
    "nda_confirmed": {"en": "The other party confirmed the NDA in thread #{thread}. Confirm it too to open the thread.",
                      "zh": "对方已在洽谈#{thread}中确认保密协议。您确认后即可正式开启洽谈。"},
    "disclosed": {"en": "Thread #{thread} is open: both confirmed the NDA. {counterpart}",
                  "zh": "洽谈#{thread}已正式开启：双方均已确认保密协议。{counterpart}"},
    "text": {"en": "💬 Thread #{thread} · {who}: {body}", "zh": "💬 洽谈#{thread} · {who}：{body}"},
    "proposal": {"en": "📄 Proposal in thread #{thread}: {terms}", "zh": "📄 洽谈#{thread}的合作方案：{terms}"},
    "counter": {"en": "📄 Counter-proposal in thread #{thread}: {terms}", "zh": "📄 洽谈#{thread}的还价方案：{terms}"},
    "proposal_rejected": {"en": "The other party rejected the proposal in thread #{thread}. You can propose new terms.",
                          "zh": "对方拒绝了洽谈#{thread}中的方案，您可以提出新的方案。"},
    "deal": {"en": "🤝 Deal agreed in thread #{thread}! Please rate the other party (1-5):",
             "zh": "🤝 洽谈#{thread}已达成合作！请为对方评分（1-5分）："},
    "closed": {"en": "Thread #{thread} was closed ({reason}). You may rate the other party (1-5):",
               "zh": "洽谈#{thread}已关闭（{reason}）。您可以为对方评分（1-5分）："},
    "counterpart_hidden": {"en": "The other party: {org} in {region}, {field}.",
                           "zh": "对方：{region}的{org}，{field}领域。"},
    "counterpart_anonymous": {"en": "The other party: {org} (not signed in, no details given).",
                              "zh": "对方：{org}（未登录，暂无详细信息）。"},
    "counterpart_shown": {"en": "The other party: {name} ({org}, {region}); contact: {contact}.",
                          "zh": "对方：{name}（{org}，{region}）；联系方式：{contact}。"},
    "terms": {"en": "{kind}, {price}, {duration}{milestones}", "zh": "{kind}，{price}，{duration}{milestones}"},
    "milestones": {"en": "; milestones: {items}", "zh": "；里程碑：{items}"},
    "history_header": {"en": "Thread #{thread} · {state}\n{counterpart}", "zh": "洽谈#{thread} · {state}\n{counterpart}"},
    "history_empty": {"en": "(no messages yet)", "zh": "（暂无消息）"},
}
_WORDS: dict[str, dict[str, str]] = {
    "owner": {"en": "owner", "zh": "发布方"},
    "requester": {"en": "requester", "zh": "需求方"},
    "system": {"en": "platform", "zh": "平台"},
    "you": {"en": "you", "zh": "我"},
    "licence": {"en": "licence", "zh": "许可"},
    "transfer": {"en": "transfer", "zh": "转让"},
    "joint_development": {"en": "joint development", "zh": "合作开发"},
    "commissioned_rnd": {"en": "commissioned R&D", "zh": "委托开发"},
    "enterprise": {"en": "an enterprise", "zh": "一家企业"},
    "university": {"en": "a university", "zh": "一所高校"},
    "institute": {"en": "a research institute", "zh": "一家科研院所"},
    "intermediary": {"en": "a technology broker", "zh": "一家技术经纪机构"},
    "individual": {"en": "an individual", "zh": "个人"},
    "withdrawn": {"en": "withdrawn", "zh": "已撤回"},
    "expired": {"en": "no answer in time", "zh": "超时未回复"},
    "not_given": {"en": "not given yet", "zh": "暂未填写"},
    "accept": {"en": "Accept", "zh": "接受"},
    "decline": {"en": "Decline", "zh": "拒绝"},
    "agree_nda": {"en": "I agree to the NDA", "zh": "同意保密协议"},
    "open_thread": {"en": "Open thread", "zh": "进入洽谈"},
    "accept_proposal": {"en": "Accept proposal", "zh": "接受方案"},
    "reject_proposal": {"en": "Reject", "zh": "拒绝方案"},
    "history": {"en": "History", "zh": "记录"},
}


def text(key: str, language: str, **values: Any) -> str:
    """A thread sentence in ``language`` (English when unknown)."""
    return localised(_TEXTS[key], language).format(**values)


def word(key: str, language: str) -> str:
    """A thread word in ``language``; unknown keys come back as they are."""
    variants = _WORDS.get(key)
    return localised(variants, language) if variants else key


def command_payload(command: str, thread: int | None = None, **args: str) -> str:
    """A button payload that sends ``command`` as the ``command`` intent."""
    entities: dict[str, str] = {"command": command}
    if thread is not None:
        entities["thread_id"] = str(thread)
    entities.update({f"cmd_{key}": value for key, value in args.items()})
    return "/command" + json.dumps(entities, ensure_ascii=False)


def button(key: str, language: str, command: str, thread: int | None = None, **args: str) -> dict[str, str]:
    """One button: a translated title and a command payload."""
    title = word(key, language)
    return {"title": f"{title} #{thread}" if thread is not None else title,
            "payload": command_payload(command, thread, **args)}


def terms_text(terms: Terms, language: str) -> str:
    """A proposal's terms in one line."""
    milestones = text("milestones", language, items="；".join(terms.milestones) if language == "zh"
                      else "; ".join(terms.milestones)) if terms.milestones else ""
    return text("terms", language, kind=word(terms.kind, language), price=money(terms.price_yuan, language),
                duration=duration(terms.duration_days, language), milestones=milestones)


def counterpart_text(view: CounterpartView, language: str, region: str, field: str) -> str:
    """Who the other party is, as far as the thread's stage allows.

    ``region`` and ``field`` come translated, empty when unknown (an anonymous contact).
    """
    org = word(view.org_type or "enterprise", language)
    if view.disclosed and view.name:
        return text("counterpart_shown", language, name=view.name, org=org, region=region or "-",
                    contact=view.contact or word("not_given", language))
    if not region and not field:
        return text("counterpart_anonymous", language, org=org)
    return text("counterpart_hidden", language, org=org, region=region or "-", field=field or "-")


def rating_buttons(thread: int, language: str) -> list[dict[str, str]]:
    """Five buttons, 5 stars to 1."""
    return [{"title": "★" * stars, "payload": command_payload("rate", thread, rating=str(stars))}
            for stars in range(5, 0, -1)]


def _terms_from(data: dict[str, Any]) -> Terms:
    return Terms(str(data.get("kind", "")), int(data.get("price_yuan") or 0), int(data.get("duration_days") or 0),
                 tuple(str(m) for m in data.get("milestones") or ()))


def render_delivery(delivery: Delivery, language: str, counterpart: str = "") -> list[Rendered]:
    """The messages one delivery shows its recipient (``counterpart`` fills the disclosure notice)."""
    thread, kind, body = delivery.thread_id, delivery.kind, delivery.body
    data = dict(delivery.data)
    if kind == "text":
        return [{"text": text("text", language, thread=thread, who=word(delivery.from_role, language), body=body),
                 "buttons": [button("open_thread", language, "open", thread)]}]
    if kind == "proposal":
        key = "counter" if body == "counter" else "proposal"
        return [{"text": text(key, language, thread=thread, terms=terms_text(_terms_from(data), language)),
                 "buttons": [button("accept_proposal", language, "accept_proposal", thread),
                             button("reject_proposal", language, "reject_proposal", thread)]}]
    if body == "request":
        return [{"text": text("request", language, thread=thread, context=str(data.get("context", ""))[:120]),
                 "buttons": [button("accept", language, "accept", thread), button("decline", language, "decline", thread)]}]
    if body in ("accepted", "nda_confirmed"):
        return [{"text": text(body, language, thread=thread), "buttons": [button("agree_nda", language, "nda", thread)]}]
    if body == "disclosed":
        return [{"text": text("disclosed", language, thread=thread, counterpart=counterpart),
                 "buttons": [button("open_thread", language, "open", thread)]}]
    if body in ("deal", "closed"):
        reason = word(str(data.get("reason", "withdrawn")), language)
        return [{"text": text(body, language, thread=thread, reason=reason), "buttons": rating_buttons(thread, language)}]
    if body in ("declined", "proposal_rejected"):
        return [{"text": text(body, language, thread=thread), "buttons": []}]
    return [{"text": f"#{thread}: {body}", "buttons": []}]


def history_lines(history: History, viewer: str, language: str, state: str, counterpart: str,
                  limit: int = 30) -> list[str]:
    """A thread's history as lines: header, then the last ``limit`` entries."""
    lines = [text("history_header", language, thread=history.thread.id, state=state, counterpart=counterpart)]
    entries = [m for m in history.messages if m.kind in ("text", "proposal")]
    proposals = {p.id: p for p in history.proposals}
    for message in entries[-limit:]:
        lines.append(_history_line(message, viewer, history, proposals, language))
    if not entries:
        lines.append(text("history_empty", language))
    return lines


def _history_line(message: Message, viewer: str, history: History, proposals: dict[int, Proposal],
                  language: str) -> str:
    who = word("you", language) if message.sender_id == viewer else word(history.thread.role_of(message.sender_id),
                                                                         language)
    if message.kind == "proposal":
        proposal = proposals.get(int(message.data.get("proposal_id") or 0))
        terms = terms_text(proposal.terms, language) if proposal else ""
        state = f" [{proposal.state}]" if proposal else ""
        return f"{who}: 📄 {terms}{state}"
    return f"{who}: {message.body}"


def inbox_header(count: int, language: str) -> str:
    """The line above what waited for a returning user."""
    if language == "zh":
        return f"您有{count}条新的洽谈消息："
    return f"You have {count} new thread message{'s' if count != 1 else ''}:"

