"""Questions about an article itself, answered from its record.

Who published an article, when, where it first ran, what it is called, and the risk level of the
product it is about are facts of the article's record (its sidecar, ``metadata``): every citation
shows them, yet no sentence of the article states them, so no excerpt can answer a question about
them. "这篇文章是什么时候发的？" was told the documents do not cover it, and "这只ETF的风险等级是
多少？" was answered with the disclosure's general paragraphs.

``asked`` reads which of these facts a question asks for; ``describe`` says them in our words,
from the record of the article the question's passages come from. A question about the article
names it ("这篇文章…", "this article"): "DeepSeek是什么时候发布的？" asks about DeepSeek. A risk
level is asked about a product, so the words alone do.

Pure functions; the wording is in ``resources/messages.toml``.
"""

from __future__ import annotations

import re

from .prompts import Lang, message
from .store import StoredChunk
from .text import HAN, to_simplified

# The article named as what is asked about.
_ARTICLE = re.compile(
    r"文章|本文|这篇|该文|原文|这份|本报告|该报告|\b(?:article|piece|report|post|paper)\b",
    re.IGNORECASE,
)
# The facts of the record, each as a question asks for it (Chinese, then English).
_ABOUT_ARTICLE = {
    "publisher": re.compile(
        r"谁(?:写|发|发布|发表|撰写)|哪(?:家|个)(?:机构|公司|基金)?(?:写|发|发布|发表|撰写)|作者|"
        r"发布(?:方|者|机构|人)|\bwho (?:wrote|published|authored|issued|put out)\b|"
        r"\b(?:author|publisher)s?\b",
        re.IGNORECASE,
    ),
    "published": re.compile(
        r"(?:什么|哪个)时(?:候|间)(?:写|发|出|发布|发表|刊登)|(?:发布|发表|写作|成文|刊登)(?:的)?(?:时间|日期)|"
        r"哪(?:年|月|天)(?:写|发|发布|发表)|多久(?:以)?前|\bwhen (?:was|were|did)\b.*"
        r"\b(?:written|published|issued|released|come out|appear(?:ed)?)\b|"
        r"\b(?:publication|release) date\b|\bhow old\b",
        re.IGNORECASE,
    ),
    "source": re.compile(
        r"原载|首发|转载|刊登(?:在|于)|登(?:在|于)哪|发表?(?:在|于)(?:哪|什么)|"
        r"\bwhere (?:was|did)\b.*\b(?:published|appear(?:ed)?|run|ran)\b|\boriginally\b",
        re.IGNORECASE,
    ),
    "title": re.compile(r"标题|题目|\btitle\b", re.IGNORECASE),
}
_RISK_LEVEL = re.compile(
    r"风险(?:等级|级别|评级|类别)|几级风险|\brisk (?:level|rating|class|category|grade)s?\b",
    re.IGNORECASE,
)
# A fund's code, as a question names the product whose risk level it asks for.
_FUND_CODE = re.compile(r"(?<![\d.])\d{6}(?![\d.])")
_LEVEL_NAMES = {
    "zh": {1: "低风险", 2: "中低风险", 3: "中风险", 4: "中高风险", 5: "高风险"},
    "en": {1: "low", 2: "medium-low", 3: "medium", 4: "medium-high", 5: "high"},
}


# What is left of a question about the record once its asking words are gone: a question that
# asks about something in the article ("在文章的标题中，机器希望终结什么？", "Who wrote the paper
# that the graph was based on?") keeps words of its own.
_FUNCTION_WORDS = re.compile(
    r"请问|一下|什么|哪里|哪儿|哪个|哪些|是|的|了|吗|呢|在|于|哪|谁|几|这|那|篇|份|个|里|由|\W|"
    r"\b(?:the|a|an|this|that|it|its|was|is|were|did|does|do|who|when|where|what|which|by|of|in"
    r"|on|and|me|tell|please|to)\b",
    re.IGNORECASE,
)


def asked(question: str) -> frozenset[str]:
    """Which facts of an article's record the question asks for: "publisher", "published",
    "source", "title", "risk_level" (none for a question about anything else)."""
    plain = to_simplified(question)
    facts = set()
    if _ARTICLE.search(plain):
        facts = {name for name, pattern in _ABOUT_ARTICLE.items() if pattern.search(plain)}
        rest = _ARTICLE.sub(" ", plain)
        for pattern in _ABOUT_ARTICLE.values():
            rest = pattern.sub(" ", rest)
        rest = _FUNCTION_WORDS.sub(" ", rest)
        if len(re.findall(f"[{HAN}]", rest)) > 4 or len(re.findall(r"[a-z]{2,}", rest, re.I)) > 1:
            facts = set()  # it asks about something the article says, not about the article
    if _RISK_LEVEL.search(plain):
        facts.add("risk_level")
    return frozenset(facts)


def rates(question: str, chunk: StoredChunk) -> bool:
    """Whether ``chunk``'s record gives the risk level ``question`` asks for: it records one,
    and of the product the question names by its code, if it names one ("512480的风险等级？"
    is not answered with 588930's)."""
    if not chunk.meta("risk_level"):
        return False
    codes = _FUND_CODE.findall(question)
    return not codes or any(code in (chunk.meta("products") or "") for code in codes)


def stated_from(
    facts: frozenset[str], chunk: StoredChunk, rated: bool = True
) -> StoredChunk | None:
    """The passage whose article's record ``describe`` states (its audit row names it): None
    when it states none, only that no record rates the product asked about."""
    return chunk if facts - {"risk_level"} or _level(chunk, rated) else None


def _level(chunk: StoredChunk, rated: bool) -> tuple[str, int] | None:
    """The risk level the record of ``chunk`` states ("R4", 4), when ``rated`` and readable."""
    level = chunk.meta("risk_level") if rated else None
    if level and (n := int(level[1:])) in _LEVEL_NAMES["zh"]:
        return level, n
    return None


def describe(
    facts: frozenset[str], chunk: StoredChunk, date_label: str, lang: Lang, rated: bool = True
) -> str:
    """The facts asked for, said from the record of ``chunk``'s article; ``date_label`` is its
    date as the answer writes it ("2025年2月"). ``rated``: the record gives the risk level
    asked for (``rates``); when not, no level is stated."""
    said = []
    if facts - {"risk_level"}:
        parts = [
            message(lang, "about_publisher", publisher=publisher)
            if (publisher := chunk.meta("publisher"))
            else None,
            message(lang, "about_published", date=date_label) if chunk.meta("published") else None,
            message(lang, "about_source", source=source)
            if (source := chunk.meta("source"))
            else None,
        ]
        known = [p for p in parts if p]
        said.append(
            message(
                lang,
                "about_article",
                title=chunk.title,
                facts=message(lang, "about_join").join(known),
            )
            if known
            else message(lang, "about_unrecorded", title=chunk.title)
        )
    if "risk_level" in facts:
        products = chunk.meta("products") or message(lang, "suitability_product")
        if stated := _level(chunk, rated):
            level, n = stated
            said.append(
                message(
                    lang,
                    "about_risk_level",
                    products=products.replace("；", message(lang, "about_join")),
                    level=level,
                    name=_LEVEL_NAMES[lang][n],
                )
            )
        else:
            said.append(message(lang, "about_no_risk_level"))
    return "".join(said) if lang == "zh" else " ".join(said)
