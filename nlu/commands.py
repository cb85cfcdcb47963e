"""Typed commands of accounts and negotiation threads, recognised by grammar in both languages.

Commands are exact phrases with arguments ("login K7QX-29PM", "进入洽谈3", "accept 3",
"propose licence 500000 yuan 12 months", "评分5 合作愉快"), so a grammar recognises them
more reliably than a statistical classifier. The Rasa pipeline's ``CommandClassifier`` and
the action server share this module (pure Python, no third-party imports).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

PROPOSAL_KINDS: Dict[str, str] = {
    "licence": "licence", "license": "licence", "licensing": "licence", "许可": "licence", "授权": "licence",
    "transfer": "transfer", "转让": "transfer",
    "joint development": "joint_development", "joint": "joint_development", "合作开发": "joint_development",
    "联合开发": "joint_development",
    "commissioned r&d": "commissioned_rnd", "commissioned rnd": "commissioned_rnd", "commissioned": "commissioned_rnd",
    "委托开发": "commissioned_rnd", "委托研发": "commissioned_rnd",
}
_KIND = "|".join(sorted((re.escape(k) for k in PROPOSAL_KINDS), key=len, reverse=True))
_NUM = r"#?\s*(\d{1,9})"
_OPT_NUM = r"(?:\s*#?\s*(\d{1,9}))?"


@dataclass(frozen=True)
class Command:
    """A recognised command: its name, the thread it names (if any) and its other arguments."""

    name: str
    thread: Optional[int] = None
    args: Dict[str, str] = field(default_factory=dict)


def _money(text: str) -> Optional[int]:
    match = re.search(r"(\d+(?:\.\d+)?)\s*(万|亿|k|m|million|thousand)?\s*(?:元|yuan|rmb|cny)?", text, re.I)
    if not match:
        return None
    scale = {"万": 1e4, "亿": 1e8, "k": 1e3, "thousand": 1e3, "m": 1e6, "million": 1e6}.get(
        (match.group(2) or "").lower(), 1.0)
    return int(float(match.group(1)) * scale)


def _days(text: str) -> Optional[int]:
    match = re.search(r"(\d{1,4})\s*(个月|月|months?|年|years?|天|days?|周|weeks?)", text, re.I)
    if not match:
        return None
    unit = match.group(2).lower()
    per = 30 if unit.startswith(("个月", "月", "month")) else 365 if unit.startswith(("年", "year")) else \
        7 if unit.startswith(("周", "week")) else 1
    return int(match.group(1)) * per


def _proposal(match: re.Match[str]) -> Dict[str, str]:
    parts = re.split(r"milestones?\s*[:：]|里程碑\s*[:：]", match.group("rest") or "", maxsplit=1, flags=re.I)
    terms, milestones = parts[0], parts[1] if len(parts) > 1 else ""
    money_text = re.sub(r"\d{1,4}\s*(?:个月|月|months?|年|years?|天|days?|周|weeks?)", " ", terms, flags=re.I)
    args = {"kind": PROPOSAL_KINDS[match.group("kind").lower()]}
    price, days = _money(money_text), _days(terms)
    if price is not None:
        args["price"] = str(price)
    if days is not None:
        args["days"] = str(days)
    if milestones.strip():
        args["milestones"] = milestones.strip()[:500]
    return args


Rule = Tuple["re.Pattern[str]", Callable[["re.Match[str]"], Command]]


_RULES: List[Rule] = [
    (re.compile(r"^/?(?:login|log in|sign in|登录|登陆)\s*[:：]?\s*([A-Za-z0-9][A-Za-z0-9\s-]{5,14})$", re.I),
     lambda m: Command("login", args={"code": re.sub(r"[\s-]", "", m.group(1)).upper()})),
    (re.compile(r"^/?(?:whoami|who am i|我是谁|我的身份)[?？]?$", re.I), lambda m: Command("whoami")),
    (re.compile(r"^/?(?:inbox|check messages|new messages|收件箱|新消息|查看新消息)$", re.I), lambda m: Command("inbox")),
    (re.compile(r"^(?:open|enter|go to)\s+thread\s*" + _NUM + r"$|^(?:进入|打开)洽谈\s*" + _NUM + r"$", re.I),
     lambda m: Command("open", int(m.group(1) or m.group(2)))),
    (re.compile(r"^/?(?:leave|exit|leave thread|exit thread|quit thread)$|^(?:退出|离开|退出洽谈|离开洽谈)$", re.I),
     lambda m: Command("leave")),
    (re.compile(r"^thread\s*" + _NUM + r"\s+history$|^洽谈\s*" + _NUM + r"\s*(?:记录|历史)$", re.I),
     lambda m: Command("history", int(m.group(1) or m.group(2)))),
    (re.compile(r"^(?:history|thread history|记录|洽谈记录)$", re.I), lambda m: Command("history")),
    (re.compile(r"^accept\s+(?:the\s+)?(?:proposal|offer)$|^(?:接受|同意)(?:该)?(?:提议|方案|报价)$", re.I),
     lambda m: Command("accept_proposal")),
    (re.compile(r"^reject\s+(?:the\s+)?(?:proposal|offer)$|^(?:拒绝|不接受)(?:该)?(?:提议|方案|报价)$", re.I),
     lambda m: Command("reject_proposal")),
    (re.compile(r"^accept(?:\s+(?:request|thread))?" + _OPT_NUM + r"$|^接受(?:洽谈|请求)?" + _OPT_NUM + r"$", re.I),
     lambda m: Command("accept", int(m.group(1) or m.group(2)) if (m.group(1) or m.group(2)) else None)),
    (re.compile(r"^decline(?:\s+(?:request|thread))?" + _OPT_NUM + r"$|^(?:拒绝|婉拒)(?:洽谈|请求)?" + _OPT_NUM + r"$",
                re.I),
     lambda m: Command("decline", int(m.group(1) or m.group(2)) if (m.group(1) or m.group(2)) else None)),
    (re.compile(r"^(?:i\s+)?(?:agree to|accept|sign|confirm)\s+(?:the\s+)?nda" + _OPT_NUM + r"$|"
                r"^(?:同意|签署|确认)保密协议" + _OPT_NUM + r"$", re.I),
     lambda m: Command("nda", int(m.group(1) or m.group(2)) if (m.group(1) or m.group(2)) else None)),
    (re.compile(r"^(?:close|withdraw|end)(?:\s+thread)?" + _OPT_NUM + r"$|^(?:关闭|撤回|结束)洽谈" + _OPT_NUM + r"$", re.I),
     lambda m: Command("close", int(m.group(1) or m.group(2)) if (m.group(1) or m.group(2)) else None)),
    (re.compile(r"^(?:propose|proposal|offer|提议|报价|提出方案)\s*[:：]?\s*(?P<kind>" + _KIND + r")(?P<rest>.*)$", re.I),
     lambda m: Command("propose", args=_proposal(m))),
    (re.compile(r"^(?:counter|counter-?offer|还价|反提议)\s*[:：]?\s*(?P<kind>" + _KIND + r")(?P<rest>.*)$", re.I),
     lambda m: Command("counter", args=_proposal(m))),
    (re.compile(r"^(?:my contact(?: details)?(?: is| are)?|contact details|set contact|(?:我的)?联系方式(?:是|为)?)"
                r"\s*[:：]\s*(.{1,400})$", re.I),
     lambda m: Command("set_contact", args={"contact": m.group(1).strip()})),
    (re.compile(r"^(?:show|read)?\s*(?:the\s+)?nda$|^(?:查看|阅读)?保密协议$", re.I), lambda m: Command("show_nda")),
    (re.compile(r"^(?:rate|rating)\s+thread\s*" + _NUM + r"\s*[:：]?\s*([1-5])\s*(?:stars?)?\s*[,:.]?\s*(.*)$|"
                r"^(?:给)?洽谈\s*" + _NUM + r"\s*(?:评分|打分|评价)\s*[:：]?\s*([1-5])\s*(?:星|分)?\s*[,，:：。]?\s*(.*)$", re.I),
     lambda m: Command("rate", int(m.group(1) or m.group(4)),
                       {"rating": m.group(2) or m.group(5), "comment": (m.group(3) or m.group(6) or "").strip()[:500]})),
    (re.compile(r"^(?:rate|rating|评分|打分|评价)\s*[:：]?\s*([1-5])\s*(?:stars?|星|分)?\s*[,，:：.。]?\s*(.*)$", re.I),
     lambda m: Command("rate", args={"rating": m.group(1), "comment": m.group(2).strip()[:500]})),
]


STAGE_WORDS: Dict[str, str] = {
    "lab": "lab", "laboratory": "lab", "research": "lab", "实验室": "lab", "研发": "lab",
    "prototype": "prototype", "样机": "prototype", "原型": "prototype",
    "pilot": "pilot", "中试": "pilot", "小试": "pilot",
    "industrial": "industrial", "industrialisation": "industrial", "industrialization": "industrial",
    "mature": "industrial", "产业化": "industrial", "量产": "industrial",
}
_STAGE = "|".join(sorted((re.escape(k) for k in STAGE_WORDS), key=len, reverse=True))
_ID = r"#?\s*(\d{1,9})"


def _rest(match: re.Match[str], *groups: int) -> str:
    return next((match.group(g) for g in groups if match.group(g)), "").strip()


def _first_id(match: re.Match[str], *groups: int) -> str:
    return next((match.group(g) for g in groups if match.group(g)), "")


_DESK_RULES: List[Rule] = [
    (re.compile(r"^/?(?:queue|my queue|desk|triage|待办|待办事项|我的待办|工作台)$", re.I), lambda m: Command("queue")),
    (re.compile(r"^(?:take|claim)\s*(?:item)?\s*" + _ID + r"$|^认领\s*(?:事项)?\s*" + _ID + r"$", re.I),
     lambda m: Command("take", args={"item": _first_id(m, 1, 2)})),
    (re.compile(r"^assign\s+(?:item\s+)?" + _ID + r"\s+to\s+(.{1,120})$|^(?:把)?\s*(?:事项)?\s*" + _ID +
                r"\s*(?:分配|指派|转交)给\s*(.{1,120})$", re.I),
     lambda m: Command("assign", args={"item": _first_id(m, 1, 3), "to": _rest(m, 2, 4)})),
    (re.compile(r"^(?:done|finish|finished|hand back)\s*(?:item)?\s*" + _ID + r"$|^(?:完成|办结|交还)\s*(?:事项)?\s*" + _ID + r"$",
                re.I),
     lambda m: Command("done", args={"item": _first_id(m, 1, 2)})),
    (re.compile(r"^approve\s*(?:item)?\s*" + _ID + r"$|^(?:通过|批准)\s*(?:事项)?\s*" + _ID + r"$", re.I),
     lambda m: Command("approve", args={"item": _first_id(m, 1, 2)})),
    (re.compile(r"^reject\s*(?:item)?\s*" + _ID + r"\s*(?:[:：,，]|because)?\s*(.{0,400})$|^驳回\s*(?:事项)?\s*" + _ID +
                r"\s*[:：,，]?\s*(.{0,400})$", re.I),
     lambda m: Command("reject_listing", args={"item": _first_id(m, 1, 3), "reason": _rest(m, 2, 4)})),
    (re.compile(r"^recommend\s+(?:listing\s+)?" + _ID + r"\s+to\s+thread\s*" + _ID + r"$|^推荐\s*" + _ID +
                r"\s*给\s*洽谈\s*" + _ID + r"$", re.I),
     lambda m: Command("recommend", int(_first_id(m, 2, 4)), {"listing": _first_id(m, 1, 3)})),
    (re.compile(r"^/?(?:talk to a (?:person|human)|speak to a (?:person|human)|human|agent|a person please|"
                r"转人工|人工|人工客服|人工服务|找人工|找真人)[.!。！]?$", re.I),
     lambda m: Command("handoff")),
    (re.compile(r"^(?:please\s+)?(?:notify|alert|tell) me (?:of|about|when there are) new (?:matches|listings|results|"
                r"achievements|demands)(?: like this)?[.!]?$|^(?:save (?:this )?search|subscribe)$|"
                r"^(?:有新(?:的)?(?:成果|需求|匹配|结果|资金)(?:时)?(?:请)?通知我|订阅(?:此|这个)?(?:检索|需求)?|保存(?:此)?检索)[。！]?$",
                re.I),
     lambda m: Command("save_need")),
    (re.compile(r"^(?:stop alerts|stop notifications|unsubscribe|cancel alerts)(?:\s*" + _ID + r")?$|"
                r"^(?:取消通知|取消订阅|停止通知|退订)(?:\s*" + _ID + r")?$", re.I),
     lambda m: Command("stop_alerts", args={"need": _first_id(m, 1, 2)} if (m.group(1) or m.group(2)) else {})),
    (re.compile(r"^(?:my alerts|my saved (?:needs|searches)|saved searches)$|^(?:我的订阅|我的通知)$", re.I),
     lambda m: Command("my_alerts")),
    (re.compile(r"^(?:find|look for|search)\s+(?:funding|investors?|investment|capital|money)(?:\s+for\s+(.{1,300}))?$|"
                r"^(?:找资金|找投资|找融资|融资|寻找资金|找投资人)(?:[:：，,]?\s*(.{1,300}))?$", re.I),
     lambda m: Command("find_funding", args={"text": _rest(m, 1, 2)})),
    (re.compile(r"^(?:find|show|search)\s+achievements?\s+(?:at|in)\s+(?:the\s+)?(" + _STAGE + r")\s+stage"
                r"(?:\s+(?:in|for|about|on)\s+(.{1,300}))?$|^(?:找|查找|查看)?(" + _STAGE + r")阶段的?(?:成果|项目)"
                r"(?:[:：，,]?\s*(.{1,300}))?$", re.I),
     lambda m: Command("stage_search", args={"stage": STAGE_WORDS[_first_id(m, 1, 3).lower()], "text": _rest(m, 2, 4)})),
]
_POSTING_KINDS = {"demand": "demand", "need": "demand", "problem": "demand", "需求": "demand", "难题": "demand",
                  "achievement": "achievement", "result": "achievement", "technology": "achievement",
                  "成果": "achievement", "技术成果": "achievement"}
_POST_RULES: List[Rule] = [
    (re.compile(r"^(?:please\s+)?(?:post|publish|list)\s+(?:an?\s+|this\s+|my\s+|our\s+)?(demand|need|problem|achievement|"
                r"result|technology)\s*[:：]\s*(.{12,4000})$|^(?:请)?(?:帮我)?发布(?:一[个项条])?(?:技术)?(需求|难题|技术成果|成果)"
                r"\s*[:：]\s*(.{12,4000})$", re.I | re.S),
     lambda m: Command("post", args={"kind": _POSTING_KINDS[_rest(m, 1, 3).lower()], "text": _rest(m, 2, 4)})),
]
FUNDING_STAGE_WORDS: Dict[str, str] = {
    "seed": "seed", "种子": "seed", "种子轮": "seed", "angel": "angel", "天使": "angel", "天使轮": "angel",
    "series a": "series_a", "a round": "series_a", "a轮": "series_a", "growth": "growth", "成长期": "growth",
    "loan": "loan", "贷款": "loan", "科技贷款": "loan", "grant": "grant", "资助": "grant", "补助": "grant",
    "专项资金": "grant",
}
_FUNDING_STAGE = "|".join(sorted((re.escape(k) for k in FUNDING_STAGE_WORDS), key=len, reverse=True))
_AMOUNT = r"\d+(?:\.\d+)?\s*(?:万|亿|k|m|million|thousand)?\s*(?:元|yuan|rmb|cny)?"
_RANGE = re.compile(r"(" + _AMOUNT + r")\s*(?:-|–|~|～|至|到|to)\s*(" + _AMOUNT + r")", re.I)


def _funding(text: str) -> Dict[str, str]:
    """The amount range and stage of a funding offer written in one message (absent parts left out)."""
    args = {"text": text.strip()}
    amounts = _RANGE.search(text)
    if amounts:
        high_unit = re.search(r"(万|亿|k|m|million|thousand)", amounts.group(2), re.I)
        low_text = amounts.group(1)
        if high_unit and not re.search(r"(万|亿|k|m|million|thousand)", low_text, re.I):
            low_text += high_unit.group(1)
        low, high = _money(low_text), _money(amounts.group(2))
        if low is not None and high is not None:
            args.update(amount_min=str(low), amount_max=str(high))
    stage = re.search(_FUNDING_STAGE, text, re.I)
    if stage:
        args["stage"] = FUNDING_STAGE_WORDS[stage.group(0).lower()]
    return args


_FUNDING_RULES: List[Rule] = [
    (re.compile(r"^(?:please\s+)?(?:post|publish|list)\s+(?:a\s+|our\s+)?funding(?:\s+offer)?\s*[:：]\s*(.{12,4000})$|"
                r"^(?:请)?(?:帮我)?发布(?:一[个项条])?(?:资金|投资|融资)(?:信息|供给)?\s*[:：]\s*(.{12,4000})$", re.I | re.S),
     lambda m: Command("post_funding", args=_funding(_rest(m, 1, 2)))),
]
_RULES = _DESK_RULES + _FUNDING_RULES + _POST_RULES + _RULES


def parse_command(text: str) -> Optional[Command]:
    """The command ``text`` spells, or ``None`` when it is not a command."""
    stripped = " ".join(text.strip().split())
    if not stripped or len(stripped) > 600:
        return None
    for pattern, build in _RULES:
        match = pattern.match(stripped)
        if match:
            return build(match)
    return None
