"""Every sentence the assistant says, in Chinese and English."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LANGUAGES = ("zh", "en")

_TEXTS: dict[str, dict[str, str]] = {
    "greet": {
        "en": "Hello! I match enterprises' technical problems with research achievements "
              "from universities and institutes. Describe your problem or your achievement in a "
              "sentence or two, and I will find the best matches.",
        "zh": "您好！我帮助企业的技术需求与高校、科研院所的科技成果对接。"
              "请用一两句话描述您的技术难题或科技成果，我来为您匹配。",
    },
    "help": {
        "en": "You can: describe a technical problem (I show matching achievements); describe an "
              "achievement (I show matching enterprise demands); say 'more' or refine "
              "('only in Jiangsu', 'TRL above 6'); 'contact 2' to open a negotiation thread; "
              "'post a demand: ...' to publish a listing; 'my threads' to see your negotiations.",
        "zh": "您可以：描述技术难题（我推荐匹配的科技成果）；描述科技成果（我推荐匹配的企业需求）；"
              "说“更多”或细化条件（如“只要江苏的”“只要成熟度高的”）；说“联系第2个”发起洽谈；"
              "说“发布需求：……”发布信息；说“我的洽谈”查看洽谈列表。",
    },
    "goodbye": {"en": "Goodbye, and good luck with your project!", "zh": "再见，祝合作顺利！"},
    "thanks": {"en": "You're welcome! Anything else I can match for you?", "zh": "不客气！还需要我帮您匹配什么吗？"},
    "affirm": {"en": "Great. Say 'more' for further matches or 'contact N' to reach one.",
               "zh": "好的。说“更多”查看更多结果，或说“联系第N个”发起洽谈。"},
    "deny": {"en": "Tell me what to change, e.g. 'region is Zhejiang', 'field is new materials' or "
                   "'TRL above 6', or describe the problem again.",
             "zh": "请告诉我需要修改的地方，例如“地区改成浙江”“领域是新材料”“成熟度6级以上”，或重新描述需求。"},
    "fallback": {
        "en": "Sorry, I did not understand that. I can match technical problems with research "
              "achievements: describe your problem or achievement, or type 'help'.",
        "zh": "抱歉，我没有理解。我可以为技术难题匹配科技成果：请描述您的需求或成果，或输入“帮助”。",
    },
    "out_of_scope": {
        "en": "That is outside what I can help with. I match technical problems with research "
              "achievements: describe yours, or type 'help'.",
        "zh": "这个问题超出了我的服务范围。我专注于技术需求与科技成果的匹配：请描述您的需求或成果，或输入“帮助”。",
    },
    "empty": {"en": "Your message was empty. Describe a technical problem or an achievement, or type 'help'.",
              "zh": "您的消息是空的。请描述技术难题或科技成果，或输入“帮助”。"},
    "too_long": {
        "en": "Your message is too long ({length} characters; the limit is {limit}). "
              "Please summarise the problem in fewer words.",
        "zh": "您的消息太长了（{length}字，上限为{limit}字），请精简后再发送。",
    },
    "understood": {"en": "I understood: {summary}.", "zh": "我理解的是：{summary}。"},
    "understood_nothing": {"en": "I did not spot a field, region or constraint; searching on your words.",
                           "zh": "没有识别到领域、地区或约束条件，将按您的描述直接检索。"},
    "correct_hint": {"en": "Not right? Say e.g. 'region is Zhejiang' or 'TRL above 6'.",
                     "zh": "如有不对，可以说“地区改成浙江”或“成熟度6级以上”。"},
    "results_achievements": {"en": "Top {count} research achievements for your problem:",
                             "zh": "为您找到最匹配的{count}项科技成果："},
    "results_demands": {"en": "Top {count} enterprise demands for your achievement:",
                        "zh": "为您找到最匹配的{count}项企业需求："},
    "more_results": {"en": "Matches {first}-{last}:", "zh": "第{first}-{last}条结果："},
    "no_results": {"en": "No listing matches these conditions. Try removing a condition, e.g. 'any region'.",
                   "zh": "没有符合这些条件的信息。可以尝试放宽条件，例如“不限地区”。"},
    "no_more": {"en": "That is all I have for this search. Refine it or describe a new problem.",
                "zh": "这次检索的结果已经全部展示。可以细化条件或重新描述需求。"},
    "no_search": {"en": "There is no search yet. Describe your technical problem or achievement first.",
                  "zh": "还没有检索记录。请先描述您的技术难题或科技成果。"},
    "refine_nothing": {"en": "I could not find a condition in that. Try 'only in Jiangsu' or 'TRL above 6'.",
                       "zh": "没有识别到条件。可以说“只要江苏的”或“成熟度6级以上”。"},
    "card": {"en": "{rank}. {title}\n{owner} · {region} · {facts} · score {score}\nWhy: {why}",
             "zh": "{rank}. {title}\n{owner} · {region} · {facts} · 匹配度 {score}\n理由：{why}"},
    "card_subtitle": {"en": "{owner} · {region} · {facts} · score {score}\nWhy: {why}",
                      "zh": "{owner} · {region} · {facts} · 匹配度 {score}\n理由：{why}"},
    "card_maturity": {"en": "TRL {maturity}", "zh": "成熟度 {maturity} 级"},
    "card_funding": {"en": "{low}–{high} · {stage}", "zh": "{low}–{high} · {stage}"},
    "why_terms": {"en": "shares {terms}", "zh": "共同关键词：{terms}"},
    "why_passage": {"en": "closest passage: “{passage}”", "zh": "最相关段落：“{passage}”"},
    "why_semantic": {"en": "close in meaning to your description", "zh": "与您的描述语义相近"},
    "why_region": {"en": "same region", "zh": "同一地区"},
    "why_field": {"en": "same field", "zh": "同一领域"},
    "why_similar": {"en": "{count} similar enterprises engaged with this", "zh": "{count} 家相似企业对此有过互动"},
    "why_popular": {"en": "{count} enterprises engaged with this", "zh": "{count} 家企业对此有过互动"},
    "why_credit": {"en": "owner credit {score} ({level}; main factor: {component})",
                   "zh": "对方信用 {score}（{level}；主要因素：{component}）"},
    "why_credit_new": {"en": "owner credit not yet rated (new participant)", "zh": "对方信用暂无评价（新参与方）"},
    "button_contact": {"en": "Contact", "zh": "联系"},
    "button_similar": {"en": "More like this", "zh": "找类似的"},
    "button_not_relevant": {"en": "Not relevant", "zh": "不相关"},
    "feedback_which": {"en": "Which match? Say e.g. 'more like 2' or 'not relevant 3' (1-{count}).",
                       "zh": "请问是哪一个？例如说“类似第2个的”或“第3个不相关”（1-{count}）。"},
    "similar_header": {"en": "Listings like “{title}” ({count}):", "zh": "与“{title}”类似的（{count} 条）："},
    "not_relevant_thanks": {"en": "Noted: “{title}” is not relevant. This feedback improves later matches.",
                            "zh": "已记录：“{title}”不相关。您的反馈会用于改进之后的匹配。"},
    "button_more": {"en": "More", "zh": "更多"},
    "contact_which": {"en": "Which match? Say e.g. 'contact 2' (1-{count}).",
                      "zh": "请问是哪一个？例如说“联系第2个”（1-{count}）。"},
    "contact_opened": {
        "en": "Negotiation thread #{thread} opened with {owner} about “{title}”; the owner has been told and "
              "will accept or decline. Names and contact details are shown to both sides once the owner has "
              "accepted and both have confirmed the standard NDA. Say 'open thread {thread}' to write to them.",
        "zh": "已与{owner}就“{title}”建立洽谈 #{thread}，已通知对方，等待对方接受或拒绝。对方接受且双方确认标准保密协议后，"
              "将互相显示机构名称和联系方式。输入“进入洽谈{thread}”可给对方留言。",
    },
    "contact_exists": {"en": "You already have thread #{thread} with {owner} about “{title}” ({state}).",
                       "zh": "您已就“{title}”与{owner}建立了洽谈 #{thread}（{state}）。"},
    "contact_self": {"en": "That listing is your own, so there is nobody to contact.",
                     "zh": "这是您自己发布的信息，无需联系。"},
    "threads_none": {"en": "You have no negotiation threads yet. Find a match and say 'contact N'.",
                     "zh": "您还没有洽谈。找到匹配结果后说“联系第N个”即可发起。"},
    "threads_header": {"en": "Your negotiation threads:", "zh": "您的洽谈："},
    "thread_line": {"en": "#{thread} {title} · {other} · {state}",
                    "zh": "#{thread} {title} · {other} · {state}"},
    "post_ask": {
        "en": "Sure. Describe your {kind} in one message (what it is, field, region, maturity; "
              "for a demand also budget and deadline), and I will publish it.",
        "zh": "好的。请用一条消息描述您的{kind}（内容、领域、地区、成熟度；需求请注明预算和期限），我来发布。",
    },
    "post_done": {
        "en": "Published your {kind} #{id} “{title}” ({field} · {region} · {facts}). "
              "Others can find it right away.",
        "zh": "已发布您的{kind} #{id}“{title}”（{field} · {region} · {facts}），其他用户现在即可检索到。",
    },
    "post_held": {
        "en": "Received your {kind} #{id} “{title}”. A platform broker reviews new listings first; "
              "I will tell you here as soon as it is approved and searchable.",
        "zh": "已收到您的{kind} #{id}“{title}”。新发布的信息需经平台经纪人审核，审核通过并可检索时会在这里通知您。",
    },
    "funding_incomplete": {
        "en": "A funding offer needs its amount range and stage, e.g. 'post funding offer: angel 0.5-5 million yuan "
              "for battery materials teams' (stages: seed, angel, series A, growth, loan, grant).",
        "zh": "发布资金信息需写明金额范围和阶段，例如“发布资金：天使轮50-500万元，关注锂电池材料早期项目”"
              "（阶段：种子轮、天使轮、A轮、成长期、贷款、资助）。",
    },
    "post_invalid": {"en": "I could not publish that: {reason}. Please describe it again.",
                     "zh": "无法发布：{reason}。请重新描述。"},
    "service_error": {
        "en": "Sorry, something went wrong on our side and nothing was changed. Please try again in a moment.",
        "zh": "抱歉，系统出现了问题，您的数据没有被改动。请稍后再试。",
    },
    "unavailable": {
        "en": "Sorry, the matching service is temporarily unavailable. Please try again in a minute.",
        "zh": "抱歉，匹配服务暂时不可用，请稍后再试。",
    },
    "slow_down": {
        "en": "You are sending messages faster than I can answer. Please wait a few seconds and try again.",
        "zh": "您发送消息的速度过快，请稍等几秒后再试。",
    },
    "sender_reserved": {
        "en": "Sender ids starting with tg:, wx: or web: belong to the Telegram, WeChat and web channels. "
              "Please choose another sender id.",
        "zh": "以 tg:、wx: 或 web: 开头的发送者编号属于 Telegram、微信和网页渠道，请换一个发送者编号。",
    },
    "text_only": {
        "en": "Sorry, I can only read text for now. Please describe your problem or achievement in words.",
        "zh": "抱歉，目前只能处理文字消息。请用文字描述您的技术难题或科技成果。",
    },
    "unknown_command": {
        "en": "I do not know that command. Try /help, /threads or /login CODE.",
        "zh": "没有这个命令。可以试试 /help、/threads 或 /login 登录码。",
    },
    "login_usage": {
        "en": "Please add your sign-in code: /login CODE",
        "zh": "请在命令后加上登录码：/login 登录码",
    },
    "wechat_welcome": {
        "en": "Welcome! Describe a technical problem your company faces, or a research achievement you want "
              "to transfer, and I will find matching partners. Reply “help” to see what I can do.",
        "zh": "欢迎关注！请描述贵企业遇到的技术难题，或您希望转化的科技成果，我来为您匹配合作方。回复“帮助”查看更多功能。",
    },
    "working_on_it": {
        "en": "Working on it, the answer follows in a moment …",
        "zh": "正在为您处理，请稍候，结果马上发送给您……",
    },
    "choice_line": {"en": "Reply {number}: {title}", "zh": "回复 {number}：{title}"},
}

_WORDS: dict[str, dict[str, str]] = {
    "field": {"en": "field", "zh": "领域"},
    "region": {"en": "region", "zh": "地区"},
    "budget": {"en": "budget", "zh": "预算"},
    "deadline": {"en": "deadline", "zh": "期限"},
    "maturity": {"en": "maturity", "zh": "成熟度"},
    "demand": {"en": "demand", "zh": "需求"},
    "achievement": {"en": "achievement", "zh": "成果"},
    "funding": {"en": "funding offer", "zh": "资金"},
    "seed": {"en": "seed", "zh": "种子轮"},
    "angel": {"en": "angel", "zh": "天使轮"},
    "series_a": {"en": "series A", "zh": "A轮"},
    "growth": {"en": "growth", "zh": "成长期"},
    "loan": {"en": "technology loan", "zh": "科技贷款"},
    "grant": {"en": "government grant", "zh": "政府资助"},
    "any_region": {"en": "any region", "zh": "不限地区"},
    "preferred": {"en": "preferred", "zh": "优先"},
    "general": {"en": "General", "zh": "综合"},
    "unspecified": {"en": "region not given", "zh": "地区未注明"},
    "requested": {"en": "awaiting reply", "zh": "待回复"},
    "accepted": {"en": "accepted, NDA to confirm", "zh": "已接受，待确认保密协议"},
    "nda_pending": {"en": "one side confirmed the NDA", "zh": "一方已确认保密协议"},
    "open": {"en": "open", "zh": "洽谈中"},
    "declined": {"en": "declined", "zh": "已拒绝"},
    "agreed": {"en": "deal agreed", "zh": "已达成合作"},
    "closed": {"en": "closed", "zh": "已关闭"},
    "credit_high": {"en": "high", "zh": "高"},
    "credit_good": {"en": "good", "zh": "良好"},
    "credit_fair": {"en": "fair", "zh": "一般"},
    "credit_low": {"en": "low", "zh": "偏低"},
    "performance": {"en": "completed deals", "zh": "履约成交"},
    "cooperation": {"en": "ratings received", "zh": "合作评价"},
    "responsiveness": {"en": "replies quickly", "zh": "响应及时"},
    "efficiency": {"en": "converts contacts to deals", "zh": "创新转化效率"},
    "reliability": {"en": "few declined or abandoned threads", "zh": "较少拒绝或中止"},
    "verification": {"en": "verified organisation", "zh": "机构已认证"},
}


def localised(variants: Mapping[str, str], language: str) -> str:
    """The variant for ``language``, English when there is none (every table of texts uses this)."""
    return variants.get(language, variants["en"])


def say(key: str, language: str, **values: Any) -> str:
    """The sentence ``key`` in ``language`` (English when unknown), filled with ``values``."""
    return localised(_TEXTS[key], language).format(**values)


def word(key: str, language: str) -> str:
    """A single translated word (field names, states ...)."""
    variants = _WORDS.get(key)
    return localised(variants, language) if variants is not None else key


def money(amount: int, language: str) -> str:
    """Format a yuan amount the way readers of ``language`` expect."""
    if language == "zh":
        return f"{amount / 1e4:g}万元" if amount >= 10_000 else f"{amount}元"
    return f"¥{amount:,}"


def duration(days: int, language: str) -> str:
    """Format a number of days as days or months."""
    if days >= 60:
        months = round(days / 30)
        return f"{months}个月内" if language == "zh" else f"within {months} months"
    return f"{days}天内" if language == "zh" else f"within {days} days"
