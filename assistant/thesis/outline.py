"""A map as a plain-text outline (Markdown): the CLI's output, the audit trail's "as shown", and
the advisor's starting outline. Shown on its own, it ends with the notices and the full
disclosure; pulled into an advisor's draft (``tail=False``) it leaves them to the draft, which
shows them beside the editor and appends them on export."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import date

from ..answer import Citation
from .model import ArgumentMap, Evidence, Point, Step, say


def date_label(published: str | None, lang: str) -> str | None:
    """2025-02 → 2025年2月 / February 2025; None when the article is undated."""
    match = re.match(r"(\d{4})-(\d{1,2})", published or "")
    if not match:
        return None
    year, month = int(match[1]), int(match[2])
    return f"{year}年{month}月" if lang == "zh" else date(year, month, 1).strftime("%B %Y")


def _marks(citations: Iterable[Citation]) -> str:
    return "".join(f"[{n}]" for n in dict.fromkeys(c.n for c in citations))


def _step(k: int, step: Step, m: ArgumentMap) -> list[str]:
    kind = say(m.lang, f"kind_{step.kind}")
    lines = [f"{k}. 【{kind}】{step.claim}{_marks(step.citations)}"]
    shown = {step.claim, *(e.text for e in step.evidence)}  # each said once
    lines.extend(f"   > “{c.quote}”[{c.n}]" for c in step.citations if c.quote not in shown)
    lines.extend(f"   - {e.text}[{e.n}]" for e in step.evidence)
    if step.figures and (when := date_label(m.published, m.lang)):
        figures = "、".join(f.text for f in step.figures)
        lines.append(f"   - {figures}：{say(m.lang, 'as_of', date=when)}")
    return lines


def _point(point: Point) -> str:
    return f"- {point.text}{_marks(point.citations)}"


def render_outline(m: ArgumentMap, *, sources: bool = True, tail: bool = True) -> str:
    when = date_label(m.published, m.lang)
    byline = "，".join(p for p in (m.publisher, when) if p)
    lines = [f"## 《{m.title}》" + (f"（{byline}）" if byline else "")]
    if m.thesis:
        lines += ["", f"**{say(m.lang, 'heading_thesis')}**：{_point(m.thesis)[2:]}"]
    lines += ["", f"### {say(m.lang, 'heading_steps')}"]
    for k, step in enumerate(m.steps, start=1):
        lines += _step(k, step, m)
    lines += ["", f"### {say(m.lang, 'heading_counter')}"]
    lines += [_point(p) for p in m.counterpoints]
    if sources:
        cited: dict[int, Citation] = {}
        for c in m.citations():
            cited.setdefault(c.n, c)
        lines.append("")
        for n, c in sorted(cited.items()):
            where = " · ".join(p for p in (c.publisher, c.published, c.section) if p)
            lines.append(f"[{n}] 《{c.title}》 {where}")
    if tail:
        lines.append("")
        lines += [f"* {notice}" for notice in m.notices]
        lines += ["", m.disclosure]
    return "\n".join(lines).strip() + "\n"


def shifted(m: ArgumentMap, by: int) -> ArgumentMap:
    """The map with every citation number raised by ``by``: its outline can follow a draft
    whose own sources already hold the numbers 1…by."""
    if by == 0:
        return m

    def cites(citations: list[Citation]) -> list[Citation]:
        return [replace(c, n=c.n + by) for c in citations]

    def point(p: Point) -> Point:
        return replace(p, citations=cites(p.citations))

    steps = [
        replace(
            s,
            citations=cites(s.citations),
            evidence=[Evidence(e.text, e.label, e.n + by) for e in s.evidence],
        )
        for s in m.steps
    ]
    return replace(
        m,
        thesis=point(m.thesis) if m.thesis else None,
        steps=steps,
        counterpoints=[point(p) for p in m.counterpoints],
    )
