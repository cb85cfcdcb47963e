"""What a party is shown of a thread: notices, relayed messages, proposals, the counterpart, history.

One renderer serves every channel: a delivery becomes a list of channel-neutral messages
(``{"text": ..., "buttons": [{"title", "payload"}]}``) that the web, REST, Telegram and
WeChat adapters turn into their own form. Button payloads are ``/command{...}`` intents, so
a click keeps the conversation's language.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from matchmaker.delivery import Delivery
from matchmaker.messages import duration, localised, money
from matchmaker.negotiation import CounterpartView, History, Message, Proposal, Terms

logger = logging.getLogger(__name__)

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
    "broker_joined": {"en": "A technology broker of the platform joined thread #{thread} to help both sides.",
                      "zh": "平台技术经纪人已加入洽谈#{thread}，协助双方对接。"},
    "recommendation": {"en": "📌 Thread #{thread} · the broker recommends #{listing} “{title}”{note}",
                       "zh": "📌 洽谈#{thread} · 经纪人推荐 #{listing}“{title}”{note}"},
    "queue_item": {"en": "🗂 New in the queue: #{item} [{kind}] “{summary}”", "zh": "🗂 新待办：#{item}［{kind}］“{summary}”"},
    "assigned": {"en": "🗂 Item #{item} [{kind}] was assigned to you: “{summary}”",
                 "zh": "🗂 事项#{item}［{kind}］已分配给您：“{summary}”"},
    "handoff_taken": {"en": "👤 {name} from the platform is with you now. What you type goes to them.",
                      "zh": "👤 平台人工客服（{name}）已接入，您输入的内容将发送给对方。"},
    "handoff_released": {"en": "🤖 You are back with the assistant. Describe a need or an achievement any time.",
                         "zh": "🤖 人工服务已结束，您已回到智能助手。随时可以描述需求或成果。"},
    "handoff_message": {"en": "💬 #{item} · the person: {text}", "zh": "💬 #{item} · 用户：{text}"},
    "broker_message": {"en": "👤 Platform broker: {text}", "zh": "👤 平台经纪人：{text}"},
    "review_approved": {"en": "✅ Your listing #{listing} “{title}” was approved and is searchable now.",
                        "zh": "✅ 您发布的信息#{listing}“{title}”已通过审核，现在可以被检索。"},
    "review_rejected": {"en": "❌ Your listing #{listing} “{title}” was not approved: {reason}",
                        "zh": "❌ 您发布的信息#{listing}“{title}”未通过审核：{reason}"},
    "alert": {"en": "🔔 New match for your saved need #{need} (“{query}”): #{listing} “{title}”",
              "zh": "🔔 您订阅的需求#{need}（“{query}”）有新匹配：#{listing}“{title}”"},
    "digest": {"en": "🔔 {count} more matches for your saved need #{need} on {day}: {titles}",
               "zh": "🔔 您订阅的需求#{need}在{day}另有{count}条新匹配：{titles}"},
}
_WORDS: dict[str, dict[str, str]] = {
    "owner": {"en": "owner", "zh": "发布方"},
    "requester": {"en": "requester", "zh": "需求方"},
    "system": {"en": "platform", "zh": "平台"},
    "broker": {"en": "broker", "zh": "经纪人"},
    "stop_alerts": {"en": "Stop these alerts", "zh": "取消该订阅"},
    "review": {"en": "review", "zh": "待审核"},
    "new_listing": {"en": "new listing", "zh": "新发布"},
    "unanswered": {"en": "unanswered thread", "zh": "未回复洽谈"},
    "low_match": {"en": "weak match", "zh": "匹配度低"},
    "handoff": {"en": "asks for a person", "zh": "请求人工"},
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
    "investor": {"en": "an investor", "zh": "一家投资机构"},
    "government": {"en": "a government programme", "zh": "一项政府资助计划"},
    "bank": {"en": "a bank", "zh": "一家银行"},
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


def render_notice(body: str, data: dict[str, Any], language: str) -> list[Rendered]:
    """A notice outside any thread (alert, digest, queue item, handoff turn, review outcome)."""
    values = {key: str(value) for key, value in data.items()}
    values.setdefault("need", values.get("need_id", ""))
    values.setdefault("listing", values.get("listing_id", ""))
    if body in ("queue_item", "assigned"):
        values["kind"] = word(values.get("kind", ""), language)
        values["summary"] = values.get("summary", "")[:120]
        item = values.get("item", "")
        return [{"text": text(body, language, **values),
                 "buttons": [] if body == "assigned" else [{"title": f"{'认领' if language == 'zh' else 'Take'} #{item}",
                                                            "payload": command_payload("take", item=item)}]}]
    if body == "alert":
        values["query"] = values.get("query", "")[:60]
        return [{"text": text("alert", language, **values),
                 "buttons": [{"title": word("stop_alerts", language),
                              "payload": command_payload("stop_alerts", need=values.get("need_id", ""))}]}]
    if body == "digest":
        titles = data.get("titles") or []
        return [{"text": text("digest", language, need=values.get("need_id", ""), count=values.get("count", "0"),
                              day=values.get("day", ""), titles="；".join(str(t) for t in titles)), "buttons": []}]
    if body in _TEXTS:
        try:
            return [{"text": text(body, language, **values), "buttons": []}]
        except KeyError as missing:
            logger.warning("notice %s lacks %s; shown by its name", body, missing)
    return [{"text": body, "buttons": []}]


def render_delivery(delivery: Delivery, language: str, counterpart: str = "") -> list[Rendered]:
    """The messages one delivery shows its recipient (``counterpart`` fills the disclosure notice)."""
    thread, kind, body = delivery.thread_id, delivery.kind, delivery.body
    data = dict(delivery.data)
    if kind == "notice":
        return render_notice(body, data, language)
    if kind == "recommendation":
        note = f" — {data['note']}" if data.get("note") else ""
        return [{"text": text("recommendation", language, thread=thread, listing=data.get("listing_id", ""),
                              title=data.get("title", body), note=note),
                 "buttons": [button("open_thread", language, "open", thread)]}]
    if body == "broker_joined":
        return [{"text": text("broker_joined", language, thread=thread),
                 "buttons": [button("open_thread", language, "open", thread)]}]
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
    entries = [m for m in history.messages if m.kind in ("text", "proposal", "recommendation")]
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
    if message.kind == "recommendation":
        return f"{who}: 📌 #{message.data.get('listing_id', '')} {message.body}"
    return f"{who}: {message.body}"


def inbox_header(count: int, language: str) -> str:
    """The line above what waited for a returning user."""
    if language == "zh":
        return f"您有{count}条新的洽谈消息："
    return f"You have {count} new thread message{'s' if count != 1 else ''}:"

