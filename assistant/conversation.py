"""What a turn asks of the conversation, when it is not a fresh question about the articles.

People do not ask one question at a time, as the engine's first version assumed:

- **A follow-up borrows the last topic that stood alone.** "DeepSeek是什么？" → "它为什么便宜？"
  → "它对算力需求有什么影响？": the third refers to DeepSeek, not to the second question, which
  itself referred back (``topic``). A turn that turns to something new ("那风险呢？") is the
  topic from then on.
- **A request about the last answer** ("总结一下", "刚才第二点再说一遍", "summarise that") is
  answered from that answer's own sources: searching the store for "总结一下" found something
  else (``recap``). The history carries only the answer's text, so its sources are found again
  from it: offline answers quote their sentences verbatim (“…”[n]), and each quote is its own
  passage's sentence.
- **A request for the case against** ("有什么反方观点？") is answered from the counterpoints
  the article itself makes (its bear-case section, the risks its disclosure names), and one
  for the article as a whole ("这篇文章讲了什么？", "文章引用了哪些机构的数据？") from its
  thesis and steps, or its attribution lines, as the argument map draws them
  (``assistant.thesis``). The engine cannot import the map (the map is built on the engine),
  so ``factory`` hands it an ``ArgumentSource``. With several articles, the case against is
  that of the article the request names ("DeepSeek有什么反方观点？"), else the one the
  conversation's last answer cited (``last_cited``), else the newest, and the reader is told so.
- **A question pasted with a whole article** ("<2,000 characters> 这篇文章说得对吗？") is no
  question about our articles, and the pasted text is no source (DOMAIN.md: answers rest on
  the fund's own sources only). It is told so, and answered with what our articles say on
  the same subject, if they say anything (``pasted``). It may be longer than a question
  (``overlong``): the question's limit is for the reader's own words.
- **The model reads its last turns with markers that number what it is given now.** An
  answer's [n] numbered that turn's sources; the next turn's sources are numbered afresh, and a
  model summing up copied the old numbers, citing the wrong passage (``renumbered``).

The words that decide all this are language facts in ``resources/questions.toml``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from .citations import markers_by_sentence
from .prompts import Turn
from .questions import about_last_answer, pasted_min, small_talk
from .store import StoredChunk
from .text import bigrams, has_han, split_sentences

_QUOTED = re.compile(r"^“(?P<text>.+)”(?:\[\d+\])+\s*$", re.MULTILINE)
_MARKER = re.compile(r"\[\d+\]")
_ASKING_LINE = re.compile(r"[?？]\s*$")


# What a sentence is to an article's argument: its thesis, a step of its case, the step that
# sums it up ("整体而言…"), a counterpoint it makes against itself, a risk its disclosure names,
# or a line naming where a chart or figure comes from ("(信息来源:国信证券)").
Role = Literal["thesis", "step", "conclusion", "counterpoint", "risk", "source"]


@dataclass(frozen=True)
class ArgumentPoint:
    """A verbatim sentence of an article, what it is to the article's argument, and the chunk
    that holds it."""

    text: str
    chunk_id: str
    role: Role


# An article's chunks, in reading order → its argument, in order (``factory`` builds it on
# the map).
ArgumentSource = Callable[[Sequence[StoredChunk]], Sequence[ArgumentPoint]]


@dataclass(frozen=True)
class Recap:
    """A request about the last answer: its text (markers aside), the sentences it quoted in
    order, and the one the reader points at ("第二点": 2), if any."""

    answer: str
    quotes: tuple[str, ...]
    point: int | None

    @property
    def chosen(self) -> tuple[str, ...]:
        """The quotes asked about: the one pointed at, or all of them."""
        if self.point == -1 and self.quotes:  # "the last point"
            return self.quotes[-1:]
        if self.point is not None and 0 < self.point <= len(self.quotes):
            return (self.quotes[self.point - 1],)
        return self.quotes


def recap(question: str, history: Sequence[Turn]) -> Recap | None:
    """The last answer, when ``question`` asks about it and it cited something (an answer that
    declined has no sources to go back to: the question is then asked as any other)."""
    asked = about_last_answer(question)
    if asked is None:
        return None
    previous = next((t.content for t in reversed(history) if t.role == "assistant"), "")
    text = _cited(previous)
    if text is None:
        return None
    quotes = tuple(m.group("text") for m in _QUOTED.finditer(previous))
    return Recap(text, quotes, asked.point)


def _cited(answer: str) -> str | None:
    """What an answer says with sources: its lines that carry markers, the markers aside (our
    words around them, a label or a note, are no claim); None when it cited nothing."""
    lines = [line for line in answer.splitlines() if _MARKER.search(line)]
    return _MARKER.sub("", "\n".join(lines)).strip() if lines else None


def last_cited(history: Sequence[Turn]) -> str | None:
    """What the conversation's last answer said with sources (``_cited``), if it cited any."""
    previous = next((t.content for t in reversed(history) if t.role == "assistant"), "")
    return _cited(previous)


# A claim is its passage's when this share of its character pairs is in the passage: a sentence
# quoted or restated, not one that shares a topic.
_HELD = 0.6


def renumbered(answer: str, passages: Sequence[str]) -> str:
    """``answer`` (an earlier turn) with its markers numbering ``passages`` (the sources the
    model is given now, [1] first): each old number becomes that of the passage holding most of
    the sentences it marked, and is dropped when none holds them (module docstring)."""
    claims: dict[int, list[str]] = {}
    for claim, numbers in markers_by_sentence(answer):
        for n in numbers:
            claims.setdefault(n, []).append(claim)
    held = [bigrams(p) for p in passages]
    to: dict[int, str] = {}
    for n, said in claims.items():
        pairs = bigrams("".join(said))
        shares = [len(pairs & h) / (len(pairs) or 1) for h in held]
        best = max(range(len(shares)), key=shares.__getitem__, default=None)
        to[n] = f"[{best + 1}]" if best is not None and shares[best] >= _HELD else ""
    return _MARKER.sub(lambda m: to.get(int(m.group(0)[1:-1]), ""), answer)


@dataclass(frozen=True)
class Pasted:
    """A message holding a pasted text: the text, and what the reader asks about it."""

    text: str
    asked: str


def pasted(question: str) -> Pasted | None:
    """A message that pastes a text and asks about it (its own line or last sentence that asks:
    "这篇文章说得对吗？"); None for a question, however long, that pastes nothing."""
    chars, least = pasted_min()
    if len(question) < chars or len(split_sentences(question)) < least:
        return None
    lines = [line.strip() for line in question.strip().splitlines() if line.strip()]
    # The reader's own words come last (a line, or the last sentence of the last line), else
    # first (a headline that asks is taken for them: the model is then asked it, of our sources).
    sentences = split_sentences(lines[-1]) or [lines[-1]]
    for at, asked in ((len(lines) - 1, lines[-1]), (len(lines) - 1, sentences[-1]), (0, lines[0])):
        if _ASKING_LINE.search(asked) and len(asked) <= 80:  # a question, not a paragraph
            rest = [*lines[:at], lines[at][: len(lines[at]) - len(asked)], *lines[at + 1 :]]
            return Pasted("\n".join(line for line in rest if line.strip()).strip(), asked.strip())
    return Pasted(question.strip(), "")


@dataclass(frozen=True)
class Overlong:
    """A message over its limit: its length, the limit, and whether it pastes a text (whose
    limit is not a question's)."""

    chars: int
    limit: int
    pasted: bool


def overlong(message: str, max_question: int, max_pasted: int) -> Overlong | None:
    """Whether ``message`` (stripped) is too long: a question over ``max_question``, or a
    pasted text over ``max_pasted``. A reader who pastes a 3,000-character article has not
    written a 3,000-character question, and was told to shorten "the question"."""
    chars = len(message)
    if chars <= max_question:
        return None
    paste = pasted(message)
    if paste is None:
        return Overlong(chars, max_question, False)
    return Overlong(chars, max_pasted, True) if chars > max_pasted else None


_REFERRING = re.compile(
    r"(它|它们|这个|那个|这些|那些|这一|该|其|此|上述|前面|刚才|这样|那样|\bit\b|\bthis\b|\bthat\b|"
    r"\bthese\b|\bthose\b|\bthey\b|\bthem\b|\bits\b)",
    re.IGNORECASE,
)
# "What about X?" (那X呢？, X又如何？, and what about X?) turns to X: X is what to look for.
_WHAT_ABOUT = re.compile(
    r"^(?:那么?|还有|另外)?\s*(?P<zh>[^，,。？?！!]{1,12}?)\s*(?:呢|又如何|又怎样|又怎么样)\s*[？?]?$"
    r"|^(?:and |but |so )?(?:what|how) about (?P<en>[^?]{1,60}?)\s*\??$",
    re.IGNORECASE,
)
# ... unless X is itself a question ("为什么呢？", "how about why?"): that asks about the last topic.
_ASKING = re.compile(
    r"为什么|为何|怎么|什么|如何|哪|谁|多少|几|\b(?:why|how|what|which|who|when|where)\b",
    re.IGNORECASE,
)


def _resolved(question: str, topic: str | None) -> tuple[str, str]:
    """The standalone question ``question`` asks after ``topic``, and the topic from then on:
    a follow-up that refers back borrows the topic and keeps it; one that turns to something
    new ("那风险呢？", "What about the risks?") asks about that, as a question that refers to
    nothing does, and either is the topic from then on."""
    question = question.strip()
    if topic is None:
        return question, question
    turned = _WHAT_ABOUT.match(question)
    focus = turned and (turned.group("zh") or turned.group("en"))
    if focus and not _REFERRING.search(focus) and not _ASKING.search(focus):
        return focus, focus
    short = len(question) <= 12 if has_han(question) else len(question.split()) <= 5
    if _REFERRING.search(question) or short:
        return f"{topic} {question}", topic
    return question, question


def topic(history: Sequence[Turn]) -> str | None:
    """The last topic that stood alone in the reader's turns (module docstring): a follow-up
    that referred back, small talk, a request about an answer, or a pasted text leaves it."""
    found: str | None = None
    for turn in history:
        said = turn.content
        if turn.role == "user" and not (
            about_last_answer(said) or pasted(said) or small_talk(said)
        ):
            found = _resolved(said, found)[1]
    return found


def condense_offline(question: str, history: Sequence[Turn]) -> str:
    """A deterministic standalone question: ``question`` after the conversation's last topic
    that stood alone (``topic``)."""
    return _resolved(question, topic(history))[0]
