"""An advisor's draft as a file: Word (.docx, python-docx) or Markdown, named by topic and date.

Both files hold the same parts in the same order: the title, the advisor's text as edited, the
numbered sources (title, publisher, date, section), the risk disclosure verbatim, the date and
the line "AI-assisted draft · reviewed by: ____". The sources and the disclosure come from the
engine's answer, not from the editable text, so an edit can neither drop nor change them; nor can
it drop the suitability statement a draft opens with (it goes back at the top).
``plain_text`` is what the audit row keeps as "the text as exported".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Literal

from docx import Document

from ...answer import Answer
from ...prompts import Lang
from .render import source_meta
from .strings import draft_text

Format = Literal["docx", "md"]
_TITLE = re.compile(r"[^。．.:：;；,，]{1,12}")  # a short line without sentence punctuation
Kind = Literal["title", "paragraph", "heading", "source", "disclosure", "meta"]


@dataclass(frozen=True)
class Draft:
    topic: str
    body: str  # the advisor's text, as edited
    sources: tuple[str, ...]  # "[n] 《title》 · publisher · date · section"
    disclosure: str
    lang: Lang
    day: date


def opening_statement(answer: Answer) -> str | None:
    """The suitability statement the engine opened the draft with (a client below the product's
    risk level, or not assessed: ``suitability.assess``); None when it had none."""
    first = answer.notices[0] if answer.notices else ""
    return first if first and answer.answer.startswith(first) else None


def make_draft(answer: Answer, topic: str, body: str, lang: Lang, day: date) -> Draft:
    sources = tuple(f"[{c.n}] {source_meta(c, lang)}" for c in answer.citations)
    body = body.strip()
    if (statement := opening_statement(answer)) and statement not in body:
        body = f"{statement}\n\n{body}"  # the client's copy opens with it, whatever the edit
    return Draft(topic.strip(), body, sources, answer.disclosure.strip(), lang, day)


def blocks(draft: Draft) -> list[tuple[Kind, str]]:
    """The document's parts in order, as (kind, text)."""

    def words(key: str, **values: object) -> str:
        return draft_text(draft.lang, key, **values)

    out: list[tuple[Kind, str]] = [("title", draft.topic or words("untitled"))]
    out += [("paragraph", p.strip()) for p in draft.body.split("\n") if p.strip()]
    if draft.sources:
        out += [("heading", words("sources")), *(("source", s) for s in draft.sources)]
    lines = [line.strip() for line in draft.disclosure.split("\n") if line.strip()]
    if lines and _TITLE.fullmatch(lines[0]):
        out += [("heading", lines[0])]  # the disclosure's own title ("风险提示"), kept verbatim
        lines = lines[1:]
    else:
        out += [("heading", words("disclosure"))]
    out += [("disclosure", line) for line in lines]
    out += [("meta", words("date", date=draft.day.isoformat())), ("meta", words("reviewed"))]
    return out


def plain_text(draft: Draft) -> str:
    return "\n".join(text for _, text in blocks(draft))


def _inert(text: str) -> str:
    """Text that a Markdown viewer shows as written: an article's title or a passage holding
    ``<img onerror=…>`` or ``[x](javascript:…)`` must not become markup in the client's file.
    CommonMark shows a backslash-escaped character as itself, so the file reads the same."""
    return text.replace("\\", "\\\\").replace("<", "\\<").replace("](", "]\\(")


def markdown(draft: Draft) -> str:
    lines = []
    for kind, raw in blocks(draft):
        text = _inert(raw)
        if kind == "title":
            lines += [f"# {text}", ""]
        elif kind == "heading":
            lines += ["", f"## {text}", ""]
        elif kind == "source":
            lines += [f"- {text}"]
        else:
            lines += [text, ""]
    return "\n".join(lines).rstrip() + "\n"


def filename(draft: Draft, fmt: Format) -> str:
    """The topic and the date, with characters no file system accepts removed."""
    topic = re.sub(r'[\\/:*?"<>|\x00-\x1f\s]+', "_", draft.topic).strip("._")[:40]
    return f"{topic or draft_text(draft.lang, 'untitled')}_{draft.day.isoformat()}.{fmt}"


def write(draft: Draft, fmt: Format, folder: Path) -> tuple[Path, str]:
    """Write the file into ``folder``; returns its path and the text as exported."""
    path = folder / filename(draft, fmt)
    if fmt == "md":
        text = markdown(draft)
        path.write_text(text, encoding="utf-8")
        return path, text
    document = Document()
    # The template's own properties (author "python-docx", 2013) are not the client's file's.
    written = datetime.combine(draft.day, time(), tzinfo=UTC)
    properties = document.core_properties
    properties.title = draft.topic or draft_text(draft.lang, "untitled")
    properties.author = properties.comments = properties.last_modified_by = ""
    properties.created = properties.modified = written
    for kind, text in blocks(draft):
        if kind == "title":
            document.add_heading(text, level=1)
        elif kind == "heading":
            document.add_heading(text, level=2)
        elif kind == "meta":
            document.add_paragraph().add_run(text).italic = True
        else:
            document.add_paragraph(text)
    document.save(str(path))
    return path, plain_text(draft)
