"""What a description asks for: hard requirements or soft preferences, and the query the index sees.

A region, field or maturity mentioned in a description ("we are a company in Jiangsu",
"ready for mass production") is a preference: it lifts matching listings a little and is
shown back to the user, but never removes a candidate. It becomes a requirement only when
the user says so next to it ("only in Jiangsu", "must be TRL 7", "只要江苏的", "必须已量产"),
or later as a refinement.

The index is searched with the description minus what says nothing about the technology:
the company's introduction ("we are a ... company in Suzhou"), budgets, deadlines and
requests for help. The framing is removed only where the rest still says enough.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

REQUIREMENT_CUE = re.compile(
    r"(?:\bonly\b|\bmust\b|\brequired?\b|\bmandatory\b|\bstrictly\b|\bexclusively\b|\bno less than\b|"
    r"\bat least\b|\bhas to\b|\bhave to\b|只要|只限|只找|只考虑|仅限|仅|限于|限定|必须|务必|一定要|至少|不低于)",
    re.IGNORECASE)
CUE_WINDOW = 14
QUERY_ENTITIES = ("budget", "deadline", "region")
MIN_QUERY_WORDS = 3
MIN_QUERY_CJK = 6

_FRAMING_EN = re.compile(
    r"\b(?:hi|hello|hey|dear all)\b[,!.]?|"
    r"\b(?:we are|we're|i am|i'm|our company is|this is)\s+(?:a|an|the)?\s*[\w\s&/-]{0,60}?"
    r"\b(?:company|firm|enterprise|manufacturer|maker|start-?up|group|factory|plant|supplier|business|"
    r"provider|developer|producer|lab|laboratory|hospital|cooperative|co\.?)\b"
    r"(?:\s+(?:based\s+)?(?:in|from|near)\s+[A-Z][\w\s,-]{0,30}?(?=[,.;]|\s+(?:and|that|which|we|with)\b))?|"
    r"\b(?:can|could|would)\s+(?:anyone|anybody|someone|you)\s+(?:help|recommend|suggest)\b[^.?!]*[.?!]?|"
    r"\b(?:any|some)\s+(?:help|ideas|suggestions|leads)\b[^.?!]*[.?!]?|"
    r"\b(?:looking for|seeking|searching for|in need of|we need|we want|we'd like|we would like|we hope to find|"
    r"we're looking for|we are looking for|hoping to find|want to find)\b|"
    r"\b(?:a |an )?(?:research )?(?:team|partner|group|lab|university|institute)s?\s+(?:with|that|who)\b|"
    r"\b(?:consulting |total |our |the |a )?budget(?:\s+(?:is|of|about|around|roughly|approx\.?|up to))?\b\s*[~:]?|"
    r"\bplease\b|\bthanks?(?: you)?\b",
    re.IGNORECASE)
_FRAMING_ZH = re.compile(
    r"(?:你好|您好|请问|麻烦|谢谢)[，,！!。]?|"
    r"(?:我们|我司|本公司|我公司|我厂|我社|我们公司|我们厂)(?:是|为)?(?:一家|一个)?[^，,。；;！!？?]{0,24}?"
    r"(?:公司|企业|工厂|厂|集团|合作社|医院|设计院|研究院|单位)(?=[，,。；;]|$)|"
    r"(?:位于|地处|坐落于)[^，,。；;]{1,12}(?=[，,。；;])|"
    r"(?:想|希望|需要|急需|拟|计划)?(?:找|寻找|寻求|引进|对接)(?:一下|一些|相关的?)?"
    r"(?:高校|科研院所|研究团队|团队|专家|合作方|技术|方案|成果)?(?:合作|支持|帮助)?|"
    r"(?:有没有|是否有|谁有|哪里有|能否|可否|能不能)(?:相关的?)?(?:团队|单位|专家|高校)?(?:能|可以)?(?:提供|帮助|支持)?|"
    r"(?:请|求)(?:推荐|介绍|帮忙)|"
    r"(?:预算|经费|资金|投入)(?:大约|大概|约|在|为|是|有|左右)*",
)


@dataclass(frozen=True)
class Mention:
    """One entity the NLU found in a message: its value and character span."""

    entity: str
    value: str
    start: int
    end: int


def mentions(entities: Iterable[dict[str, object]]) -> list[Mention]:
    """Mentions from Rasa's entity dicts (entities without a span get an empty one at 0)."""
    found: list[Mention] = []
    for raw in entities:
        value = raw.get("value")
        if raw.get("entity") is None or value is None:
            continue
        start, end = raw.get("start"), raw.get("end")
        found.append(Mention(str(raw["entity"]), str(value), start if isinstance(start, int) else 0,
                             end if isinstance(end, int) else 0))
    return found


def stated_as_requirement(text: str, mention: Mention) -> bool:
    """Whether the user said ``mention`` is a must ("only ...", "必须 ..."), not just a fact about them."""
    before = text[max(0, mention.start - CUE_WINDOW):mention.start]
    inside = text[mention.start:mention.end]
    return bool(REQUIREMENT_CUE.search(before) or REQUIREMENT_CUE.search(inside))


def required_values(text: str, found: Sequence[Mention], entity: str) -> list[str]:
    """Distinct values of ``entity`` that the user stated as requirements."""
    values: list[str] = []
    for mention in found:
        if mention.entity == entity and stated_as_requirement(text, mention) and mention.value not in values:
            values.append(mention.value)
    return values


def search_query(text: str, found: Sequence[Mention]) -> str:
    """The description without budgets, deadlines and company framing, for the index.

    Falls back to the whole text when fewer than ``MIN_QUERY_WORDS`` words and fewer than
    ``MIN_QUERY_CJK`` Chinese characters would remain, so a short message is never stripped to nothing.
    """
    spans = sorted((m.start, m.end) for m in found if m.entity in QUERY_ENTITIES and m.end > m.start)
    kept: list[str] = []
    position = 0
    for start, end in spans:
        if start >= position:
            kept.append(text[position:start])
            position = end
    kept.append(text[position:])
    stripped = " ".join(kept)
    stripped = _FRAMING_ZH.sub(" ", _FRAMING_EN.sub(" ", stripped))
    stripped = re.sub(r"\s+", " ", stripped).strip(" ,.;，。；、")
    words = len(re.findall(r"[A-Za-z][A-Za-z0-9-]+", stripped))
    cjk = len(re.findall(r"[\u4e00-\u9fff]", stripped))
    if words < MIN_QUERY_WORDS and cjk < MIN_QUERY_CJK:
        return text.strip()
    return stripped


_BUYERS_EN = (r"(?:\s+[\w-]+){0,4}?\s+(?:manufacturers?|makers|licensees?|clients|customers|companies|firms|"
              r"enterprises|investors|(?:industrial|enterprise|industry|pharma|pharmaceutical|commercial) partners?)\b")
_BUYERS_ZH = r".{0,8}?(?:企业|厂家|厂商|公司|伙伴|客户|用户|被许可方?|药企|投资方?|买家)(?:合作|产业化|试点|转让|[，,。；]|$)"
_DEMAND_CUES_EN = re.compile(
    r"\b(?:we|i)['’]d\s+(?:like|love|want)\b|"
    r"\b(?:we|i)(?:\s+really)?\s+(?:need|want|would like|hope to|are hoping|are trying|are struggling|"
    r"have a problem|have trouble|can't|cannot)\b(?!" + _BUYERS_EN + r")|"
    r"\b(?:looking for|seeking|searching for|in need of)\b(?!" + _BUYERS_EN + r")|"
    r"\b(?:needs?|wants|requires?|urgently|is facing)\b(?!" + _BUYERS_EN + r")|\bis there\b|\bany (?:technology|solution)\b|"
    r"\bour (?:problem|challenge|issue|pain point|question)\b|\bproblem is\b|"
    r"\b(?:can|could) (?:anyone|anybody|someone|you)\b|\b(?:is there|are there|does anyone|any)\s+"
    r"(?:lab|team|group|research|study|studies|evidence|data|method|solution|expert)s?\b|\bhow (?:can|do|should) we\b|"
    r"\b(?:we are|we're)\s+(?:a|an)\b[^.]{0,40}?\b(?:company|firm|manufacturer|factory|maker|plant|hospital|"
    r"start-?up|group|supplier|producer)\b|[?？]|"
    r"\bbudget\b|\b(?:buy|purchase|license in)\b|\bwant(?:s|ed)? to (?:know|find out|test|understand|quantify|measure)\b|\bhelp us\b",
    re.IGNORECASE)
_ACHIEVEMENT_CUES_EN = re.compile(
    r"\b(?:we|our (?:lab|team|group|institute|university|college|research team)|my (?:lab|team|group))\s+"
    r"(?:have\s+|has\s+)?(?:developed|invented|engineered|designed|built|bred|discovered|created|patented|made)\b|"
    r"\bpatent(?:s|ed)?\b|\bprototype\b|\bsoftware copyrights?\b|\bour (?:\w+ )?(?:research )?(?:result|achievement)s?\b|"
    r"\b(?:seeking|looking for|want to (?:find|work with|cooperate with)|hope to find|hopes to transfer it to)" + _BUYERS_EN + r"|"
    r"\bpartners? to (?:scale|commerciali[sz]e|industriali[sz]e|manufacture|produce)\b|"
    r"\bavailable for (?:transfer|licensing|licence|license)\b|\bready for (?:transfer|industrial scale-up)\b|"
    r"\b(?:licen[cs]e|transfer|industriali[sz]e|commerciali[sz]e|scale up|roll out) it\b|\bfor commerciali[sz]ation\b",
    re.IGNORECASE)
_DEMAND_CUES_ZH = re.compile(
    r"(?:想找|寻找|寻求|希望找|想请|求助|求推荐)(?!" + _BUYERS_ZH + r")|需要|急需|"
    r"希望(?:能|引进|解决|了解|获得|降低|提高|提升)|(?<![思理设构联猜梦感])想(?![法象到和与同])|了解|有没有|是否有|谁有|哪里有|"
    r"(?:我们|我司|本公司)(?:是|为)[^，,。；]{0,20}?(?:公司|企业|厂|合作社|医院|设计院)|"
    r"能否|难题|问题|痛点|困扰|瓶颈|预算|经费|怎么|如何|帮(?:我们|忙)|购买|引进",
)
_ACHIEVEMENT_CUES_ZH = re.compile(
    r"(?:研发|研制|开发|发明|培育|构建|设计|训练)(?:了|出|成功|的)|课题组|我校|我所|我院|(?:科研|研究)?团队(?:有|的)|"
    r"(?:我们|团队|课题组)的(?:科研)?成果|(?:本|该)成果|科研成果是|专利|样机|著作权|可(?:转让|许可|授权)|技术转让|成果转化|对外(?:转让|许可|合作)|技术入股|"
    r"(?:寻求|寻找|希望找|想找)" + _BUYERS_ZH + r"|寻求(?:转化|产业化|放大|推广)|"
    r"(?:想|希望|愿意?)(?:和|与|同)[^，,。；]{0,8}?(?:企业|厂家|公司|药企|厂商)",
)


def market_side(text: str) -> str | None:
    """Which side of the market a description comes from, when its wording says so clearly.

    Returns ``"demand"`` for a need ("we need", "looking for", "想找", "有没有", a budget),
    ``"achievement"`` for an offer ("our lab developed", "patent available for transfer",
    "课题组研发了", "寻求转化"), or ``None`` when the cues are absent or balanced (the
    intent classifier decides then).
    """
    demand = len(_DEMAND_CUES_EN.findall(text)) + len(_DEMAND_CUES_ZH.findall(text))
    offer = len(_ACHIEVEMENT_CUES_EN.findall(text)) + len(_ACHIEVEMENT_CUES_ZH.findall(text))
    if demand > 2 * offer:
        return "demand"
    if offer > 2 * demand:
        return "achievement"
    return None
