"""What a question asks: the words that ask rather than name, its answer type, and the words
either side of its wh-word.

A passage that answers a question repeats the question's naming words, not its asking ones
("哪一年", "谁", "名字"), so those are left out when a passage or a sentence is measured
against the question (``evidence``, ``extractive``). A question that asks when, how many or
why is answered by a sentence with a date, a number with its unit or a causal connective;
one that names the kind it asks for ("代码是多少") is answered by a passage holding one of that
kind (a six-digit code), not the word.
And a Chinese question is often its answering sentence with the answer swapped for a wh-word:
the characters next to the wh-word ("藩厅是哪里" → "藩厅是") recur beside the answer. The
patterns are language facts, in ``resources/questions.toml``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal, get_args

from .text import bigrams, to_simplified

_DATA = Path(__file__).parent / "resources" / "questions.toml"
_PUNCTUATION = re.compile(r"[\s\W_]+")
# What a message asks of an article as a whole: its argument, or the sources it cites.
ArticleAsk = Literal["outline", "cited_sources"]


@dataclass(frozen=True)
class AnswerType:
    name: str
    question: tuple[re.Pattern[str], re.Pattern[str]]  # Chinese, English
    sentence: re.Pattern[str]
    names: frozenset[str] = frozenset()  # words naming this kind of answer (代码, code)


@dataclass(frozen=True)
class _Table:
    interrogatives: frozenset[str]
    prefixes: tuple[str, ...]
    wh: re.Pattern[str]
    types: tuple[AnswerType, ...]
    small_talk: tuple[tuple[str, re.Pattern[str]], ...]
    fund_companies: re.Pattern[str]
    about_last_answer: tuple[re.Pattern[str], ...]
    point: re.Pattern[str]
    counterpoints: re.Pattern[str]
    about_article: tuple[tuple[ArticleAsk, re.Pattern[str]], ...]
    counterpoints_asking: re.Pattern[str]
    pasted_min: tuple[int, int]  # characters, sentences


@cache
def _table() -> _Table:
    with _DATA.open("rb") as handle:
        data = tomllib.load(handle)
    types = tuple(
        AnswerType(
            t["name"],
            (re.compile(t["zh"]), re.compile(t["en"], re.IGNORECASE)),
            re.compile(t["sentence"]),
            frozenset(t.get("names", ())),
        )
        for t in data["answer_types"]
    )
    return _Table(
        frozenset(data["interrogatives"]),
        tuple(data["interrogative_prefixes"]),
        re.compile(data["wh"]),
        types,
        tuple((kind, re.compile(pattern)) for kind, pattern in data["small_talk"].items()),
        _companies(data["fund_companies"]),
        tuple(re.compile(p) for p in data["conversation"]["about_last_answer"]),
        re.compile(data["conversation"]["point"], re.IGNORECASE),
        re.compile(data["conversation"]["counterpoints"], re.IGNORECASE),
        tuple(
            (ask, re.compile(_filled(pattern, data["conversation"]["words"])))
            for ask in get_args(ArticleAsk)
            for pattern in data["conversation"][ask]
        ),
        re.compile(data["conversation"]["counterpoints_asking"], re.IGNORECASE),
        (
            int(data["conversation"]["pasted_min_chars"]),
            data["conversation"]["pasted_min_sentences"],
        ),
    )


def _companies(table: dict[str, list[str]]) -> re.Pattern[str]:
    alone = sorted(table["alone"], key=len, reverse=True)  # 兴证全球 before 兴全
    named = "|".join(map(re.escape, alone))
    with_fund = "|".join(map(re.escape, table["with_fund"]))
    return re.compile(f"({named})|({with_fund})(?=基金)")


def asks(token: str) -> bool:
    """Whether a BM25 token asks rather than names (哪一年, 谁, 名字)."""
    table = _table()
    return token in table.interrogatives or token.startswith(table.prefixes)


def answer_type(question: str) -> AnswerType | None:
    """The kind of answer the question asks for (time, quantity, reason), if it says."""
    simplified = to_simplified(question)
    for kind in _table().types:
        if any(pattern.search(simplified) for pattern in kind.question):
            return kind
    return None


def stands_in(question: str) -> tuple[frozenset[str], re.Pattern[str]] | None:
    """The words with which ``question`` names the kind of answer it asks for, and what a text
    holding such an answer matches: "相关的ETF代码是多少" asks for an identifier, and a passage
    with "588930" holds one where it never says 代码. None when it names no kind it asks for."""
    kind = answer_type(question)
    return (kind.names, kind.sentence) if kind is not None and kind.names else None


def beside_wh(question: str, width: int = 4) -> frozenset[str]:
    """Character pairs of the ``width`` characters either side of the question's wh-word."""
    compact = _PUNCTUATION.sub("", to_simplified(question))
    found = _table().wh.search(compact)
    if not found:
        return frozenset()
    left = compact[max(0, found.start() - width) : found.start()]
    right = compact[found.end() : found.end() + width]
    return frozenset(pair for part in (left, right) if len(part) >= 2 for pair in bigrams(part))


def small_talk(message: str) -> str | None:
    """What kind of small talk the whole message is ("greeting", "thanks", "who": ``[small_talk]``
    in ``resources/questions.toml``), as in "你好！", "Thank you :)", "你是谁？"; None otherwise."""
    said = _PUNCTUATION.sub(" ", to_simplified(message).lower()).strip()
    return next((kind for kind, pattern in _table().small_talk if pattern.match(said)), None)


def fund_companies(question: str) -> list[str]:
    """The fund companies a question names ("易方达的人工智能ETF", "南方基金"), in order."""
    found = (m[1] or m[2] for m in _table().fund_companies.finditer(to_simplified(question)))
    return list(dict.fromkeys(found))


@dataclass(frozen=True)
class AboutLastAnswer:
    """A message that asks about the last answer; ``point`` the one of it meant ("第二点": 2)."""

    point: int | None = None


_ORDINALS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_ORDINALS |= {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "十": 10}


def about_last_answer(message: str) -> AboutLastAnswer | None:
    """Whether the whole message asks about the last answer ("总结一下", "刚才第二点再说一遍",
    "summarise that": ``[conversation]`` in ``resources/questions.toml``), and which point."""
    said = _PUNCTUATION.sub(" ", to_simplified(message).lower()).strip()
    table = _table()
    if not any(p.match(said) or p.match(said.replace(" ", "")) for p in table.about_last_answer):
        return None
    found = table.point.search(said)
    if found is None:
        return AboutLastAnswer()
    if found.group("last"):
        return AboutLastAnswer(-1)
    word = found.group("zh") or found.group("en").lower()
    return AboutLastAnswer(int(word) if word.isdigit() else _ORDINALS.get(word))


def asks_counterpoints(question: str) -> bool:
    """Whether the question asks for the case against the article's argument ("有什么反方观点？",
    "What are the counterarguments?")."""
    return bool(_table().counterpoints.search(to_simplified(question)))


def about_the_article(message: str) -> ArticleAsk | None:
    """Whether the whole message asks for the article's argument ("这篇文章讲了什么？",
    "Summarize the article") or the sources it cites ("文章引用了哪些机构的数据？"):
    ``outline`` and ``cited_sources`` in ``resources/questions.toml``."""
    said = _PUNCTUATION.sub(" ", to_simplified(message).lower()).strip()
    for ask, pattern in _table().about_article:
        if pattern.match(said) or pattern.match(said.replace(" ", "")):
            return ask
    return None


def _filled(pattern: str, words: dict[str, str]) -> str:
    """A pattern with its <name> placeholders replaced by the named word groups."""
    return re.sub(r"<(\w+)>", lambda m: words[m.group(1)], pattern)


def counterpoints_subject(question: str) -> str:
    """What a request for the case against names besides asking for it: "DeepSeek" of
    "关于DeepSeek有什么反方观点？", "" of "那么有哪些看空的理由需要注意呢？" (a bare request)."""
    table = _table()
    said = table.counterpoints.sub(" ", to_simplified(question))
    said = table.counterpoints_asking.sub(" ", _PUNCTUATION.sub(" ", said))
    return " ".join(said.split())


def pasted_min() -> tuple[int, int]:
    """The characters and sentences from which a message is a pasted text, not a question."""
    return _table().pasted_min
