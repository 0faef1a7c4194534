"""The model's draft of an argument map, held to the rules of an answer.

The model gets the article's chunks as numbered sources, fenced as data, after a fixed system
prompt (``prompts.toml``: ``thesis_system``), and writes one line per step
(``STEP kind: claim[n]``) and per counterpoint (``COUNTER: text[n]``). Each line then goes
through what an answer's sentences go through, and a line that fails is dropped, never shown:

- the ``SentenceGate``: compliance (a blocking finding drops the line), an echo of the system
  prompt, marker normalisation and the repair of a missing marker;
- a line that sells rather than states (the product as "a powerful tool to seize the trend":
  ``extract.sells``) is dropped as a rule's would be: a map is read as the fund's marketing;
- a line left without a source is dropped (a map step must rest on a passage), and so is one
  whose sources state nothing but their sales wording: a quote is a statement (``plain_quote``);
- the figure check: a figure no cited source holds drops the line (in an answer it is only
  flagged, but a map is a summary read at a glance, so a wrong number has no place on it).

Lines without a prefix (a model that ignores the format) are read sentence by sentence as
steps. The kind a step gets is the more cautious of the model's label and the rules'
(``extract.classify``): a claim is never shown as surer than either says it is.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage

from ..citations import split_sentences
from ..compliance import Finding, make_finding
from ..figures import unsupported_figures
from ..gate import SentenceGate
from ..llm import ChatModel
from ..modelcalls import ModelCall
from ..prompts import Lang, fenced_sources, prompt
from ..retrieval import Hit
from ..store import StoredChunk
from .extract import Citer, classify, figure_marks, plain_quote, sells
from .model import KINDS, Kind, Point, Step, say

_LINE = re.compile(
    r"^\s*(?:[-*•]\s*|\d{1,2}[.、)]\s*)?(?P<tag>STEP|COUNTER|步骤|反方)\s*(?P<kind>[A-Za-z]+)?\s*[:：]\s*(?P<text>.+)$",
    re.IGNORECASE,
)
_CAUTION: dict[Kind, int] = {"fact": 0, "figure": 1, "view": 2, "forecast": 3}
Rejection = Literal["rule", "uncited", "figure"]


@dataclass(frozen=True)
class Line:
    tag: Literal["step", "counter"]
    kind: Kind | None
    text: str


@dataclass
class Draft:
    steps: list[Step] = field(default_factory=list)
    counterpoints: list[Point] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # of the lines dropped


def thesis_messages(chunks: Sequence[StoredChunk]) -> list[BaseMessage]:
    """System prompt first (the prefix cache), then the article's chunks as fenced sources."""
    hits = [Hit(chunk, 0.0, 0.0, 0.0) for chunk in chunks]
    system = f"{prompt('thesis_system')}\n\n{fenced_sources(hits)}"
    return [SystemMessage(system), HumanMessage(prompt("thesis_task"))]


def parse_lines(text: str) -> list[Line]:
    lines: list[Line] = []
    for raw in text.splitlines():
        if not raw.strip():
            continue
        match = _LINE.match(raw)
        if match is None:
            lines.extend(Line("step", None, s) for s in split_sentences(raw))
            continue
        tag = match["tag"].upper()
        kind = (match["kind"] or "").lower()
        lines.append(
            Line(
                "counter" if tag in ("COUNTER", "反方") else "step",
                kind if kind in KINDS else None,
                match["text"].strip(),
            )
        )
    return lines


def draft_map(
    chat: ChatModel,
    chunks: Sequence[StoredChunk],
    *,
    lang: Lang,
    deadline: float,
    citer: Citer,
    calls: list[ModelCall] | None = None,
) -> Draft:
    """Ask the model for the map, then keep only the lines that pass every check.

    Raises ``ModelUnavailableError`` when the model fails; the caller falls back to excerpts.
    Each request made is appended to ``calls`` (endpoint, attempts, usage) for the audit row.
    """
    reply = chat.complete(thesis_messages(chunks), deadline=deadline, calls=calls)
    published = chunks[0].meta("published") if chunks else None
    draft = Draft()
    rejected: list[Rejection] = []
    ordinal = {c.chunk_id: int(c.meta("ordinal") or 0) for c in chunks}
    placed: list[tuple[int, Step | Point]] = []
    for line in parse_lines(reply):
        checked = _check(line.text, chunks, citer, published, draft.findings)
        if isinstance(checked, str):
            rejected.append(checked)
            continue
        claim, sources = checked
        quoted = [(c, quote) for c in sources if (quote := plain_quote(claim, citer.standing(c)))]
        if not quoted:
            rejected.append("uncited")
            continue
        citations = [citer.cite(c, quote) for c, quote in quoted]
        at = min(ordinal[c.chunk_id] for c in sources)
        if line.tag == "counter":
            placed.append((at, Point(claim, citations)))
            continue
        rules = classify(claim, " ".join(c.quote for c in citations))
        kind = max(line.kind or rules, rules, key=lambda k: _CAUTION[k])
        step = Step(
            claim=claim,
            kind=kind,
            citations=citations,
            section=sources[0].meta("section"),
            figures=figure_marks([claim, *(c.quote for c in citations)], published),
            ask=say(lang, "ask", claim=claim),
        )
        placed.append((at, step))
    # The article's order, whatever order the model wrote in (stable for equal places).
    for _, item in sorted(placed, key=lambda pair: pair[0]):
        if isinstance(item, Step):
            draft.steps.append(item)
        else:
            draft.counterpoints.append(item)
    keys = {"rule": "dropped_rule", "uncited": "dropped_uncited"}
    for reason in dict.fromkeys(rejected):
        if reason != "figure":
            draft.notices.append(say(lang, keys[reason]))
    figures = [f.text for f in draft.findings if f.rule == "FIGURE-001"]
    if figures:
        draft.notices.append(say(lang, "dropped_figure", figures="、".join(figures)))
    return draft


def _check(
    text: str,
    chunks: Sequence[StoredChunk],
    citer: Citer,
    published: str | None,
    findings: list[Finding],
) -> tuple[str, list[StoredChunk]] | Rejection:
    """The line's claim (markers removed) and the chunks it cites, or why it was dropped."""
    gate = SentenceGate(
        [c.text for c in chunks], secrets=[prompt("system"), prompt("thesis_system")]
    )
    gate.feed(text)
    gate.close()
    if gate.removed:
        findings.extend(gate.findings)
        return "rule"
    numbers = [gate.mapping[k] for k in sorted(gate.mapping)]
    claim = re.sub(r"\s*\[\d+\]", "", gate.text).strip()
    if not numbers or not claim:
        return "uncited"
    if sells(claim):
        return "rule"
    sources = [chunks[n - 1] for n in numbers]
    standing = [citer.standing(c) for c in sources]
    unsupported = unsupported_figures(claim, standing, extra=[published or ""])
    if unsupported:
        findings.extend(make_finding("FIGURE-001", claim, f.start, f.end) for f in unsupported)
        return "figure"
    return claim, sources
