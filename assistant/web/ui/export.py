"""An advisor's draft as a file: Word (.docx, python-docx) or Markdown.

Both files hold the same parts in the same order: the title, the advisor's text as edited, the
notes the client must read, the numbered sources (title, publisher, date, section), the risk
disclosure verbatim, the date and the line "AI-assisted draft · reviewed by: ____". The notes,
the sources and the disclosure come from the engine's answer, not from the editable text, so an
edit can neither drop nor change them; nor can it drop the suitability statement a draft opens
with (it goes back at the top). ``plain_text`` is what the audit row keeps as "the text as
exported".

The notes are the answer's notices meant for the client: how old the sources are (a 2025 view is
not today's), and the suitability result where the client's level matches the product's (a
mismatch, or an unassessed client, already opens the draft). A suitability notice is the
advisor's, about the client ("客户的风险承受等级…"): the draft opens with it, and the file carries
it, in the words the client reads ("您的风险承受等级…", ``client_wording``). The notices addressed to the
advisor stay on the advisor's screen: offline mode, a masked passage, the （未核实） marks, and
"the sources state no risk level: check the product's legal documents", which asks the advisor
to do something before the draft is sent.

The excerpts a draft made without a model quote (offline, or the model failed) open with a
label for the advisor: "以下为2025年2月文章的原文摘录（离线模式，未经模型改写）：", after "现有资料
可能没有直接回答这个问题…请核对是否对应您的问题" where retrieval doubts they answer the topic. A
client has no use for "offline mode, not rewritten by a model", and the check is the advisor's to
make: the draft the advisor edits says where the excerpts come from instead, without the doubt
(``for_the_client``; the desk tells the advisor), so the advisor reviews the words the client reads.

The file's name and title carry nothing of the client's: the topic an advisor types ("客户65岁，
退休金50万，要不要…") travels with a file name through mail, download folders and logs. They name
the subject (the product the sources name, else the first source's title), the client's risk
level (so a C1 client's copy is not sent to a C5 client) and the date.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Literal, get_args

from docx import Document

from ...answer import Answer
from ...prompts import ClientLevel, Lang, message
from ...store import StoredChunk
from ...suitability import product_risk
from ...text import is_chinese, traditional_in_place
from .render import source_meta
from .strings import draft_text

Format = Literal["docx", "md"]
_TITLE = re.compile(r"[^。．.:：;；,，]{1,12}")  # a short line without sentence punctuation
Kind = Literal["title", "paragraph", "heading", "note", "source", "disclosure", "meta"]


@dataclass(frozen=True)
class Draft:
    subject: str  # the product or the source's title: never the client's words
    level: ClientLevel | None  # the client's risk level the draft was written for
    body: str  # the advisor's text, as edited
    notes: tuple[str, ...]  # what the client must read beside the text (``client_notes``)
    sources: tuple[str, ...]  # "[n] 《title》 · publisher · date · section"
    disclosure: str
    lang: Lang
    day: date


def opening_statement(answer: Answer) -> str | None:
    """The advisor's suitability statement the engine opened the draft with, in the client's
    words (a client below the product's risk level, or not assessed: ``suitability.assess``);
    None when it had none."""
    first = answer.notices[0] if answer.notices else ""
    said = client_wording(first)
    return first if said and answer.answer.startswith(said) else None


def opening_for_the_client(answer: Answer) -> str | None:
    """The suitability statement the draft opened with, as the client reads it."""
    statement = opening_statement(answer)
    return client_wording(statement) if statement else None


def _shaped(key: str, *names: str) -> list[re.Pattern[str]]:
    """The message ``key`` with any values in its placeholders (each a group), in either
    language and script (a notice is in the reader's: an outline's follows the page's language,
    ``maps.notices_in``)."""
    return [shape for _, _, shape in _shapes(key, *names)]


def _shapes(key: str, *names: str) -> list[tuple[Lang, bool, re.Pattern[str]]]:
    """``_shaped``, each with its language and whether it is in traditional characters."""
    shapes = []
    for lang in get_args(Lang):
        said = message(lang, key, **dict.fromkeys(names, "\x00"))
        for text in dict.fromkeys([said, traditional_in_place(said)]):
            parts = text.split("\x00")
            shape = re.compile("(.+?)".join(re.escape(part) for part in parts))
            shapes.append((lang, text != said, shape))
    return shapes


_FOR_THE_CLIENT = [
    *_shaped("source_date", "date", "age"),
    *_shaped("suitability_match", "client", "product", "level"),
]

# The advisor's suitability statements (``suitability.assess``), each with the keys of its
# client's wording and the values they share.
_SUITABILITY = [
    (("suitability_mismatch",), ("suitability_mismatch_client",), ("client", "product", "level")),
    (("suitability_match",), ("suitability_match_client",), ("client", "product", "level")),
    (("suitability_unknown",), ("suitability_unknown_client",), ()),
    (
        ("suitability_unknown", "suitability_product_level"),
        ("suitability_unknown_client", "suitability_product_level"),
        ("product", "level"),
    ),
]


def _wordings() -> list[tuple[re.Pattern[str], Lang, bool, tuple[str, ...]]]:
    """Each advisor's statement as a pattern (its values named groups), in either language and
    script, with its language, script and client's keys."""
    out = []
    for advisor, client, names in _SUITABILITY:
        for lang in get_args(Lang):
            values = {name: f"\x00{name}\x00" for name in names}
            said = "".join(message(lang, key, **values) for key in advisor)
            for text in dict.fromkeys([said, traditional_in_place(said)]):
                parts = text.split("\x00")  # literal, name, literal, name, …, literal
                shape = "".join(
                    f"(?P<{part}>.+?)" if i % 2 else re.escape(part) for i, part in enumerate(parts)
                )
                out.append((re.compile(shape), lang, text != said, client))
    return out


_WORDINGS = _wordings()


def client_wording(statement: str) -> str | None:
    """The advisor's suitability ``statement`` as the client reads it, in its language and
    script (``suitability``); None when it is no statement the client reads."""
    for shape, lang, traditional, keys in _WORDINGS:
        if found := shape.fullmatch(statement):
            said = "".join(message(lang, key, **found.groupdict()) for key in keys)
            return traditional_in_place(said) if traditional else said
    return None


_LABELS = [*_shapes("offline_label", "date"), *_shapes("fallback_label", "date")]
_UNSURE = _shaped("unsure")


def for_the_client(text: str) -> tuple[str, bool]:
    """``text`` with the excerpts' label said to the client (module docstring), in its language
    and script: where the excerpts come from, not how the app made them; and without the doubt
    that they answer the topic, which is returned (True: it was there) for the advisor."""
    lines = text.split("\n")
    unsure = any(shape.fullmatch(line.strip()) for line in lines for shape in _UNSURE)
    lines = [line for line in lines if not any(s.fullmatch(line.strip()) for s in _UNSURE)]
    for i, line in enumerate(lines):
        for lang, traditional, shape in _LABELS:
            if found := shape.fullmatch(line.strip()):
                said = draft_text(lang, "excerpts", date=found.group(1))
                lines[i] = traditional_in_place(said) if traditional else said
                break
    return "\n".join(lines), unsure


def client_notes(answer: Answer) -> tuple[str, ...]:
    """The answer's notices the client must read: the sources' age, and a matching suitability
    result (module docstring)."""
    notes = [n for n in answer.notices if any(s.fullmatch(n) for s in _FOR_THE_CLIENT)]
    return tuple(client_wording(n) or n for n in notes)


def subject(chunks: Sequence[StoredChunk], answer: Answer) -> str:
    """What the file is about: the product the cited passages name (the highest rated first),
    else the first source's title; "" when it cites nothing."""
    rated = product_risk(chunks)
    named = [rated[1]] if rated and rated[1] else []
    named += [p for chunk in chunks if (p := chunk.meta("products"))]
    named += [c.title for c in answer.citations]
    return named[0].strip() if named else ""


def make_draft(
    answer: Answer, about: str, body: str, lang: Lang, day: date, level: ClientLevel | None = None
) -> Draft:
    """The client's document: ``about`` is its subject (``subject``), ``level`` the client's."""
    sources = tuple(f"[{c.n}] {source_meta(c, lang)}" for c in answer.citations)
    body = body.strip()
    if (statement := opening_for_the_client(answer)) and statement not in body:
        body = f"{statement}\n\n{body}"  # the client's copy opens with it, whatever the edit
    notes = tuple(n for n in client_notes(answer) if n not in body)
    return Draft(about.strip(), level, body, notes, sources, answer.disclosure.strip(), lang, day)


def title(draft: Draft) -> str:
    if not draft.subject:
        return draft_text(draft.lang, "untitled")
    return draft_text(draft.lang, "title", subject=draft.subject)


def blocks(draft: Draft) -> list[tuple[Kind, str]]:
    """The document's parts in order, as (kind, text)."""

    def words(key: str, **values: object) -> str:
        return draft_text(draft.lang, key, **values)

    out: list[tuple[Kind, str]] = [("title", title(draft))]
    out += [("paragraph", p.strip()) for p in draft.body.split("\n") if p.strip()]
    if draft.notes:
        out += [("heading", words("notes")), *(("note", n) for n in draft.notes)]
    if draft.sources:
        out += [("heading", words("sources")), *(("source", s) for s in draft.sources)]
    lines = [line.strip() for line in draft.disclosure.split("\n") if line.strip()]
    # A disclosure in another language than the draft's is kept verbatim under a heading that
    # says so ("Risk disclosure (in the original Chinese)"), its own title among its lines.
    foreign = is_chinese(draft.disclosure) != (draft.lang == "zh")
    if lines and _TITLE.fullmatch(lines[0]) and not foreign:
        out += [("heading", lines[0])]  # the disclosure's own title ("风险提示"), kept verbatim
        lines = lines[1:]
    else:
        out += [("heading", words("disclosure_original" if foreign else "disclosure"))]
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
    """The subject, the client's level and the date, with characters no file system accepts
    removed: "科创板人工智能ETF_588930_C1_2026-12-02.docx"."""
    about = re.sub(r'[\\/:*?"<>|\x00-\x1f\s]+', "_", draft.subject).strip("._")[:40]
    level = draft_text(draft.lang, "unassessed") if draft.level == "unknown" else draft.level
    parts = [about or draft_text(draft.lang, "untitled"), level, draft.day.isoformat()]
    return "_".join(p for p in parts if p) + f".{fmt}"


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
    properties.title = title(draft)
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
