"""Prompt building and the assistant's own words, both read from data files beside this module.

Order matters for DeepSeek's prefix cache: the fixed system instructions come first and never
change; the numbered sources follow them in the same system message (one system message suits
every OpenAI-compatible server); the conversation comes last. Source text is fenced as data.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from .citations import without_marks

if TYPE_CHECKING:  # a type only: no store behind the text work
    from .retrieval import Hit

_DATA = Path(__file__).parent / "resources"
Lang = Literal["zh", "en"]
Mode = Literal["investor", "advisor"]
ClientLevel = Literal["C1", "C2", "C3", "C4", "C5", "unknown"]
Tone = Literal["plain", "formal"]
Length = Literal["short", "medium", "long"]


@dataclass(frozen=True)
class Turn:
    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True)
class DraftOptions:
    """How an advisor wants a draft for a client: the client's risk level, tone, length, language.

    ``language`` None means the language of the question. Investor answers take no options.
    """

    client_level: ClientLevel = "unknown"
    tone: Tone = "plain"
    length: Length = "medium"
    language: Lang | None = None

    @property
    def excerpts(self) -> int:
        """How many source sentences an offline draft quotes (its length without a model)."""
        return {"short": 2, "medium": 3, "long": 5}[self.length]


@cache
def _toml(name: str) -> dict[str, object]:
    with (_DATA / name).open("rb") as handle:
        return tomllib.load(handle)


def prompt(key: str) -> str:
    return str(_toml("prompts.toml")[key])


def message(lang: Lang, key: str, **values: object) -> str:
    table = _toml("messages.toml")[lang]
    assert isinstance(table, dict)
    return str(table[key]).format(**values)


def age_text(months: int, lang: Lang) -> str:
    """How long ago, as a person writes it: "1 year 10 months", "2 years", "3个月"."""
    years, months = divmod(months, 12)
    parts = [
        message(lang, unit if n == 1 else f"{unit}s", n=n)
        for unit, n in (("age_year", years), ("age_month", months))
        if n or (unit == "age_month" and not years)
    ]
    return message(lang, "age_join").join(parts)


def format_source(n: int, hit: Hit) -> str:
    meta = hit.chunk
    where = "，".join(
        part
        for part in (
            f"《{meta.title}》" if meta.title else None,
            meta.meta("publisher"),
            meta.meta("published"),
            meta.meta("section"),
            f"第{meta.meta('page')}页" if meta.meta("page") else None,
        )
        if part
    )
    # The source's own footnote marks ([4], 【1】) would read as our markers, and the model copies
    # them: it sees the text without them.
    body = re.sub(r"\s*\n\s*", " ", without_marks(hit.chunk.text).strip())
    return f"[{n}] {body}\n（出处：{where}）"


def fenced_sources(hits: Sequence[Hit]) -> str:
    """The numbered sources under their header, fenced so the model reads them as data."""
    sources = "\n\n".join(format_source(n, hit) for n, hit in enumerate(hits, start=1))
    return f"{prompt('sources_header')}\n<<<资料开始>>>\n{sources}\n<<<资料结束>>>"


def _choice(table: str, key: str) -> str:
    section = _toml("prompts.toml")[table]
    assert isinstance(section, dict)
    return str(section[key])


def advisor_task(draft: DraftOptions, lang: Lang) -> str:
    """The advisor's writing task, with the tone, length and language they chose."""
    return prompt("advisor_task").format(
        tone=_choice("advisor_tone", draft.tone),
        length=_choice("advisor_length", draft.length),
        language=_choice("advisor_language", draft.language or lang),
    )


def build_messages(
    question: str,
    history: Sequence[Turn],
    hits: Sequence[Hit],
    mode: Mode,
    *,
    draft: DraftOptions | None = None,
    lang: Lang = "zh",
    unsure: bool = False,
    focus: tuple[str, Sequence[str]] | None = None,
) -> list[BaseMessage]:
    """The request: the fixed system prompt, the sources, the task. ``unsure``: retrieval
    doubts the sources answer the question (``retrieval.Verdict.sure``), and the task says so;
    ``focus``: the reader asks for a part of the article's argument (its counterpoints, its
    argument, the sources it cites): the task in ``prompts.toml`` that says so, and the
    article's own sentences that are that part."""
    if mode == "advisor":
        task = advisor_task(draft or DraftOptions(), lang)
    else:
        task = prompt("investor_task")
    if unsure:
        task = f"{prompt('unsure_task')}\n{task}"
    if focus:
        name, sentences = focus
        points = "\n".join(f"- {sentence}" for sentence in sentences)
        task = f"{task}\n{prompt(name).format(points=points)}"
    system = f"{prompt('system')}\n\n{fenced_sources(hits)}\n\n{task}"
    messages: list[BaseMessage] = [SystemMessage(system)]
    for turn in history:
        messages.append(
            HumanMessage(turn.content) if turn.role == "user" else AIMessage(turn.content)
        )
    messages.append(HumanMessage(question))
    return messages


# The system prompt's rule 2: a question the sources do not cover, the model says so. Said
# without a source number, such an answer is the model declining, not an uncited claim.
_DECLINES = re.compile(
    r"(?:资料|文章|来源|材料|内容)[^。！？!?\n]{0,16}(?:未|没有|并未|不)(?:涉及|提及|提到|包含|覆盖|说明|回答)"
    r"|无法(?:根据|从|依据)[^。！？!?\n]{0,8}(?:资料|文章)"
    r"|\b(?:sources?|documents?|articles?|materials?|passages?)\b[^.!?\n]{0,40}"
    r"\b(?:do not|does not|don't|doesn't|did not|never)\b[^.!?\n]{0,24}"
    r"\b(?:cover|mention|address|contain|discuss|say|answer)"
    r"|\bnot (?:covered|mentioned|addressed|discussed) (?:in|by) the (?:sources?|documents?|articles?)",
    re.IGNORECASE,
)


def declines(answer: str) -> bool:
    """Whether a model's answer says the sources do not cover the question (rule 2)."""
    return bool(_DECLINES.search(answer))


def condense_messages(question: str, history: Sequence[Turn]) -> list[BaseMessage]:
    transcript = "\n".join(
        f"{'用户' if t.role == 'user' else '助手'}: {t.content[:500]}" for t in history[-6:]
    )
    return [
        SystemMessage(prompt("condense")),
        HumanMessage(f"对话：\n{transcript}\n用户最后的问题: {question}"),
    ]


def parse_condensed(text: str) -> tuple[str, str] | None:
    """The (standalone question, Chinese version) a condense reply gives, or None if malformed."""
    standalone = re.search(r"^\s*Q\s*[:：]\s*(.+)$", text, re.MULTILINE)
    chinese = re.search(r"^\s*ZH\s*[:：]\s*(.+)$", text, re.MULTILINE)
    if not standalone:
        return None
    q = standalone.group(1).strip()
    return q, (chinese.group(1).strip() if chinese else q)
