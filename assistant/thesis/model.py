"""The argument map's records: typed inside, one ``to_dict`` / ``from_dict`` at the boundary.

A map is built once per article version and kept (see ``service``); what depends on the day
it is shown (the article's age, the notices that state it) and the disclosure in force are
attached when it is shown, so a kept map never carries a stale age or a missing disclosure.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from ..answer import AnswerMode, Citation
from ..prompts import Lang

Kind = Literal["fact", "figure", "view", "forecast"]
KINDS: tuple[Kind, ...] = ("fact", "figure", "view", "forecast")

_DATA = Path(__file__).parent.parent / "resources" / "thesis.toml"


@cache
def _table() -> dict[str, Any]:
    with _DATA.open("rb") as handle:
        return tomllib.load(handle)


def markers(group: str, name: str) -> tuple[str, ...]:
    """A marker list of ``resources/thesis.toml`` (``[markers]`` or ``[kinds]``), lower-cased."""
    return tuple(str(word).lower() for word in _table()[group][name])


def setting(name: str) -> int:
    return int(_table()["markers"][name])


def say(lang: Lang, key: str, **values: object) -> str:
    """What the map says in its own voice, in the map's language."""
    return str(_table()[lang][key]).format(**values)


@dataclass(frozen=True)
class Evidence:
    """A line of the source that backs a step: a figure, a chart caption with its attribution,
    or the product the article names. Verbatim; ``n`` is its citation in the map."""

    text: str
    label: Literal["figure", "chart", "product"]
    n: int


@dataclass(frozen=True)
class FigureMark:
    text: str  # the figure as written (600万美元, 6.8%)
    as_of: str | None  # the article's date: reported then (the period it covers is the text's)


@dataclass(frozen=True)
class Step:
    claim: str  # plain words, no markers; verbatim from the article in an extractive map
    kind: Kind
    citations: list[Citation]  # each with the sentence that supports the claim as its quote
    section: str | None = None
    evidence: list[Evidence] = field(default_factory=list)
    figures: list[FigureMark] = field(default_factory=list)
    ask: str = ""  # the question "ask about this step" starts a chat turn with


@dataclass(frozen=True)
class Point:
    """A claim that is not a step: the article's thesis, or a counterpoint."""

    text: str
    citations: list[Citation]
    source: Literal["article", "disclosure"] = "article"


@dataclass
class ArgumentMap:
    path: str
    title: str
    publisher: str | None
    published: str | None
    version: str  # the article's content hash: the map is rebuilt when it changes
    lang: Lang
    thesis: Point | None
    steps: list[Step]
    counterpoints: list[Point]
    mode: AnswerMode
    model: str | None
    notices: list[str] = field(default_factory=list)
    findings: list[dict[str, str | int]] = field(default_factory=list)
    disclosure_id: str | None = None  # which stored disclosure applies (attached when shown)
    builder: str = ""  # the rules and prompt that built it (see ``service.BUILDER``)
    built_at: str = ""
    turn_id: str = ""  # the audit row of the build
    # Attached when shown, never kept: see the module docstring.
    disclosure: str = ""
    age_months: int | None = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def citations(self) -> list[Citation]:
        """Every citation on the map, in the order shown (thesis, steps, counterpoints)."""
        found = list(self.thesis.citations) if self.thesis else []
        for step in self.steps:
            found.extend(step.citations)
        for point in self.counterpoints:
            found.extend(point.citations)
        return found

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ArgumentMap:
        def point(item: dict[str, Any]) -> Point:
            return Point(item["text"], _citations(item["citations"]), item["source"])

        steps = [
            Step(
                claim=s["claim"],
                kind=s["kind"],
                citations=_citations(s["citations"]),
                section=s["section"],
                evidence=[Evidence(**e) for e in s["evidence"]],
                figures=[FigureMark(**f) for f in s["figures"]],
                ask=s["ask"],
            )
            for s in raw["steps"]
        ]
        values = {k: v for k, v in raw.items() if k not in ("thesis", "steps", "counterpoints")}
        return cls(
            **values,
            thesis=point(raw["thesis"]) if raw["thesis"] else None,
            steps=steps,
            counterpoints=[point(c) for c in raw["counterpoints"]],
        )


def _citations(raw: list[dict[str, Any]]) -> list[Citation]:
    return [Citation(**c) for c in raw]
